"""The bounds and id patterns the config file, the API and the use cases share, defined once."""

from __future__ import annotations

RECALL_LIMIT = (0, 10)  # recalls allowed before a no-show
REJOIN_MINUTES = (0, 480)  # time a missed citizen has to rejoin
NOTIFY_AHEAD = (0, 50)  # the SMS "N ahead" notice
BOOST_MINUTES = (0, 480)  # a priority class's boost
OFFSET_MINUTES = (0, 480)  # a window's offset for a service it helps with

ID = r"^[A-Za-z0-9_-]{1,32}$"  # halls, windows, classes
SERVICE_ID = r"^[A-Z]$"  # a service is its number prefix
NUMBER = r"^[A-Z]{1,2}[0-9]{2,9}$"  # a ticket number as printed: prefix and daily sequence
PREFIX = r"^[A-Z]{1,2}$"  # a service's number prefix (default: its id)
WIDTH = (2, 6)  # digits of a ticket number's daily sequence
MAX_STEPS = 5  # services on a ticket of several steps (一票到底)
