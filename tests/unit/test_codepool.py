"""Code pool rules: states, secrets that never print, masking, voucher codes with a check character."""

from __future__ import annotations

import itertools

import pytest

from domain.codepool import (
    TRANSITIONS,
    VOUCHER_ALPHABET,
    CardSecret,
    CodeAction,
    CodeState,
    IllegalTransition,
    StockCounts,
    check_transition,
    is_valid_voucher,
    mask,
    new_voucher,
)
from domain.errors import ValidationFailed

ALLOWED = {
    ("available", "reserved"),
    ("available", "frozen"),
    ("available", "void"),
    ("reserved", "available"),
    ("reserved", "sold"),
    ("frozen", "available"),
    ("frozen", "void"),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(CodeState, CodeState)))
def test_only_the_allowed_transitions_pass(current, target):
    if (current.value, target.value) in ALLOWED:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(current, target)


def test_sold_and_void_are_final():
    assert TRANSITIONS[CodeState.SOLD] == TRANSITIONS[CodeState.VOID] == frozenset()


def test_a_secret_is_trimmed_and_round_trips_through_its_plaintext():
    secret = CardSecret.of("  ABCD-1234-EFGH-5678 ", " 9988 ")
    assert (secret.number, secret.pin) == ("ABCD-1234-EFGH-5678", "9988")
    assert CardSecret.from_plaintext(secret.plaintext()) == secret
    assert CardSecret.from_plaintext(CardSecret.of("X1").plaintext()) == CardSecret("X1", "")


def test_a_secret_never_shows_itself_in_repr():
    secret = CardSecret.of("ABCD1234EFGH5678", "PIN-999")
    assert "1234EFGH" not in repr(secret) and "PIN-999" not in repr(secret) and "ABCD****5678" in repr(secret)


@pytest.mark.parametrize(
    ("number", "pin", "errors"),
    [
        ("", "", {"number": "required"}),
        ("x" * 257, "", {"number": "too_long"}),
        ("AB\nCD", "", {"number": "control_characters"}),
        ("ABCD", "p\x00", {"pin": "control_characters"}),
        ("ABCD", "p" * 129, {"pin": "too_long"}),
    ],
)
def test_bad_secrets_are_refused(number, pin, errors):
    with pytest.raises(ValidationFailed) as caught:
        CardSecret.of(number, pin)
    assert caught.value.errors == errors


@pytest.mark.parametrize(
    ("number", "masked"),
    [("ABCD1234EFGH5678", "ABCD****5678"), ("ABCDEFGHWXYZ", "ABCD****WXYZ"), ("AB1234", "AB****34"), ("ABC", "****")],
)
def test_masking_shows_only_the_ends(number, masked):
    assert mask(number) == masked


def test_stock_counts_add_up():
    counts = StockCounts(available=5, reserved=2, sold=10, frozen=1, void=3)
    assert counts.total == 21 and counts.of(CodeState.SOLD) == 10


def test_voucher_codes_have_the_requested_length_a_valid_check_character_and_no_look_alikes():
    codes = {new_voucher(12) for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert len(code) == 12 and is_valid_voucher(code)
        assert not set(code) & set("01ILO")
    assert is_valid_voucher(next(iter(codes)).lower()), "typing in lower case is fine"


def test_the_check_character_catches_every_single_substitution():
    code = new_voucher(10)
    for position, replacement in itertools.product(range(len(code)), VOUCHER_ALPHABET):
        if replacement != code[position]:
            assert not is_valid_voucher(code[:position] + replacement + code[position + 1 :])


def test_the_check_character_catches_nearly_every_adjacent_swap():
    swaps = caught = 0
    for _ in range(500):
        code = new_voucher(12)
        for position in range(len(code) - 1):
            swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
            if swapped != code:
                swaps += 1
                caught += not is_valid_voucher(swapped)
    assert caught / swaps > 0.99  # Luhn mod N misses only swaps of one specific pair of characters


@pytest.mark.parametrize("length", [7, 33])
def test_voucher_length_is_bounded(length):
    with pytest.raises(ValidationFailed):
        new_voucher(length)


@pytest.mark.parametrize("action", list(CodeAction))
def test_every_manual_action_is_an_allowed_transition(action):
    for source in action.sources:
        check_transition(source, action.target)
    assert CodeState.SOLD not in action.sources and CodeState.RESERVED not in action.sources


@pytest.mark.parametrize("invisible", ["\u200b", "\ufeff", "\u2028", "\u202e", "\u00ad", "\x85"])
def test_invisible_characters_make_a_secret_invalid(invisible):
    with pytest.raises(ValidationFailed):
        CardSecret.of(f"ABCD{invisible}1234")
