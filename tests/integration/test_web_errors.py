"""An unexpected failure shows a page with a reference, never the internals behind it."""

from __future__ import annotations

from litestar import get
from litestar.testing import TestClient

from adapters import bootstrap
from web.app import create_app


@get("/boom", exclude_from_auth=True)
async def boom() -> None:
    raise RuntimeError("secret internals: dsn=postgresql://user:pw@db")


def test_a_500_page_carries_a_request_id_and_no_internals(settings):
    app = create_app(bootstrap.build(settings))
    app.register(boom)
    with TestClient(app) as client:
        response = client.get("/boom", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert f"Reference: {response.headers['x-request-id']}" in response.text


def test_only_the_configured_hosts_are_answered(settings):
    app = create_app(bootstrap.build(settings.model_copy(update={"allowed_hosts": ["shop.example.com"]})))
    with TestClient(app) as client:
        assert client.get("/healthz", headers={"Host": "shop.example.com"}).status_code == 200
        assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
