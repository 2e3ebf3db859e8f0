"""create_app: the FastAPI application of `deal serve`, assembled from its parts.

The data folder's lock (first, so that a second server refuses before the detector loads), the detector,
the job store and its worker, the error handlers, the page, the /v1 API (deal.serve.routes) and the
guards around it all. Routes: ``GET /`` the page, ``GET /healthz``, ``GET /docs`` and ``/openapi.json``,
and the /v1 API. Every error is ``{"error": "<one sentence>"}`` (deal.serve.errors).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from deal.inference.detector import Detector
from deal.serve.data_lock import DataFolderLock
from deal.serve.errors import add_error_handlers
from deal.serve.guards import BodyLimit, CrossSiteCheck, HostCheck, require_token
from deal.serve.page import page_html
from deal.serve.routes import NOSNIFF, jobs_router
from deal.serve.settings import ServeSettings
from deal.serve.store import JobStore
from deal.serve.worker import JobWorker

PAGE_POLICY = "default-src 'self' 'unsafe-inline' data:; frame-ancestors 'self'"


def create_app(
    settings: ServeSettings, detector: Detector | None = None, *, lock: DataFolderLock | None = None
) -> FastAPI:
    """The application. `detector`: an already loaded Detector (None: load settings.detector); `lock`: the
    data folder's lock, already held (None: taken here, before the detector loads)."""
    lock = lock if lock is not None else DataFolderLock(settings.data)
    try:
        if detector is None:
            detector = Detector.load(
                settings.detector, settings.device, tile=settings.tile, max_pixels=settings.max_pixels
            )
        store = JobStore(
            settings.data, max_queued=settings.max_queued, retention=settings.retention, lock=lock
        )
    except BaseException:
        lock.close()
        raise
    worker = JobWorker(
        store,
        detector,
        batch_size=settings.batch_size,
        workers=settings.workers,
        engine=settings.engine,
        address=settings.address,
    )
    app = new_app(lifespan=running(store, worker))
    app.state.store, app.state.settings = store, settings
    app.state.check_token = require_token(settings.token)
    add_error_handlers(app)
    add_page(app)
    app.include_router(jobs_router(store, detector, settings))
    add_guards(app, settings)
    return app


def running(store: JobStore, worker: JobWorker) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: the worker runs while the app serves; the data folder is released after."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker.start()
        yield
        worker.stop()
        store.close()

    return lifespan


def new_app(lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]) -> FastAPI:
    from deal.version import __version__

    return FastAPI(
        title="deal serve",
        version=__version__,
        description="Localize the regions of images that a diffusion model edited: jobs are `deal detect` runs.",
        lifespan=lifespan,
    )


def add_page(app: FastAPI) -> None:
    """``GET /``, the analyst's page, and ``GET /healthz``."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(page_html(), headers={**NOSNIFF, "Content-Security-Policy": PAGE_POLICY})

    @app.get("/healthz", summary="Liveness: the server answers and its detector is loaded")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}


def add_guards(app: FastAPI, settings: ServeSettings) -> None:
    """The middleware, from the outside in: the Host check (without a token), CORS (only for the origins
    given), the cross-site check, the request-size limit. CORS wraps the refusals inside it, so that a
    browser on an allowed origin can read a 413 too."""
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)  # added first: innermost
    app.add_middleware(CrossSiteCheck, allowed_origins=settings.cors_origins)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization"],
        )
    if settings.check_host_header:
        app.add_middleware(HostCheck)
