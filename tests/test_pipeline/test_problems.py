"""Errors aiohttp answers itself, and crashes, reach clients as RFC 9457 problem details."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from stream.pipeline.web import PROBLEM_JSON, problems


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("a bug")


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"fine": True})


async def test_unknown_paths_wrong_methods_and_crashes_are_problem_details() -> None:
    app = web.Application(middlewares=[problems])
    app.router.add_get("/ok", ok)
    app.router.add_get("/boom", boom)
    async with TestClient(TestServer(app)) as client:
        fine = await client.get("/ok")
        assert fine.status == 200 and (await fine.json()) == {"fine": True}
        for method, path, status in (("GET", "/nowhere", 404), ("POST", "/ok", 405), ("GET", "/boom", 500)):
            r = await client.request(method, path)
            assert r.status == status and r.content_type == PROBLEM_JSON, (path, r.status)
            body = await r.json(content_type=None)
            assert body["status"] == status and body["type"] == "about:blank" and path in body["detail"]
        r = await client.post("/ok")
        assert "GET" in r.headers["Allow"]  # a 405 still says what the path takes
