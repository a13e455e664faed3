import sys

from sms_gateway.cli import main

sys.exit(main())
