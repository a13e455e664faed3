"""Hall screens: the TV board, the window LED strip and the call voice, fed only by MQTT."""

import os

# pygame prints a banner on import unless told not to; screens log in one-line records.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
