"""A bare aiohttp app answering the issue route with a small JSON: the ceiling that aiohttp
itself sets on this machine, to put the server's figure in proportion.

    python -m bench.bare PORT
"""

from __future__ import annotations

import sys

from aiohttp import web


async def issue(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response({"number": f"{body['service']}001", "ahead": 0}, status=201)


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def main() -> None:
    app = web.Application()
    app.router.add_post("/api/v1/halls/{hall}/tickets", issue)
    app.router.add_get("/healthz", healthz)
    # Same run_app options as queue-server (no access log), so only the work differs.
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
