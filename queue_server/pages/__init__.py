"""Citizen web pages served by the queue server: the public hall page, the kiosk, the
printed ticket and the live ticket status page (Jinja2 templates, static files, SSE)."""

from queue_server.pages.site import setup

__all__ = ["setup"]
