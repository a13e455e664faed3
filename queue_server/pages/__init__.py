"""Citizen web pages served by the queue server: the public hall page, the kiosk, the
printed ticket, the live ticket status page, the phone site (take a ticket, rate) and the
service guides (Jinja2 templates, static files, SSE)."""

from aiohttp import web

from queue_server.pages import guides, phone, site


def setup(app: web.Application, lang: str = "zh") -> None:
    """Add every page to the app (after the app's own lifecycle is registered: the feeds
    read the halls it creates)."""
    site.setup(app, lang)
    phone.setup(app)
    guides.setup(app)


__all__ = ["setup"]
