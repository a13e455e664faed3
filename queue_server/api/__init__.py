"""The HTTP API (aiohttp): routes, models, handlers, OpenAPI."""
