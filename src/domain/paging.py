"""Pages of a longer list: what a list screen asks for and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageRequest:
    number: int = 1
    size: int = 25

    def __post_init__(self) -> None:
        object.__setattr__(self, "number", max(1, self.number))
        object.__setattr__(self, "size", min(max(1, self.size), 200))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    request: PageRequest

    @classmethod
    def of(cls, items: list[T], request: PageRequest) -> Page[T]:
        """One page of a list already in memory."""
        return cls(items[request.offset : request.offset + request.size], len(items), request)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.request.size))

    @property
    def has_previous(self) -> bool:
        return self.request.number > 1

    @property
    def has_next(self) -> bool:
        return self.request.number < self.pages
