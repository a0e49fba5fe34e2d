"""Bounds on numbers taken from URLs: a huge id is a 400, not a database driver's overflow (500)."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter

RowId = Annotated[int, Parameter(ge=1, le=2**63 - 1)]
PageNumber = Annotated[int, Parameter(ge=1, le=1_000_000)]
OptionalRowId = Annotated[int | None, Parameter(ge=1, le=2**63 - 1)]
