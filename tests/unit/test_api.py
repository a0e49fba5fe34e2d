"""The Open API's rules without HTTP: how a request is signed (DESIGN.md §4, the contract reseller systems are
written against), which credentials are refused and why, what an order request must hold, and which addresses
a key admits or a callback may reach."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from domain.api import (
    ApiAuthFailed,
    ApiKey,
    ApiOrderRequest,
    SignedRequest,
    is_public_address,
    parse_allowlist,
    sign,
    signing_string,
)
from domain.codepool import Sealed
from domain.errors import ValidationFailed

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
SECRET = "sk_test-secret"
BODY = b'{"sku":"IQ-M","quantity":1,"out_trade_no":"T-1"}'


def signed(secret: str = SECRET, **changes: str | bytes) -> SignedRequest:
    """A request signed by the rules of DESIGN.md §4, computed here without the code under test."""
    parts: dict = {
        "key_id": "kq_ABCDEFGHJKLMNPQR",
        "timestamp": str(int(NOW.timestamp())),
        "nonce": "nonce-1",
        "method": "POST",
        "path_with_query": "/api/v1/orders?lang=en",
        "body": BODY,
    } | changes
    lines = [parts["timestamp"], parts["nonce"], parts["method"].upper(), parts["path_with_query"]]
    message = "\n".join([*lines, hashlib.sha256(parts["body"]).hexdigest()]).encode()
    return SignedRequest(signature=hmac.new(secret.encode(), message, hashlib.sha256).hexdigest(), **parts)


def failure(request: SignedRequest, now: datetime = NOW) -> str:
    with pytest.raises(ApiAuthFailed) as caught:
        request.check_shape(now)
    return caught.value.code


# Signing string and signature


def test_the_signing_string_is_the_five_lines_of_the_contract():
    request = signed(method="post")
    lines = [request.timestamp, "nonce-1", "POST", "/api/v1/orders?lang=en", hashlib.sha256(BODY).hexdigest()]
    assert request.signing_string() == "\n".join(lines).encode()


def test_a_fixed_vector_signs_to_the_same_hex_for_ever():
    """Reseller systems hard-code this computation: its result must never move."""
    message = signing_string("1700000000", "n-0001", "post", "/api/v1/orders?x=1", b'{"sku":"IQ-M"}')
    assert sign("sk_vector", message) == "2e7e5db17228e10da86ed513eef0370d2544e0b1102fac21ae9ccbb6d29b8c34"


def test_an_empty_body_hashes_to_the_well_known_empty_digest():
    request = signed(method="GET", path_with_query="/api/v1/balance", body=b"")
    assert request.signing_string().endswith(
        b"\nGET\n/api/v1/balance\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_a_request_signed_by_the_contract_passes():
    signed().check_shape(NOW)
    signed().check_signature(SECRET)


def test_uppercase_hex_is_the_same_signature():
    request = signed()
    replace(request, signature=request.signature.upper()).check_signature(SECRET)


@pytest.mark.parametrize(
    "tampered",
    [
        {"body": BODY.replace(b'"quantity":1', b'"quantity":9')},
        {"path_with_query": "/api/v1/orders?lang=zh"},
        {"method": "PUT"},
        {"nonce": "nonce-2"},
        {"timestamp": str(int(NOW.timestamp()) + 1)},
    ],
    ids=["body", "path", "method", "nonce", "timestamp"],
)
def test_any_signed_part_changed_breaks_the_signature(tampered):
    request = replace(signed(), **tampered)
    with pytest.raises(ApiAuthFailed) as caught:
        request.check_signature(SECRET)
    assert caught.value.code == "invalid_signature"


def test_another_secret_does_not_verify():
    with pytest.raises(ApiAuthFailed) as caught:
        signed().check_signature("sk_someone-else")
    assert caught.value.code == "invalid_signature"


# Credentials' shape and time


@pytest.mark.parametrize("missing", ["key_id", "timestamp", "nonce", "signature"])
def test_every_credential_header_is_required(missing):
    assert failure(replace(signed(), **{missing: ""})) == "missing_credentials"


@pytest.mark.parametrize("key_id", ["kq_short", "KQ_ABCDEFGHJKLMNPQR", "kq_ABCDEFGHJKLMNPQ!", "kq_ABCDEFGHJKLMNPQRS"])
def test_a_malformed_key_id_is_not_looked_up(key_id):
    assert failure(signed(key_id=key_id)) == "invalid_api_key"


@pytest.mark.parametrize("timestamp", ["soon", "1.7e9", "-1700000000", " 1700000000", "1700000000.5", "9" * 13])
def test_a_timestamp_is_unix_seconds(timestamp):
    assert failure(signed(timestamp=timestamp)) == "invalid_timestamp"


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_a_timestamp_within_300_seconds_is_in_time(offset):
    signed(timestamp=str(int(NOW.timestamp()) + offset)).check_shape(NOW)


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_a_timestamp_further_off_is_stale(offset):
    assert failure(signed(timestamp=str(int(NOW.timestamp()) + offset))) == "stale_timestamp"


@pytest.mark.parametrize("nonce", ["x" * 65, "two\nlines", "tab\there", "nul\x00"])
def test_a_nonce_is_at_most_64_printable_characters(nonce):
    assert failure(signed(nonce=nonce)) == "invalid_nonce"


def test_a_64_character_nonce_is_fine():
    signed(nonce="n" * 64).check_shape(NOW)


# Order requests


def order(**fields: object) -> dict:
    return {"sku": "iq-m", "quantity": 2, "out_trade_no": "T-1"} | fields


def errors_of(body: object) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        ApiOrderRequest.parse(body, max_quantity=10)
    return caught.value.errors


def test_an_order_request_is_read_and_normalised():
    parsed = ApiOrderRequest.parse(
        order(sku="  iq-m ", recharge_account=" 13800000000 ", callback_url="https://reseller.example/hook"), 10
    )
    assert (parsed.sku, parsed.quantity, parsed.out_trade_no) == ("IQ-M", 2, "T-1")
    assert (parsed.recharge_account, parsed.callback_url) == ("13800000000", "https://reseller.example/hook")


def test_quantity_defaults_to_one_and_the_optional_fields_to_nothing():
    parsed = ApiOrderRequest.parse({"sku": "IQ-M", "out_trade_no": "T-1"}, 10)
    assert (parsed.quantity, parsed.recharge_account, parsed.callback_url) == (1, "", "")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"sku": ""}, {"sku": "required"}),
        ({"sku": "   "}, {"sku": "required"}),
        ({"sku": 7}, {"sku": "required"}),
        ({"quantity": "2"}, {"quantity": "invalid_quantity"}),
        ({"quantity": 2.0}, {"quantity": "invalid_quantity"}),
        ({"quantity": True}, {"quantity": "invalid_quantity"}),
        ({"quantity": None}, {"quantity": "invalid_quantity"}),
        ({"quantity": 0}, {"quantity": "must_be_positive"}),
        ({"quantity": -3}, {"quantity": "must_be_positive"}),
        ({"quantity": 11}, {"quantity": "too_many"}),
        ({"out_trade_no": ""}, {"out_trade_no": "required"}),
        ({"out_trade_no": 123}, {"out_trade_no": "required"}),
        ({"out_trade_no": "has space"}, {"out_trade_no": "invalid_out_trade_no"}),
        ({"out_trade_no": "x" * 65}, {"out_trade_no": "invalid_out_trade_no"}),
        ({"recharge_account": "1" * 129}, {"recharge_account": "too_long"}),
        ({"recharge_account": 13800000000}, {"recharge_account": "invalid_value"}),
        ({"recharge_account": False}, {"recharge_account": "invalid_value"}),
        ({"callback_url": "ftp://reseller.example/hook"}, {"callback_url": "invalid_url"}),
        ({"callback_url": "https://user:pw@reseller.example/hook"}, {"callback_url": "invalid_url"}),
        ({"callback_url": "https:///no-host"}, {"callback_url": "invalid_url"}),
        ({"callback_url": "https://reseller.example/" + "x" * 512}, {"callback_url": "invalid_url"}),
        ({"callback_url": 0}, {"callback_url": "invalid_url"}),
        ({"price": "0.01"}, {"price": "unknown_field"}),
    ],
)
def test_each_field_names_its_own_problem(fields, expected):
    assert errors_of(order(**fields)) == expected


def test_every_problem_is_named_at_once():
    assert errors_of({"sku": "", "quantity": False, "out_trade_no": "no spaces"}) == {
        "sku": "required",
        "quantity": "invalid_quantity",
        "out_trade_no": "invalid_out_trade_no",
    }


@pytest.mark.parametrize("body", [[], "sku=IQ-M", None, 3])
def test_the_body_is_a_json_object(body):
    assert errors_of(body) == {"body": "json_object_required"}


def test_equal_requests_have_one_fingerprint_whatever_their_spelling():
    first = ApiOrderRequest.parse(order(sku="iq-m", recharge_account="acc"), 10)
    again = ApiOrderRequest.parse(
        {"out_trade_no": "T-1", "recharge_account": " acc ", "quantity": 2, "sku": "IQ-M "}, 10
    )
    assert first.fingerprint == again.fingerprint and len(first.fingerprint) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"sku": "IQ-Y"},
        {"quantity": 3},
        {"out_trade_no": "T-2"},
        {"recharge_account": "another"},
        {"callback_url": "https://reseller.example/hook"},
    ],
)
def test_any_different_field_is_another_fingerprint(change):
    base = ApiOrderRequest.parse(order(recharge_account="acc"), 10)
    assert ApiOrderRequest.parse(order(recharge_account="acc") | change, 10).fingerprint != base.fingerprint


# Allowlists and addresses


def key(*networks: str) -> ApiKey:
    sealed = Sealed("k1", b"n" * 12, b"c")
    return ApiKey("kq_ABCDEFGHJKLMNPQR", 1, "", sealed, sealed, networks, NOW)


def test_an_allowlist_is_read_from_commas_spaces_and_lines_and_normalised():
    assert parse_allowlist(" 203.0.113.7, 10.1.2.3/8\n2001:db8::/32  203.0.113.7 ") == (
        "203.0.113.7/32",
        "10.0.0.0/8",
        "2001:db8::/32",
    )
    assert parse_allowlist("  ") == ()


@pytest.mark.parametrize("text", ["10.0.0.300", "example.com", "10.0.0.0/33", "::g"])
def test_an_allowlist_names_addresses_or_networks_only(text):
    with pytest.raises(ValidationFailed) as caught:
        parse_allowlist(text)
    assert caught.value.errors == {"allowed_ips": "invalid_network"}


def test_an_allowlist_holds_at_most_twenty_networks():
    assert len(parse_allowlist(" ".join(f"203.0.113.{n}" for n in range(20)))) == 20
    with pytest.raises(ValidationFailed) as caught:
        parse_allowlist(" ".join(f"203.0.113.{n}" for n in range(21)))
    assert list(caught.value.errors) == ["allowed_ips"]


def test_repeats_count_once_towards_the_limit():
    assert parse_allowlist(" ".join(["203.0.113.7"] * 30)) == ("203.0.113.7/32",)


def test_a_key_without_allowlist_admits_any_address():
    assert key().admits("198.51.100.1") and key().admits("2001:db8::1")


def test_a_key_admits_its_addresses_and_networks_only():
    allowed = key("203.0.113.7/32", "10.0.0.0/8", "2001:db8::/32")
    assert allowed.admits("203.0.113.7") and allowed.admits("10.20.30.40") and allowed.admits("2001:db8::42")
    assert not allowed.admits("203.0.113.8")
    assert not allowed.admits("2001:db9::1")
    assert not allowed.admits("unknown"), "an address the server could not tell is never on a list"


def test_an_ipv4_caller_seen_through_a_dual_stack_socket_is_still_itself():
    assert key("203.0.113.0/24").admits("::ffff:203.0.113.9")
    assert not key("203.0.113.0/24").admits("::ffff:198.51.100.9")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.9.9.9",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # noqa: S104 — the address under test
        "224.0.0.1",
        "::1",
        "::",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        # IPv6 that NAT64 gateways and tunnels turn into internal IPv4: 10.0.0.1, 169.254.169.254, 127.0.0.1 …
        "64:ff9b::a00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::a00:1",
        "2002:7f00:1::1",
        "2002:a9fe:a9fe::",
        "::127.0.0.1",
        "not an address",
    ],
)
def test_internal_addresses_are_not_public(address):
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::5db8:d70e", "2002:5db8:d70e::1"]
)
def test_internet_addresses_are_public(address):
    assert is_public_address(address)
