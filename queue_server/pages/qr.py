"""The QR code on a printed ticket, drawn server-side as inline SVG (no script, no CDN)."""

from __future__ import annotations

import segno


def svg(url: str, scale: int = 3) -> str:
    """An <svg> element for `url`, black on white, with the standard quiet zone."""
    code = segno.make(url, error="m", micro=False)
    text: str = code.svg_inline(scale=scale, dark="#000", light="#fff", omitsize=False)
    return text
