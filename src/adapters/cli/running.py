"""What every `kaquan` command shares: plain-text or JSON output, and running one piece of async work
on freshly built services with domain errors turned into a clean exit status."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import click
from sqlalchemy.exc import DBAPIError

from adapters import bootstrap
from adapters.keys import MissingSecrets
from domain.errors import DomainError, ValidationFailed


class Output:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, data: dict[str, Any], text: str) -> None:
        click.echo(json.dumps(data, ensure_ascii=False, default=str) if self.as_json else text)


def run(work: Callable[[bootstrap.Container], Awaitable[Any]]) -> Any:
    """Build the services, run one piece of async work, close them, and turn domain errors into exit 1."""

    async def main() -> Any:
        container = bootstrap.build(queue=False)
        try:
            return await work(container)
        finally:
            await container.aclose()

    try:
        return asyncio.run(main())
    except ValidationFailed as error:
        raise click.ClickException(
            "invalid input: " + ", ".join(f"{k} ({v})" for k, v in error.errors.items())
        ) from None
    except (DomainError, MissingSecrets) as error:
        raise click.ClickException(str(error)) from None
    except DBAPIError as error:
        raise click.ClickException(
            f"database error: {error.orig} (is the schema current? `kaquan db upgrade`)"
        ) from None
