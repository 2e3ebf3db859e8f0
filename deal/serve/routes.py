"""The HTTP API of `deal serve` under ``/v1`` (behind the bearer token, when one is set).

``GET /v1/detector``, ``POST /v1/jobs``, ``GET /v1/jobs/{id}``, ``DELETE /v1/jobs/{id}``,
``GET /v1/jobs/{id}/results`` and ``GET /v1/jobs/{id}/files/{path}``. Paths in the answers are relative to
the job (deal.serve.responses).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from deal.inference.detector import Detector
from deal.serve.errors import RequestRefused, sentence
from deal.serve.guards import require_token
from deal.serve.job import INPUTS_DIR, Job, JobOptions
from deal.serve.responses import job_records, job_status, served_text
from deal.serve.settings import ServeSettings
from deal.serve.store import JobStore
from deal.serve.uploads import file_in, server_inputs, store_uploads

NOSNIFF = {"X-Content-Type-Options": "nosniff"}  # a file is served as what its name says, never sniffed


class SlotFirstRoute(APIRoute):
    """A route that checks the token and reserves a place in the job queue BEFORE the request's body is
    read (FastAPI reads a form before it runs any dependency): a full queue answers 503 at once, and
    concurrent uploads cannot overrun it. The handler finds the place in ``request.state.slot``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        read_body_and_handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            request.app.state.check_token(request)
            with request.app.state.store.reserve() as slot:
                request.state.slot = slot
                return await read_body_and_handle(request)

        return handler


def job_options(
    save: str, report: str, threshold: float | None, image_thresholds: str | None, views: str = ""
) -> JobOptions:
    """A job's options, checked the way `deal detect` checks them (422 with one sentence)."""
    from deal.baselines.views import check_view_names
    from deal.metrics.image_score import check_image_thresholds
    from deal.report.outputs import parse_save

    try:
        kinds = parse_save(save)
    except ValueError as err:
        raise RequestRefused(422, sentence(f"save: {err}")) from None
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
    try:
        names = tuple(check_view_names(views))
    except ValueError as err:
        raise RequestRefused(422, sentence(f"views: {err}")) from None
    return JobOptions(
        save=",".join(kinds),
        report="html" if report == "html" else None,
        threshold=threshold,
        image_thresholds=pair,
        views=names,
    )


def detector_info(detector: Detector, settings: ServeSettings) -> dict[str, Any]:
    """What GET /v1/detector answers."""
    from deal.report.html import BUNDLED_BANNER
    from deal.version import __version__

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


def status_of(store: JobStore, job: Job) -> dict[str, Any]:
    with store.lock:  # state, how it ended and its progress, read together
        state, ended, progress = job.state, dict(job.ended), job.progress
    return job_status(job, state, ended, progress)


async def create_job(
    store: JobStore, settings: ServeSettings, slot: Any, files: list[UploadFile], paths: list[str],
    options: JobOptions,
) -> dict[str, Any]:
    """Checks and stores a job's inputs (uploads, or paths under the allowed roots), then queues it in the
    reserved `slot`; nothing is left behind when it is refused."""
    if files and paths:
        raise RequestRefused(422, "give either files or paths, not both.")
    if not files and not paths:
        raise RequestRefused(422, "give at least one file or path.")
    if len(files) > settings.max_files or len(paths) > settings.max_files:
        raise RequestRefused(413, f"over the limit of {settings.max_files} files per job.")
    stored: list[dict[str, str]] = []
    if paths:
        inputs, roots, n_inputs = await run_in_threadpool(server_inputs, paths, settings.roots)
    job_id, folder = store.new_folder()
    try:
        if files:
            stored = await run_in_threadpool(
                store_uploads, folder / INPUTS_DIR, files,
                max_file_bytes=settings.max_file_bytes, max_pixels=settings.max_pixels,
            )
            inputs = [str(folder / INPUTS_DIR / s["stored"]) for s in stored]
            n_inputs, roots = len(inputs), []
        job = store.submit(job_id, folder, inputs, options, n_inputs, roots=roots, slot=slot)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return {**status_of(store, job), "files": stored}


def jobs_router(store: JobStore, detector: Detector, settings: ServeSettings) -> APIRouter:
    """The /v1 routes over `store` and `detector`."""
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_token(settings.token))])

    def existing(job_id: str) -> Job:
        job = store.get(job_id)
        if job is None:
            raise RequestRefused(404, f"no job {job_id[:64]!r}.")
        return job

    @v1.get("/detector", summary="The detector's identity (name, sha256) and thresholds")
    def get_detector() -> dict[str, Any]:
        return detector_info(detector, settings)

    async def post_job(
        request: Request,
        files: list[UploadFile] = File(default=[], description="images (multipart)"),
        paths: list[str] = Form(default=[], description="<root name>/<file, folder or glob> (--allow-root)"),
        save: str = Form("heatmap,mask,overlay,json", description="outputs, as deal detect --save"),
        report: str = Form("html", description="html (the report, with each image's view) or none"),
        threshold: float | None = Form(None, description="pixel threshold of the mask (default: the detector's)"),
        image_thresholds: str | None = Form(None, description="LO,HI verdict thresholds (default: the detector's)"),
        views: str = Form("", description="classic forensic views, as deal detect --views (default: none)"),
    ) -> dict[str, Any]:
        options = job_options(save, report, threshold, image_thresholds, views)
        return await create_job(store, settings, request.state.slot, files, paths, options)

    v1.add_api_route(
        "/jobs",
        post_job,
        methods=["POST"],
        status_code=202,
        summary="Start a job: uploaded images, or paths under an allowed root",
        route_class_override=SlotFirstRoute,
    )

    @v1.get("/jobs/{job_id}", summary="A job's state, progress (done/total, images/s) and errors so far")
    def get_job(job_id: str) -> dict[str, Any]:
        return status_of(store, existing(job_id))

    @v1.delete("/jobs/{job_id}", summary="Delete a queued or ended job and its folder (409 while it runs)")
    def delete_job(job_id: str) -> dict[str, Any]:
        return {"id": job_id, "deleted": True, "bytes_freed": store.delete(job_id)}

    @v1.get("/jobs/{job_id}/results", summary="The job's records (results.jsonl), a JSON array in input order")
    def get_results(job_id: str) -> list[dict[str, Any]]:
        job = existing(job_id)
        if job.state == "failed":
            reason = (status_of(store, job)["errors"] or ["see its status"])[0]
            raise RequestRefused(409, sentence(f"job {job_id} failed: {reason}"))
        if job.state != "done":
            raise RequestRefused(409, f"job {job_id} is {job.state}; its results come when it is done.")
        return job_records(job)

    @v1.get("/jobs/{job_id}/files/{path:path}", summary="A file of the job's run folder (outputs, report.html)")
    def get_file(job_id: str, path: str) -> Response:
        job = existing(job_id)
        found = file_in(job.out, path)
        text = served_text(job, found)
        if text is None:
            return FileResponse(found, headers=NOSNIFF)
        return Response(text[0], media_type=text[1], headers=NOSNIFF)

    return v1
