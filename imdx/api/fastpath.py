"""An ASGI layer in front of the app for the requests a crowd makes: repeated GETs, and observations.

Once a request's body is cached (by :func:`imdx.api.responses.respond`, or here), the same path and query
is answered here without routing, with the same headers the app would send (ETag, Cache-Control, gzip, 304,
CORS). The cache key holds the store's version (:meth:`imdx.api.state.ApiState.current`), so a body computed
before a release was committed is not answered after it.

A request for observations (``/api/v1/data/{dataflow}``) that is not cached is computed here too, by the same
functions as its route (:func:`imdx.api.routes.data.parse` and :func:`~imdx.api.routes.data.answer`), without
the framework's routing, its middleware and a thread pool: when the store holds the dataflow's current values in
memory and the request asks for them (no ``edition``, no ``as_of``), answering at most :data:`INLINE_ROWS` rows
(:meth:`~imdx.store.base.Store.current`), it is computed on the event loop (a few tenths of a millisecond:
handing it to a thread would cost more than it saves); otherwise in one of a few threads
(:meth:`~imdx.api.limits.Limits.slots`, by default one per CPU: more would only take turns), for which a request
waits at most ``queue_seconds`` (then: 503 ``busy`` with ``Retry-After``). An error (a bad parameter, an unknown
code) goes on to the route, which answers it in the API's envelope.
"""

from __future__ import annotations

from starlette.requests import Request

from imdx.api.errors import ApiError, refusal
from imdx.api.limits import Busy
from imdx.api.responses import GZIP_MIN, Body, cache_key, negotiate
from imdx.errors import ImdxError

DATA = "/api/v1/data/"
#: the most rows an answer computed on the event loop may hold (more: in a thread)
INLINE_ROWS = 20_000


class CachedResponses:
    def __init__(self, app, state, expose_headers: list[str]):
        self.app, self.state = app, state
        self.expose = ", ".join(expose_headers).encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        key = cache_key(self.state.current(), scope)
        body = self.state.responses.get(key)
        if body is None and scope["path"].startswith(DATA):
            body = await self._data(scope, key)
        if isinstance(body, Busy):
            return await refusal(scope, body.status, body.type, body.message, None, body.headers)(scope, receive, send)
        if body is None:
            return await self.app(scope, receive, send)
        accept, inm, origin = "", None, None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value.decode("latin-1")
            elif name == b"if-none-match":
                inm = value.decode("latin-1")
            elif name == b"origin":
                origin = value
        status, content, headers = negotiate(body, accept, inm)
        variant = (status, headers["ETag"])  # the ETag tells plain from gzip
        raw = body.raw_headers.get(variant)
        if raw is None:  # encoded once per body and variant (200 plain, 200 gzip, 304)
            raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()]
            if status == 200:
                raw.append((b"content-length", str(len(content)).encode()))
            body.raw_headers[variant] = raw
        if origin is not None:
            raw = raw + [(b"access-control-allow-origin", b"*"), (b"access-control-expose-headers", self.expose)]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": content})

    async def _data(self, scope, key):
        """The body of an observations request, computed and cached; None when the route should answer it (an
        unknown dataflow, an error); :class:`~imdx.api.limits.Busy` when no compute slot was free in time."""
        from imdx.api.routes.data import answer, current, parse

        state = self.state
        flow_id = scope["path"][len(DATA):]
        if flow_id not in state.dataflow_ids:
            return None
        request = Request(scope)
        gzip_wanted = any(n == b"accept-encoding" and b"gzip" in v for n, v in scope["headers"])

        try:
            query = parse(state, request, flow_id)
        except (ApiError, ImdxError):
            return None

        def work(rows=None) -> Body | None:
            try:
                body = answer(state, query, rows)
            except (ApiError, ImdxError):
                return None
            if gzip_wanted and len(body.content) >= GZIP_MIN:
                body.gzipped()
            return body

        try:
            rows = current(state, query, read=False)  # reading a copy takes seconds: not on the event loop
        except (ApiError, ImdxError):
            return None
        if rows is not None and min(rows.total, query.size) <= INLINE_ROWS:
            body = work(rows)
        else:  # in the compute slots every route shares
            try:
                body = await state.slots.run(work)
            except Busy as busy:
                return busy
        if body is not None:
            state.responses.put(key, body, body.size)
        return body
