"""Request guards of `deal serve`: the request-size limit, the bearer token, the Host check and the
cross-site check.

Each refusal is a JSON body ``{"error": "<one sentence>"}`` with its status, like every error the server
returns. The size limit is an ASGI middleware (hand-rolled: Starlette has none) so that it also covers a
chunked upload without a Content-Length, which it cuts off as soon as the limit is passed.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deal.serve.settings import LOOPBACK_NAMES

TOKEN_COOKIE = "deal_token"  # set by the page (SameSite=Strict) so that its links carry the token too


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


async def send_error(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = error_body(message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuses (413) any request whose body is over `max_bytes`, by its Content-Length or as it streams."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    def message(self) -> str:
        return f"the request is over the limit of {self.max_bytes:,} bytes."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            try:
                too_large = int(length) > self.max_bytes
            except ValueError:
                await send_error(send, 400, "the Content-Length header is not a number.")
                return
            if too_large:
                await send_error(send, 413, self.message())
                return
        received = 0
        cut = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, cut
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    cut = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if cut:  # the app's answer to a body it could not finish reading is replaced by the 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            pass
        if cut and not started:
            await send_error(send, 413, self.message())


class HostCheck:
    """Answers only requests whose Host header is a loopback name (a DNS-rebinding guard for a server
    without a token): a web page on another site cannot then drive the local API from a browser."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]", 1)[0]
            if name.lower() not in LOOPBACK_NAMES:
                await send_error(
                    send,
                    421,
                    f"this server answers only requests to {', '.join(LOOPBACK_NAMES)}, not {host!r}.",
                )
                return
        await self.app(scope, receive, send)


STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def cross_site_origin(headers: dict[bytes, bytes], allowed_origins: Sequence[str]) -> str | None:
    """The site a browser says a request comes from when that is not this server's own and not one of
    `allowed_origins`; None for a same-origin request, an allowed origin or a client that is not a browser
    (no Origin and no Sec-Fetch-Site header).

    Sec-Fetch-Site, when the browser sends it, decides ("same-origin" and "none" pass; "same-site", another
    port of the same host, does not). Without it, the Origin must name the Host the request was sent to.
    """
    origin = headers.get(b"origin", b"").decode("latin-1").strip()
    fetch_site = headers.get(b"sec-fetch-site", b"").decode("latin-1").strip().lower()
    if origin and origin in allowed_origins:
        return None
    if fetch_site in ("same-origin", "none"):
        return None
    if fetch_site:
        return origin or f"a {fetch_site} page"
    if not origin:
        return None
    host = headers.get(b"host", b"").decode("latin-1").strip().lower()
    return None if urlsplit(origin).netloc.lower() == host else origin


class CrossSiteCheck:
    """Refuses (403) a state-changing request (POST, PUT, PATCH, DELETE) that a browser sends from another
    site, unless its origin was allowed (--cors-origin): a page elsewhere cannot start or delete jobs
    through the analyst's browser (a cross-site form post needs no CORS)."""

    def __init__(self, app: ASGIApp, allowed_origins: Sequence[str] = ()) -> None:
        self.app, self.allowed_origins = app, tuple(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in STATE_CHANGING:
            site = cross_site_origin(dict(scope["headers"]), self.allowed_origins)
            if site is not None:
                await send_error(
                    send,
                    403,
                    f"a {scope['method']} from {site} is refused: this server takes state-changing requests "
                    "from its own page, from clients that are not browsers and from the origins given with "
                    "--cors-origin.",
                )
                return
        await self.app(scope, receive, send)


def token_matches(request: Request, token: str) -> bool:
    """Whether the request carries `token` (``Authorization: Bearer`` or the page's cookie), compared in
    constant time."""
    given = ""
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        given = auth[7:].strip()
    elif TOKEN_COOKIE in request.cookies:
        given = request.cookies[TOKEN_COOKIE]
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


def require_token(token: str | None) -> Callable[[Request], None]:
    """A FastAPI dependency: 401 unless the request carries `token` (no-op when token is None)."""
    from deal.serve.errors import RequestRefused

    def check(request: Request) -> None:
        if token is not None and not token_matches(request, token):
            missing = "authorization" not in request.headers and TOKEN_COOKIE not in request.cookies
            raise RequestRefused(
                401, "this server needs a bearer token." if missing else "the bearer token is wrong."
            )

    return check
