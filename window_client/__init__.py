"""The window's caller panel, its command line and the citizen-facing rating pad."""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # pygame's banner is noise on stdout
