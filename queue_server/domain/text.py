"""Free text from people (pause reasons, hall notices, names in hall files), made safe to show.

Screens, panels, logs and the retained board show these texts as they are, so they must not
carry what a terminal, a renderer or a reader would take for something else: control
characters (NUL, BEL, escape sequences), bidi controls that reorder what follows (U+202E
"right-to-left override", U+2066-2069 isolates, U+200E/F marks), other invisible format
characters, and lone surrogates (which cannot be encoded at all). Line breaks and tabs become
spaces and runs of spaces one space: every free text here is shown on one line.

HTML is not escaped here: a page escapes text when it renders it, where it knows the context.
"""

from __future__ import annotations

import re
import unicodedata

DROP = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
"""Unicode categories removed: control, format (bidi, zero-width), surrogate, private use,
unassigned."""
BREAKS = frozenset("\t\n\r\v\f\x85\u2028\u2029")
"""Line breaks and tabs: kept as a space, since they separate words."""
_SPACES = re.compile(r"\s+")


def _keep(ch: str) -> str:
    if ch in BREAKS:
        return " "
    return "" if unicodedata.category(ch) in DROP else ch


def clean_text(text: str) -> str:
    """The text without control, format and bidi characters, on one line, trimmed."""
    return _SPACES.sub(" ", "".join(map(_keep, text))).strip()


def clean_or_keep(value: object) -> object:
    """For a pydantic `BeforeValidator`: clean strings, leave other types to the field's check."""
    return clean_text(value) if isinstance(value, str) else value
