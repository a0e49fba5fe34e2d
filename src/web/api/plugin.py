"""The Open API v1 installed into the app as one Litestar plugin: its routes, its error format and its schema."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from domain.services.api_keys import ApiKeys
from web.api.controllers import api_router
from web.api.docs import docs_page, openapi_config
from web.api.errors import with_api_errors


class OpenApi(InitPluginProtocol):
    """/api/v1 (signed by `api_keys`), /api/docs and the schema at /api/schema.

    The schema documents the API only: the API's router opts in and every other route of the app stays out.
    Plugins start after the app's own on_app_init hooks, so session auth never sees this schema and adds no
    session cookie to it (the API does not take one).
    """

    def __init__(self, api_keys: ApiKeys) -> None:
        self.api_keys = api_keys

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend([api_router(self.api_keys), docs_page])
        app_config.exception_handlers = with_api_errors(app_config.exception_handlers)
        app_config.include_in_schema = False
        app_config.openapi_config = openapi_config()
        return app_config
