"""Money is an integer number of minor units (分). Never a float."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Self

from domain.errors import DomainError

# The merchant's currency: every price and cost here is in it (an upstream pricing in another is not bought from).
CURRENCY = "CNY"
_AMOUNT = re.compile(r"^\s*(?P<whole>\d{1,12})(?:\.(?P<fraction>\d{1,2}))?\s*$", re.ASCII)


class InvalidAmount(DomainError):
    code = "invalid_amount"


@dataclass(frozen=True, slots=True, order=True)
class Money:
    minor: int
    currency: str = CURRENCY

    @classmethod
    def parse(cls, text: str, currency: str = CURRENCY) -> Self:
        """'12', '12.5' or '12.50' yuan → 1250 分. Anything else (signs, separators, 3 decimals) is refused."""
        found = _AMOUNT.match(text or "")
        if not found:
            raise InvalidAmount(f"not an amount: {text!r}")
        fraction = (found["fraction"] or "").ljust(2, "0")
        return cls(int(found["whole"]) * 100 + int(fraction), currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor - other.minor, self.currency)

    def __mul__(self, factor: int) -> Money:
        if not isinstance(factor, int):
            return NotImplemented
        return Money(self.minor * factor, self.currency)

    @property
    def amount(self) -> str:
        """Major units as text, always two decimals: '12.50'."""
        sign = "-" if self.minor < 0 else ""
        whole, fraction = divmod(abs(self.minor), 100)
        return f"{sign}{whole}.{fraction:02d}"

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot mix {self.currency} and {other.currency}")
