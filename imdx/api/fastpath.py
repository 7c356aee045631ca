"""An ASGI layer in front of the app that answers repeated GET requests from the response cache.

Once a request's body is cached (by :func:`imdx.api.responses.respond`), the same path and query
is answered here without routing, with the same headers the app would send (ETag, Cache-Control,
gzip, 304, CORS). The cache key holds the store's version (:meth:`imdx.api.state.ApiState.current`), so
a body computed before a release was committed is not answered after it.
"""

from __future__ import annotations

from imdx.api.responses import cache_key, negotiate


class CachedResponses:
    def __init__(self, app, state, expose_headers: list[str]):
        self.app, self.state = app, state
        self.expose = ", ".join(expose_headers).encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        body = self.state.responses.get(cache_key(self.state.current(), scope))
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
