"""The ASGI app of ``fleet serve`` (Starlette), served by uvicorn on ``--listen``.

``create_app(service)`` builds it around a :class:`fleet.serve.view.ServiceView`: every route
reads the service through ``service_of(request)`` and never changes anything (read-only). The
routes are listed by :func:`routes` — the dashboard, its JSON API and ``/metrics`` add theirs
there — plus ``extra`` ones a caller (a test) passes. ``GET /healthz`` answers whether the
service is up, with its jobs and the runs in flight.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from fleet.serve.auth import SecurityHeaders, TokenAuth
from fleet.serve.view import ServiceView


def service_of(request: Request) -> ServiceView:
    """The service the app was created for."""
    service: ServiceView = request.app.state.service
    return service


async def healthz(request: Request) -> JSONResponse:
    service = service_of(request)
    body = {
        "ok": True,
        "jobs": [job.name for job in service.jobs()],
        "running": [run.run_id for run in service.live()],
    }
    return JSONResponse(body)


def routes() -> list[BaseRoute]:
    """Every route of the service's web app: health, the dashboard and its API, metrics."""
    from fleet.serve.dashboard import dashboard_routes  # they read the service via service_of
    from fleet.serve.metrics import metrics_route

    return [Route("/healthz", healthz, methods=["GET"]), *dashboard_routes(), metrics_route()]


def create_app(
    service: ServiceView, *, extra: Sequence[BaseRoute] = (), token: str | None = None
) -> Starlette:
    """The web app over ``service``. ``token``: the bearer token every request must present
    (``fleet.serve.auth.listen_policy`` says whether one is required); every response carries
    the security headers (no script, no framing)."""
    from fleet.serve.metrics import metrics_registry

    app = Starlette(routes=[*routes(), *extra])
    app.state.service = service
    app.state.metrics_registry = metrics_registry(service)
    if token:
        app.add_middleware(TokenAuth, token=token)
    app.add_middleware(SecurityHeaders)  # outermost: refusals carry the headers too
    return app
