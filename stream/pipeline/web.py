"""The HTTP API of every worker (docs/contract.md): scores, explanations, history, the leaderboard,
erasure, health, metrics, and the dashboard with its live feed.

A request about one user is answered by the worker that owns the user's partition (Faust's
assignment of the users table says which; `Owners` forwards it there); the leaderboard asks every
worker for its own top N and merges.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from importlib import resources
from typing import Any

import aiohttp
import faust
import yarl
from aiohttp import web as aioweb
from faust.web import Request, Response, View
from prometheus_client import generate_latest

from stream.codec import dumps
from stream.core import board, model
from stream.core.decay import shrink
from stream.core.params import DAY_MS
from stream.core.state import UserState
from stream.events.validate import SCHEMAS
from stream.pipeline.feed import ScoreFeed
from stream.pipeline.observe import Readiness
from stream.pipeline.runtime import Runtime
from stream.pipeline.score import update_message, with_activity
from stream.pipeline.sweep import resume_clock
from stream.pipeline.topology import owned_partitions, partition_of, reader

#: The Prometheus text format (prometheus_client's CONTENT_TYPE_LATEST without "; charset").
PROMETHEUS_TEXT = "text/plain; version=0.0.4"
#: How long DELETE waits for the erasure to be applied before answering 202 instead of 200.
ERASE_WAIT_SECONDS = 10.0
#: How long the leaderboard waits for another worker's part.
PEER_TIMEOUT_SECONDS = 5.0
#: Server-sent events: a comment line this often keeps proxies from closing an idle stream.
KEEPALIVE_SECONDS = 15.0
#: How long a new live-feed connection waits for the feed to start following `scores`.
FEED_START_SECONDS = 15.0


def current(rt: Runtime, user_id: str) -> tuple[UserState, model.Score, int] | None:
    """The user's state, their score at the stream time of their partition, and that time."""
    state = rt.topology.users.get(user_id)
    if state is None:
        return None
    resume_clock(rt)
    state = with_activity(state, rt)
    now = rt.now_of(user_id)
    return state, model.score(state, now, rt.params), now


def score_view(rt: Runtime, user_id: str) -> dict[str, Any] | None:
    """GET /users/{id}: the score update the user would get now."""
    now_scored = current(rt, user_id)
    if now_scored is None:
        return None
    state, result, now = now_scored
    return update_message(state, result, "event", now, rt.wall_ms())


def explain(rt: Runtime, user_id: str) -> dict[str, Any] | None:
    now_scored = current(rt, user_id)
    if now_scored is None:
        return None
    state, result, now = now_scored
    k = shrink(result.at, state.landmark, rt.params.half_life_ms)
    top = heapq.nlargest(10, state.engagers.items(), key=lambda kv: kv[1].weight)
    return {
        **update_message(state, result, "event", now, rt.wall_ms()),
        "top_engagers": [
            {
                "user_id": e,
                "contribution": round(s.weight * k, 3),
                "interactions": round(s.times * k, 3),
            }
            for e, s in top
        ],
        "top_content": [
            {"content_id": c, "contribution": round(v * k, 3)}
            for c, v in heapq.nlargest(5, state.contents.items(), key=lambda kv: kv[1])
        ],
        "reasons": [{"ts": r.ts, "delta": r.delta, "text": r.text} for r in reversed(state.reasons)],
        "discounts": state.discounts,
        "discount_notes": model.discount_notes(state.discounts),
        "events_applied": state.events,
        "last_active": state.last_active,
    }


def history(rt: Runtime, user_id: str) -> dict[str, Any] | None:
    """Daily points (the score as each stream-time day closed, or now for today)."""
    state = rt.topology.users.get(user_id)
    if state is None:
        return None
    resume_clock(rt)
    now = rt.now_of(user_id)
    return {
        "user_id": user_id,
        "points": [{"day": _day(day), "ts": day * DAY_MS, "score": s} for day, s in state.history],
        "trend": model.trend(state, now),
        "event_ts": now,
    }


def _day(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * DAY_MS // 1000))


log = logging.getLogger(__name__)

#: The JSON Schemas the OpenAPI document references, served as they are in schemas/ (the folder
#: validation reads them from).
SCHEMA_FILES = frozenset(
    {"score.schema.json", "problem.schema.json", "interaction.schema.json", "dlq.schema.json"}
)

#: RFC 9457: the media type of a problem details body.
PROBLEM_JSON = "application/problem+json"


def problem(status: int, detail: str) -> dict[str, Any]:
    """An RFC 9457 problem details object: `type` says which kind of problem (the HTTP status
    is the whole story here, so "about:blank" with the status's phrase as its title, as the RFC
    recommends), `detail` what went wrong with this request."""
    return {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}


@aioweb.middleware
async def problems(request: aioweb.Request, handler: Any) -> aioweb.StreamResponse:
    """The answers aiohttp makes itself (404 for an unknown path, 405 for a method a path does
    not take) and any unhandled exception, as problem details too."""
    try:
        return await handler(request)
    except aioweb.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = f"{request.method} {request.path}: {exc.reason}"
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return problem_response(exc.status, detail, headers)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return problem_response(500, f"{request.method} {request.path} failed; the worker logged why")


def problem_response(status: int, detail: str, headers: dict[str, str] | None = None) -> aioweb.Response:
    return aioweb.Response(
        body=dumps(problem(status, detail)), status=status, content_type=PROBLEM_JSON, headers=headers
    )


def error(status: int, message: str) -> Response:
    """Every error the API answers itself (problems() answers aiohttp's)."""
    return problem_response(status, message)


def found(view: View, user_id: str, body: dict[str, Any] | None) -> Response:
    """The body, or the API's 404 for a user this deployment does not know."""
    return view.json(body) if body is not None else error(404, f"unknown user {user_id!r}")


Handler = Callable[..., Awaitable[Response]]

#: A request one worker forwards to another carries this header, and its receiver answers it
#: itself (or 503 when the partition moved meanwhile): a rebalance cannot bounce a request around.
ROUTED = "X-Sway-Routed"


class Owners:
    """Which worker answers for each user partition: Faust's assignment of the users table,
    indexed once per assignment. Why not Faust's `table_route`: it parses URLs, hashes and
    re-serialises the key, and decodes and re-encodes the forwarded body on every request (py-spy:
    a third of a worker's time per request under wrk)."""

    def __init__(self, app: faust.App, rt: Runtime) -> None:
        self.app, self.rt = app, rt
        self._topic = rt.topology.users.changelog_topic.get_topic_name()
        self._dist: Any = None
        self._urls: dict[int, str] = {}

    def url_of(self, user_id: str) -> str | None:
        dist = self.app.assignor.changelog_distribution  # type: ignore[attr-defined]  # new per assignment
        if dist is not self._dist:
            self._urls = {p: url for url, tps in dist.items() for p in tps.get(self._topic, ())}
            self._dist = dist
        return self._urls.get(partition_of(user_id, self.rt.settings.partitions))

    def is_me(self, url: str) -> bool:
        return url.rstrip("/") == str(self.app.conf.canonical_url).rstrip("/")

    async def forward(self, url: str, request: Request) -> Response:
        """The owner's answer, as it is (status, type, body)."""
        headers = {ROUTED: "1"}
        if "Authorization" in request.headers:
            headers["Authorization"] = request.headers["Authorization"]
        # raw_path_qs: a decoded path would turn an id's encoded "?" or "/" into a query or a segment
        target = yarl.URL(url.rstrip("/") + request.rel_url.raw_path_qs, encoded=True)
        timeout = aiohttp.ClientTimeout(total=ERASE_WAIT_SECONDS + PEER_TIMEOUT_SECONDS)
        try:
            async with self.app.http_client.request(
                request.method, target, headers=headers, timeout=timeout
            ) as answer:
                body = await answer.read()
                return aioweb.Response(body=body, status=answer.status, content_type=answer.content_type)
        except (TimeoutError, aiohttp.ClientError) as exc:
            return error(503, f"worker {url}, which owns the user, did not answer: {exc!r}")


def routed(owners: Owners) -> Callable[[Handler], Handler]:
    """Answer here when this worker owns the user, else forward to the worker that does."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def route(view: View, request: Request, user_id: str) -> Response:
            url = owners.url_of(user_id)
            if url is None:
                return error(503, "the user's partition is not assigned yet (rebalancing); try again")
            if owners.is_me(url):
                return await handler(view, request, user_id)
            if ROUTED in request.headers:
                return error(503, f"the user's partition moved to {url} (rebalancing); try again")
            return await owners.forward(url, request)

        return route

    return wrap


def admin_only(rt: Runtime) -> Callable[[Handler], Handler]:
    """Bearer SWAY_ADMIN_TOKEN, checked before any routing: 401 without it, 403 if wrong,
    403 when no token is configured (admin operations are then disabled)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(view: View, request: Request, **kwargs: Any) -> Response:
            configured = rt.settings.admin_token.get_secret_value()
            if not configured:
                return error(403, "admin operations are disabled: SWAY_ADMIN_TOKEN is not set")
            header = request.headers.get("Authorization", "")
            if not header.startswith("Bearer "):
                return error(401, "missing 'Authorization: Bearer <SWAY_ADMIN_TOKEN>'")
            if not hmac.compare_digest(header[len("Bearer ") :].encode(), configured.encode()):
                return error(403, "wrong admin token")
            return await handler(view, request, **kwargs)

        return checked

    return wrap


def _limit(request: Request) -> int:
    raw = request.query.get("limit", "20")
    limit = int(raw)  # ValueError -> 400 below
    if not 1 <= limit <= board.MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {board.MAX_LIMIT}")
    return limit


def register(app: faust.App, rt: Runtime, readiness: Readiness, feed: ScoreFeed) -> None:
    topo = rt.topology
    users = topo.users
    owners = Owners(app, rt)

    @app.page("/")
    class Dashboard(View):
        async def get(self, request: Request) -> Response:
            page = resources.files("stream.pipeline").joinpath("static/dashboard.html").read_bytes()
            return self.bytes(page, content_type="text/html")

    @app.page("/openapi.json")
    class OpenAPI(View):
        async def get(self, request: Request) -> Response:
            return self.bytes((SCHEMAS / "openapi.json").read_bytes(), content_type="application/json")

    def schema_page(name: str) -> None:
        """A schema openapi.json references, at the address its relative reference resolves to
        from /openapi.json (so a client resolves them from the worker it read the document from)."""

        @app.page(f"/{name}")
        class Schema(View):
            async def get(self, request: Request) -> Response:
                return self.bytes((SCHEMAS / name).read_bytes(), content_type="application/schema+json")

    for name in sorted(SCHEMA_FILES):
        schema_page(name)

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            body = readiness.report(app, rt)
            return self.json(body, status=200 if body["ready"] else 503)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            # aiohttp takes the charset separately from the content type
            return self.bytes(generate_latest(rt.metrics.registry), content_type=PROMETHEUS_TEXT)

    @app.page("/users/{user_id}")
    class User(View):
        @routed(owners)
        async def get(self, request: Request, user_id: str) -> Response:
            return found(self, user_id, score_view(rt, user_id))

        @admin_only(rt)
        @routed(owners)
        async def delete(self, request: Request, user_id: str) -> Response:
            known = users.get(user_id) is not None or topo.actors.get(user_id) is not None
            now = rt.now_of(user_id)
            await topo.by_actor.send(key=user_id.encode(), value=dumps([{"erase": user_id, "at": now}]))
            deadline = time.monotonic() + ERASE_WAIT_SECONDS
            while time.monotonic() < deadline:
                if topo.erased.get(user_id) is not None and users.get(user_id) is None:
                    return self.json({"user_id": user_id, "erased": True, "was_known": known})
                await asyncio.sleep(0.05)
            return self.json({"user_id": user_id, "erased": False, "status": "accepted"}, status=202)

    @app.page("/users/{user_id}/explain")
    class Explain(View):
        @routed(owners)
        async def get(self, request: Request, user_id: str) -> Response:
            return found(self, user_id, explain(rt, user_id))

    @app.page("/users/{user_id}/history")
    class History(View):
        @routed(owners)
        async def get(self, request: Request, user_id: str) -> Response:
            return found(self, user_id, history(rt, user_id))

    def local_board(limit: int, topic: str | None, network: str | None) -> list[dict[str, Any]]:
        resume_clock(rt)
        now = rt.clocks.now()
        if topic is None and network is None and owned_partitions(app, topo) <= rt.board.partitions:
            return rt.board.board(limit, reader(users), now)
        # a topic or network board, or partitions still recovering: rank what the table holds
        return board.rank(users.values(), now, rt.params, limit, topic, network)

    async def peer_board(url: str, query: dict[str, str]) -> list[dict[str, Any]]:
        timeout = aiohttp.ClientTimeout(total=PEER_TIMEOUT_SECONDS)
        async with app.http_client.get(f"{url.rstrip('/')}/leaderboard", params=query, timeout=timeout) as r:
            r.raise_for_status()
            rows: list[dict[str, Any]] = (await r.json())["users"]
            return rows

    @app.page("/leaderboard")
    class Leaderboard(View):
        async def get(self, request: Request) -> Response:
            try:
                limit = _limit(request)
            except ValueError as exc:
                return error(400, f"limit: {exc}")
            topic = request.query.get("topic") or None
            network = (request.query.get("network") or "").lower() or None
            if request.query.get("scope") == "local":
                return self.json({"users": local_board(limit, topic, network)})
            owners = app.router.table_metadata(users.name)
            me = str(app.conf.canonical_url)
            covered = {p for parts in owners.values() for ps in parts.values() for p in ps}
            missing = sorted(set(range(rt.settings.partitions)) - covered)
            if missing:
                return error(503, f"partitions {missing} are not assigned yet (rebalancing)")
            query = {"scope": "local", "limit": str(limit)}
            if topic:
                query["topic"] = topic
            if network:
                query["network"] = network
            parts: list[list[dict[str, Any]]] = []
            for url in owners:
                if url.rstrip("/") == me.rstrip("/"):
                    parts.append(local_board(limit, topic, network))
                    continue
                try:
                    parts.append(await peer_board(url, query))
                except (TimeoutError, aiohttp.ClientError) as exc:
                    return error(503, f"worker {url} did not answer: {exc!r}")
            return self.json(
                {
                    "users": board.merge(parts, limit),
                    "topic": topic,
                    "network": network,
                    "workers": len(owners),
                    "event_ts": rt.clocks.now(),
                }
            )

    @app.page("/scores/stream")
    class Stream(View):
        """Server-sent events: every score update on `scores` (all partitions), as it is published."""

        async def get(self, request: Request) -> Any:
            response = aioweb.StreamResponse(
                headers={
                    "Content-Type": "text/event-stream",
                    "Cache-Control": "no-cache",
                    "X-Accel-Buffering": "no",
                }
            )
            queue = feed.subscribe()
            try:
                # answer (the browser's "open") once the feed follows `scores`, so a connected
                # client has missed nothing since; a feed that cannot start yet does not block it
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(feed.following.wait(), FEED_START_SECONDS)
                await response.prepare(request)  # type: ignore[arg-type]
                await response.write(b": connected\n\n")
                while True:
                    try:
                        item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        await response.write(b": keepalive\n\n")
                        continue
                    await response.write(item)
            except ConnectionResetError:  # the browser went away (a cancellation propagates)
                pass
            finally:
                feed.unsubscribe(queue)
            return response
