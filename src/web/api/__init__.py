"""The Open API v1 over HTTP (DESIGN.md §4): signed JSON endpoints for resellers' systems under /api/v1, their
OpenAPI schema under /api/schema and an interactive docs page at /api/docs. The services do the work; this package
checks signatures, shapes the answers and gives every error the API's one format."""

from web.api.plugin import OpenApi

__all__ = ["OpenApi"]
