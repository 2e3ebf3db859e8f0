"""The errors of `deal serve`: every one is answered ``{"error": "<one sentence>"}`` with its HTTP status.

RequestRefused is what the server's own code raises. The handlers installed by add_error_handlers turn it,
FastAPI's validation errors, Starlette's HTTP errors and any other exception into that answer; a
traceback never reaches the client (it goes to the server's log).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

log = logging.getLogger("deal.serve")


class RequestRefused(Exception):
    """A request the server refuses: `status` (HTTP) and one sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def sentence(text: str) -> str:
    """`text` on one line, ending with a full stop."""
    text = " ".join(str(text).split())
    return text if text.endswith((".", "?", "!")) else text + "."


def error_response(status: int, message: str) -> JSONResponse:
    from fastapi.responses import JSONResponse

    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def add_error_handlers(app: FastAPI) -> None:
    """Answers every error of `app` with its status and one sentence."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    @app.exception_handler(RequestRefused)
    async def refused(request: Request, err: RequestRefused) -> JSONResponse:
        return error_response(err.status, err.message)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        if err.status_code == 404:
            return error_response(404, f"no such page: {request.url.path}.")
        return error_response(
            err.status_code, sentence(err.detail if isinstance(err.detail, str) else "bad request")
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        return error_response(422, sentence(f"{where or 'request'}: {first.get('msg', 'invalid value')}"))

    @app.exception_handler(Exception)
    async def crashed(request: Request, err: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=err)
        return error_response(500, "the server failed on this request; its log has the details.")
