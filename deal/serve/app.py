"""create_app: the FastAPI application of `deal serve` (routes, errors, guards) over one Detector and a JobStore.

Routes: ``GET /`` the page, ``GET /healthz``, ``GET /docs`` and ``/openapi.json``, and under ``/v1`` (the
bearer token, when set): ``GET /v1/detector``, ``POST /v1/jobs``, ``GET /v1/jobs/{id}``,
``GET /v1/jobs/{id}/results`` and ``GET /v1/jobs/{id}/files/{path}`` (the run folder's outputs and report).
Every error is ``{"error": "<one sentence>"}``: never a traceback (those go to the server's log).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from deal.fileio import atomic_write_bytes
from deal.inference.detector import Detector
from deal.serve.guards import BodyLimit, HostCheck, require_token
from deal.serve.jobs import INPUTS_DIR, JobOptions, JobStore, read_records
from deal.serve.page import page_html
from deal.serve.settings import ServeSettings
from deal.serve.uploads import (
    RequestRefused,
    check_image_bytes,
    file_in,
    safe_file_name,
    server_inputs,
    unique_names,
)

log = logging.getLogger("deal.serve")
NOSNIFF = {"X-Content-Type-Options": "nosniff"}  # a file is served as what its name says, never sniffed


def _error(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _sentence(text: str) -> str:
    text = " ".join(str(text).split())
    return text if text.endswith((".", "?", "!")) else text + "."


def _job_options(save: str, report: str, threshold: float | None, image_thresholds: str | None) -> JobOptions:
    """A job's options, checked the way `deal detect` checks them (422 with one sentence)."""
    from deal.metrics.image_score import check_image_thresholds
    from deal.report.outputs import parse_save

    try:
        kinds = parse_save(save)
    except ValueError as err:
        raise RequestRefused(422, _sentence(f"save: {err}")) from None
    if report not in ("html", "none", ""):
        raise RequestRefused(422, f"report must be html or none, got {report!r}.")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise RequestRefused(422, f"threshold must be in [0, 1], got {threshold}.")
    pair = None
    if image_thresholds:
        try:
            low, high = (float(v) for v in image_thresholds.split(","))
            pair = check_image_thresholds(low, high)
        except ValueError:
            raise RequestRefused(
                422, f"image_thresholds takes LO,HI with 0 <= LO <= HI <= 1, got {image_thresholds!r}."
            ) from None
    return JobOptions(
        save=",".join(kinds),
        report="html" if report == "html" else None,
        threshold=threshold,
        image_thresholds=pair,
    )


def _store_uploads(folder: Path, files: list[UploadFile], settings: ServeSettings) -> list[dict[str, str]]:
    """Checks each upload and writes it under folder/inputs with a safe, unique name, in the order given."""
    names = unique_names(safe_file_name(f.filename, i) for i, f in enumerate(files, 1))
    stored = []
    for upload, name in zip(files, names):
        shown = upload.filename or name
        if upload.size is not None and upload.size > settings.max_file_bytes:
            raise RequestRefused(
                413,
                f"{shown}: {upload.size:,} bytes, over the limit of {settings.max_file_bytes:,} bytes per file.",
            )
        data = upload.file.read(settings.max_file_bytes + 1)
        check_image_bytes(data, shown, max_bytes=settings.max_file_bytes, max_pixels=settings.max_pixels)
        atomic_write_bytes(folder / INPUTS_DIR / name, data)
        stored.append({"name": upload.filename or "", "stored": name})
    return stored


def create_app(settings: ServeSettings, detector: Detector | None = None) -> FastAPI:
    """The application. `detector`: an already loaded Detector (None: load settings.detector)."""
    if detector is None:
        detector = Detector.load(
            settings.detector, settings.device, tile=settings.tile, max_pixels=settings.max_pixels
        )
    store = JobStore(
        settings.data,
        detector,
        batch_size=settings.batch_size,
        workers=settings.workers,
        engine=settings.engine,
        address=settings.address,
        max_queued=settings.max_queued,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store.start()
        yield
        store.stop()
        store.close()

    from deal.version import __version__

    app = FastAPI(
        title="deal serve",
        version=__version__,
        description="Localize the regions of images that a diffusion model edited: jobs are `deal detect` runs.",
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.settings = settings

    @app.exception_handler(RequestRefused)
    async def refused(request: Request, err: RequestRefused) -> JSONResponse:
        return _error(err.status, err.message)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        if err.status_code == 404:
            return _error(404, f"no such page: {request.url.path}.")
        return _error(
            err.status_code, _sentence(err.detail if isinstance(err.detail, str) else "bad request")
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        return _error(422, _sentence(f"{where or 'request'}: {first.get('msg', 'invalid value')}"))

    @app.exception_handler(Exception)
    async def crashed(request: Request, err: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=err)
        return _error(500, "the server failed on this request; its log has the details.")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(
            page_html(),
            headers={
                **NOSNIFF,
                "Content-Security-Policy": "default-src 'self' 'unsafe-inline' data:; frame-ancestors 'self'",
            },
        )

    @app.get("/healthz", summary="Liveness: the server answers and its detector is loaded")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_token(settings.token))])

    @v1.get("/detector", summary="The detector's identity (name, sha256) and thresholds")
    def detector_info() -> dict[str, Any]:
        from deal.report.html import BUNDLED_BANNER

        return {
            "name": detector.name,
            "sha256": detector.sha256,
            "threshold": detector.threshold,
            "image_thresholds": list(detector.image_thresholds),
            "bundled": detector.bundled,
            # The report's words on the bundled demonstration detector (its banner), shown by the page too.
            "notice": BUNDLED_BANNER if detector.bundled else None,
            "tile": detector.tile,
            "device": f"{detector.device.type} {detector.precision}",
            "max_pixels": settings.max_pixels,
            "batch_size": settings.batch_size,
            "engine": settings.engine,
            "deal_version": __version__,
        }

    @v1.post("/jobs", status_code=202, summary="Start a job: uploaded images, or paths under an allowed root")
    async def create_job(
        files: list[UploadFile] = File(default=[], description="images (multipart)"),
        paths: list[str] = Form(default=[], description="<root name>/<file, folder or glob> (--allow-root)"),
        save: str = Form("heatmap,mask,overlay,json", description="outputs, as deal detect --save"),
        report: str = Form("html", description="html (the report, with each image's view) or none"),
        threshold: float | None = Form(
            None, description="pixel threshold of the mask (default: the detector's)"
        ),
        image_thresholds: str | None = Form(
            None, description="LO,HI verdict thresholds (default: the detector's)"
        ),
    ) -> dict[str, Any]:
        options = _job_options(save, report, threshold, image_thresholds)
        if files and paths:
            raise RequestRefused(422, "give either files or paths, not both.")
        if not files and not paths:
            raise RequestRefused(422, "give at least one file or path.")
        if len(files) > settings.max_files or len(paths) > settings.max_files:
            raise RequestRefused(413, f"over the limit of {settings.max_files} files per job.")
        if store.pending() >= settings.max_queued:
            raise RequestRefused(503, f"{settings.max_queued} jobs are waiting already; try again later.")
        if paths:
            inputs, roots, n_inputs = await run_in_threadpool(server_inputs, paths, settings.roots)
            stored: list[dict[str, str]] = []
        job_id, folder = store.new_folder()
        try:
            if files:
                stored = await run_in_threadpool(_store_uploads, folder, files, settings)
                inputs = [str(folder / INPUTS_DIR / s["stored"]) for s in stored]
                n_inputs, roots = len(inputs), []
            job = store.submit(job_id, folder, inputs, options, n_inputs, roots=roots)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return {**store.status(job), "files": stored}

    def _job(job_id: str):
        job = store.get(job_id)
        if job is None:
            raise RequestRefused(404, f"no job {job_id[:64]!r}.")
        return job

    @v1.get("/jobs/{job_id}", summary="A job's state, progress (done/total, images/s) and errors so far")
    def job_status(job_id: str) -> dict[str, Any]:
        return store.status(_job(job_id))

    @v1.get("/jobs/{job_id}/results", summary="The job's records, exactly deal detect's results.jsonl")
    def job_results(job_id: str) -> list[dict[str, Any]]:
        job = _job(job_id)
        if job.state == "failed":
            raise RequestRefused(409, f"job {job_id} failed: {job.ended.get('error')}")
        if job.state != "done":
            raise RequestRefused(409, f"job {job_id} is {job.state}; its results come when it is done.")
        return read_records(job.out)

    @v1.get(
        "/jobs/{job_id}/files/{path:path}", summary="A file of the job's run folder (outputs, report.html)"
    )
    def job_file(job_id: str, path: str) -> FileResponse:
        job = _job(job_id)
        return FileResponse(file_in(job.out, path), headers=NOSNIFF)

    app.include_router(v1)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization"],
        )
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    if settings.check_host_header:
        app.add_middleware(HostCheck)
    return app
