"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar import get
from litestar.di import NamedDependency
from litestar.response import Response

ReadinessCheck = Callable[[], Awaitable[dict[str, str]]]


@get("/healthz", exclude_from_auth=True, include_in_schema=False, cache=False)
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@get("/readyz", exclude_from_auth=True, include_in_schema=False, cache=False)
async def readyz(check_ready: NamedDependency[ReadinessCheck]) -> Response[dict[str, object]]:
    """Able to do real work: the database answers (and Redis, when configured)."""
    checks = await check_ready()
    ok = all(state == "ok" for state in checks.values())
    return Response({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)
