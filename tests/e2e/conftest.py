from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.server import Server, running_app


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The embedded default: SQLite under a fresh var/, in-process worker, in-memory counters."""
    with running_app(tmp_path_factory.mktemp("app")) as server:
        yield server
