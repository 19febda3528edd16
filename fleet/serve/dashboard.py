"""The dashboard's routes: server-rendered HTML pages (Jinja2, no JavaScript) and a JSON API
behind the same routes — ``/api/...``, or any page with ``Accept: application/json``.

    /                                   overview: jobs, schedules, next run, last result, trend
    /jobs/{job}                         a job: its schedule, runs and trend
    /jobs/{job}/targets/{target}        one target (name or ARM id) across the job's runs
    /runs/{run_id}                      a run: summary, changes, groups, per-target table with
                                        filters (?status= &verdict= &change= &name=), live
                                        progress while it runs (the page refreshes itself)
    /runs/{run_id}/report/{format}      the run's report file: json, junit, csv or html
    /schedules                          every schedule's state and recent fires

Read-only (GET and HEAD only). The pages' data come from ``fleet.serve.pages``; charts from
``fleet.report.charts``; the run's sections reuse the HTML report's macros.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from fleet.errors import FleetError
from fleet.report.charts import colour, sparkline, status_bar, verdict_strip
from fleet.report.formats import MEDIA_TYPE, SUFFIX, ReportFormat, parse_format, render
from fleet.report.html_report import TEMPLATES, environment
from fleet.report.view import duration_text, run_view, when_text
from fleet.serve import pages, run_pages
from fleet.serve.app import service_of

LIVE_REFRESH_S = 3
IDLE_REFRESH_S = 30


def job_url(name: str) -> str:
    return f"/jobs/{quote(name, safe='')}"


def run_url(run_id: str) -> str:
    return f"/runs/{quote(run_id, safe='')}"


def target_url(job: str, target: str) -> str:
    return f"{job_url(job)}/targets/{quote(target, safe='')}"


def _environment() -> jinja2.Environment:
    env = environment(
        jinja2.ChoiceLoader([jinja2.PackageLoader("fleet.serve", "templates"), TEMPLATES])
    )
    env.globals.update(
        job_url=job_url, run_url=run_url, target_url=target_url,
        sparkline=sparkline, status_bar=status_bar, colour=colour, verdict_strip=verdict_strip,
    )  # fmt: skip
    env.filters.update(when=when_text, duration=duration_text)
    return env


PAGES = _environment()  # the dashboard's Jinja2 environment (templates: package data)


def wants_json(request: Request) -> bool:
    """``/api/...``, or an ``Accept`` header that asks for JSON rather than HTML."""
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _page(request: Request, template: str, data: dict[str, Any], **extra: Any) -> Response:
    if wants_json(request):
        return JSONResponse(data)
    extra.setdefault("refresh", None)
    html = PAGES.get_template(template).render(d=data, **extra)
    return HTMLResponse(html)


def _guarded(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """404 for what is not there, 503 for a journal that cannot be read: never a traceback."""

    def guarded(request: Request) -> Response:
        try:
            return handler(request)
        except pages.NotFound as exc:
            return _problem(request, 404, str(exc))
        except FleetError as exc:
            return _problem(request, 503, str(exc))

    guarded.__name__ = handler.__name__
    return guarded


def _problem(request: Request, status: int, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    page = PAGES.get_template("problem.html.j2")
    html = page.render(status=status, message=message, refresh=None)
    return HTMLResponse(html, status_code=status)


def overview(request: Request) -> Response:
    data = pages.overview(service_of(request))
    refresh = LIVE_REFRESH_S if data["live"] else IDLE_REFRESH_S
    return _page(request, "overview.html.j2", data, refresh=refresh)


def job(request: Request) -> Response:
    return _page(
        request, "job.html.j2", pages.job_page(service_of(request), request.path_params["job"])
    )


def run(request: Request) -> Response:
    filters = run_pages.Filters.of(request.query_params)
    data = run_pages.run_page(service_of(request), request.path_params["run_id"], filters)
    if wants_json(request):
        return JSONResponse(data)
    refresh = LIVE_REFRESH_S if data["run"]["ended"] == "running" else None
    view = run_view(data["report"])
    job_name = data["run"]["job"]

    def target_link(name: str) -> str:
        return target_url(job_name, name)

    return _page(
        request, "run_page.html.j2", data, v=view, refresh=refresh, target_link=target_link
    )


def run_report(request: Request) -> Response:
    try:
        fmt = parse_format(request.path_params["format"])
    except FleetError as exc:
        raise pages.NotFound(str(exc)) from exc
    run_id = request.path_params["run_id"]
    body = render(run_pages.run_document(service_of(request), run_id), fmt)
    disposition = "inline" if fmt is ReportFormat.HTML else "attachment"
    filename = f"fleet-{run_id}{SUFFIX[fmt]}".replace('"', "")
    headers = {"Content-Disposition": f'{disposition}; filename="{filename}"'}
    return Response(body, media_type=MEDIA_TYPE[fmt], headers=headers)


def target(request: Request) -> Response:
    params = request.path_params
    data = run_pages.target_page(service_of(request), params["job"], params["target"])
    return _page(request, "target.html.j2", data)


def schedules(request: Request) -> Response:
    return _page(request, "schedules.html.j2", pages.schedules(service_of(request)))


def _both(path: str, handler: Callable[[Request], Response]) -> list[BaseRoute]:
    """The page at ``path`` and its JSON at ``/api`` + ``path``."""
    endpoint = _guarded(handler)
    api = "/api/overview" if path == "/" else f"/api{path}"
    return [
        Route(path, endpoint, methods=["GET", "HEAD"]),
        Route(api, endpoint, methods=["GET", "HEAD"]),
    ]


def dashboard_routes() -> list[BaseRoute]:
    """Every dashboard route (pages and API)."""
    return [
        *_both("/", overview),
        *_both("/schedules", schedules),
        *_both("/jobs/{job}", job),
        *_both("/jobs/{job}/targets/{target:path}", target),
        *_both("/runs/{run_id}", run),
        Route("/runs/{run_id}/report/{format}", _guarded(run_report), methods=["GET", "HEAD"]),
    ]
