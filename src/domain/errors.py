"""Domain errors carry a stable `code`; the web layer maps each code once to HTTP and to translated text."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule said no. `code` is stable (APIs and message catalogs key on it); `params` fill the message."""

    code = "domain_error"

    def __init__(self, message: str = "", **params: Any) -> None:
        super().__init__(message or self.code)
        self.params = params


class NotFound(DomainError):
    code = "not_found"


class ValidationFailed(DomainError):
    """Input broke a rule. `errors` maps each field to the code of what is wrong with it."""

    code = "validation_error"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in errors.items()))
        self.errors = errors
