"""The web page (``/``, ``/static``) and the latest eval report (``/report``)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from ragloop.evals.runs import CONFIG
from ragloop.redact import redact_data
from ragloop.serve.state import ServerState

STATIC_DIR = Path(__file__).parent / "static"
router = APIRouter()


def latest_report(runs_dir: Path) -> Path | None:
    """The newest ``runs/*/report.html`` by modification time."""
    reports = [p for p in runs_dir.glob("*/report.html") if p.is_file()]
    return max(reports, key=lambda p: p.stat().st_mtime, default=None)


@router.get("/", include_in_schema=False)
async def index():
    return FileResponse(STATIC_DIR / "index.html")


@router.get("/v1/reports/latest")
async def latest_report_info(request: Request):
    """Where the newest eval report is, if any run has written one."""
    state: ServerState = request.app.state.ragloop
    report = latest_report(state.runs_dir)
    if report is None:
        return {"available": False, "run": None, "url": None}
    return {"available": True, "run": report.parent.name,
            "url": f"/runs/{report.parent.name}/report.html"}


@router.get("/report", include_in_schema=False)
async def report(request: Request):
    state: ServerState = request.app.state.ragloop
    found = latest_report(state.runs_dir)
    if found is None:
        raise HTTPException(404, f"no eval report yet: run `ragloop eval` to write one under "
                                 f"{state.runs_dir}")
    return RedirectResponse(f"/runs/{found.parent.name}/report.html")


@router.get("/runs/{run}/{path:path}", include_in_schema=False)
async def run_file(run: str, path: str, request: Request):
    """Files of one eval run (the report and anything it links to), never outside it. A
    run's ``config.json`` is served with its secrets masked (runs written before they were
    masked on disk still hold them)."""
    runs = request.app.state.ragloop.runs_dir.resolve()
    missing = HTTPException(404, f"no file {path!r} in run {run!r}")
    if "\x00" in run or "\x00" in path:  # the OS refuses such names: nothing is there
        raise missing
    try:
        folder = (runs / run).resolve()
        target = (folder / path).resolve()
        found = folder.parent == runs and target.is_relative_to(folder) and target.is_file()
    except (OSError, ValueError, RuntimeError):  # a name too long, a loop of links
        found = False
    if not found:
        raise missing
    if target.name == CONFIG and target.parent == folder:
        try:
            data = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise HTTPException(404, f"run {run!r} has no readable config.json") from None
        return JSONResponse(redact_data(data))
    return FileResponse(target)
