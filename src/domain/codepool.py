"""The code pool (卡密池): secret codes, their states, and the rules that keep each sold at most once.

A code moves available → reserved → sold; it can also be frozen (held back) and void (never to be
sold). Per batch, available + reserved + sold + frozen + void always equals what was imported.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum

from domain.errors import DomainError, ValidationFailed
from domain.money import InvalidAmount, Money

NUMBER_MAX, PIN_MAX = 256, 128


class CodeState(StrEnum):
    AVAILABLE = "available"
    RESERVED = "reserved"
    SOLD = "sold"
    FROZEN = "frozen"
    VOID = "void"


TRANSITIONS: dict[CodeState, frozenset[CodeState]] = {
    CodeState.AVAILABLE: frozenset({CodeState.RESERVED, CodeState.FROZEN, CodeState.VOID}),
    CodeState.RESERVED: frozenset({CodeState.AVAILABLE, CodeState.SOLD}),
    CodeState.FROZEN: frozenset({CodeState.AVAILABLE, CodeState.VOID}),
    CodeState.SOLD: frozenset(),
    CodeState.VOID: frozenset(),
}


class IllegalTransition(DomainError):
    code = "illegal_code_transition"


class VaultError(DomainError):
    """A sealed code could not be opened: unknown key, or ciphertext or binding tampered with."""

    code = "vault_error"


class OutOfStock(DomainError):
    code = "out_of_stock"


class CodeAction(StrEnum):
    """What staff may do to codes by hand, one code or a whole batch at a time."""

    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    VOID = "void"

    @property
    def sources(self) -> frozenset[CodeState]:
        """The states a code must be in for this action to touch it; others in a batch are left alone."""
        return {
            CodeAction.FREEZE: frozenset({CodeState.AVAILABLE}),
            CodeAction.UNFREEZE: frozenset({CodeState.FROZEN}),
            CodeAction.VOID: frozenset({CodeState.AVAILABLE, CodeState.FROZEN}),
        }[self]

    @property
    def target(self) -> CodeState:
        return {
            CodeAction.FREEZE: CodeState.FROZEN,
            CodeAction.UNFREEZE: CodeState.AVAILABLE,
            CodeAction.VOID: CodeState.VOID,
        }[self]


UNSOLD = frozenset({CodeState.AVAILABLE, CodeState.FROZEN})  # what an export may take out of the pool


def check_transition(current: CodeState, target: CodeState) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f"a {current} code cannot become {target}", current=current, target=target)


@dataclass(frozen=True, slots=True)
class CardSecret:
    """A code in plain text: the card number and, for some cards, a password/PIN. Lives only in memory."""

    number: str
    pin: str = ""

    @classmethod
    def of(cls, number: str, pin: str = "") -> CardSecret:
        """Trimmed and checked; raises ValidationFailed naming what is wrong."""
        number, pin = number.strip(), pin.strip()
        errors: dict[str, str] = {}
        if not number:
            errors["number"] = "required"
        elif len(number) > NUMBER_MAX:
            errors["number"] = "too_long"
        elif _has_control_characters(number):
            errors["number"] = "control_characters"
        if len(pin) > PIN_MAX:
            errors["pin"] = "too_long"
        elif _has_control_characters(pin):
            errors["pin"] = "control_characters"
        if errors:
            raise ValidationFailed(errors)
        return cls(number, pin)

    @property
    def masked(self) -> str:
        return mask(self.number)

    def plaintext(self) -> bytes:
        """The bytes that are sealed; numbers and PINs never hold a newline, so they split back exactly."""
        return f"{self.number}\n{self.pin}".encode()

    @classmethod
    def from_plaintext(cls, data: bytes) -> CardSecret:
        number, _, pin = data.decode().partition("\n")
        return cls(number, pin)

    def __repr__(self) -> str:
        # Never let a secret reach a log line or a traceback through repr().
        return f"CardSecret({self.masked!r})"


def mask(number: str) -> str:
    """ABCD****WXYZ: enough to recognise a code, not enough to use it."""
    if len(number) >= 12:
        return f"{number[:4]}****{number[-4:]}"
    if len(number) >= 6:
        return f"{number[:2]}****{number[-2:]}"
    return "****"


# Control characters (C0, DEL, C1) and invisible ones (soft hyphen, zero-width, line/paragraph
# separators, bidi controls, BOM): never part of a code, and they would defeat duplicate detection.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


def _has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


@dataclass(frozen=True, slots=True)
class Sealed:
    """A code encrypted at rest: which key sealed it, the nonce, and the ciphertext (with its tag)."""

    key_id: str
    nonce: bytes
    ciphertext: bytes


def binding(product_id: int, fingerprint: bytes) -> str:
    """Associated data for sealing: ties a ciphertext to its own row (a product's code with this fingerprint)."""
    return f"kaquan:code:{product_id}:{fingerprint.hex()}"


@dataclass(frozen=True, slots=True)
class StoredCode:
    """A code as the pool keeps it: sealed, with its state and, while reserved or sold, its holder."""

    id: int
    product_id: int
    batch_id: int
    state: CodeState
    fingerprint: bytes
    sealed: Sealed
    state_changed_at: datetime
    holder: str | None = None

    @property
    def binding(self) -> str:
        return binding(self.product_id, self.fingerprint)


@dataclass(frozen=True, slots=True)
class SoldCode:
    """A code as its sale leaves it, with what its batch cost per unit and when that batch expires: all a delivery
    books and hands over, without reading it back."""

    code: StoredCode
    unit_cost: Money
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class StockCounts:
    available: int = 0
    reserved: int = 0
    sold: int = 0
    frozen: int = 0
    void: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    def of(self, state: CodeState | str) -> int:
        return int(getattr(self, CodeState(state).value))


@dataclass(frozen=True, slots=True)
class BatchDetails:
    """What the merchant says about a delivery of codes: where from, what each cost, when they expire."""

    source: str
    unit_cost: Money
    expires_at: datetime | None = None

    @classmethod
    def checked(cls, source: str, unit_cost: str, expires_at: datetime | None, now: datetime) -> BatchDetails:
        errors: dict[str, str] = {}
        source = source.strip()
        if not source:
            errors["source"] = "required"
        elif len(source) > 60:
            errors["source"] = "too_long"
        try:
            cost = Money.parse(unit_cost or "0")
        except InvalidAmount:
            errors["unit_cost"] = "invalid_amount"
        if expires_at is not None and expires_at <= now:
            errors["expires_at"] = "in_the_past"
        if errors:
            raise ValidationFailed(errors)
        return cls(source, cost, expires_at)


@dataclass(frozen=True, slots=True)
class Batch:
    """One delivery of codes into the pool: where they came from, what they cost, when they expire."""

    product_id: int
    source: str
    unit_cost: Money
    imported_by: str
    imported_at: datetime
    expires_at: datetime | None = None
    total: int = 0
    id: int | None = None


# Voucher codes: no look-alikes (0/O, 1/I/L), so a buyer reading one aloud or typing it gets it right.
# U goes too, so the alphabet has an even size: Luhn mod N needs that to catch every single substitution.
VOUCHER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
VOUCHER_MIN, VOUCHER_MAX = 8, 32


def check_character(body: str) -> str:
    """Luhn mod N over the voucher alphabet: catches any single wrong character and most swaps."""
    base = len(VOUCHER_ALPHABET)
    total, factor = 0, 2
    for char in reversed(body):
        addend = factor * VOUCHER_ALPHABET.index(char)
        total += addend // base + addend % base
        factor = 1 if factor == 2 else 2
    return VOUCHER_ALPHABET[(base - total % base) % base]


def new_voucher(length: int) -> str:
    """A random voucher code of `length` characters, the last one a check character."""
    if not VOUCHER_MIN <= length <= VOUCHER_MAX:
        raise ValidationFailed({"length": "voucher_length"})
    body = "".join(secrets.choice(VOUCHER_ALPHABET) for _ in range(length - 1))
    return body + check_character(body)


def is_valid_voucher(code: str) -> bool:
    code = code.strip().upper().replace("-", "").replace(" ", "")
    if len(code) < 2 or any(char not in VOUCHER_ALPHABET for char in code):
        return False
    return check_character(code[:-1]) == code[-1]
