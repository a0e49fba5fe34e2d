"""The Open API v1's rules, free of HTTP: API keys, how a request is signed and checked, and what an order
request must hold. DESIGN.md §4 is the contract; reseller systems are written against it, so nothing here
changes shape lightly.

Signature: lowercase hex HMAC-SHA256(secret, the lines timestamp, nonce, METHOD, path with query and the
body's SHA-256 hex, joined by newlines).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from domain.codepool import Sealed
from domain.errors import DomainError, ValidationFailed

CLOCK_SKEW = timedelta(seconds=300)
NONCE_MAX = 64
LABEL_MAX = 64
OUT_TRADE_NO = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
CALLBACK_MAX = 512
ALLOWLIST_MAX = 20
_KEY_ID = re.compile(r"^kq_[A-Za-z0-9]{16}$")


class ApiAuthFailed(DomainError):
    """The request is not from a key holder (401): missing or malformed credentials, an unknown or revoked
    key, a bad signature, a stale timestamp or a reused nonce. `code` says which, for the caller to fix."""

    code = "invalid_signature"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class AddressNotAllowed(DomainError):
    """The key has an IP allowlist and the request came from elsewhere (403)."""

    code = "ip_not_allowed"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__("too many requests for this key", seconds=max(1, int(retry_after.total_seconds()) + 1))
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A reseller's key for the Open API. The secret signs requests; the webhook secret signs our callbacks.
    Both are stored sealed and shown once, when the key is made."""

    key_id: str
    reseller_id: int
    label: str
    secret: Sealed
    webhook_secret: Sealed
    allowed_ips: tuple[str, ...]  # networks (CIDR); empty: any address
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    id: int | None = None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def admits(self, address: str) -> bool:
        if not self.allowed_ips:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped  # an IPv4 caller as a dual-stack socket reports it: the list names it in IPv4
        return any(ip in ipaddress.ip_network(network) for network in self.allowed_ips)


@dataclass(frozen=True, slots=True)
class NewKey:
    """What a new key's holder is told once: the key id, the signing secret and the webhook secret."""

    key: ApiKey
    secret: str
    webhook_secret: str


def new_key_id() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    return "kq_" + "".join(secrets.choice(alphabet) for _ in range(16))


def new_secret() -> str:
    return "sk_" + secrets.token_urlsafe(32)


def parse_allowlist(text: str) -> tuple[str, ...]:
    """Addresses or CIDR networks, separated by commas, spaces or lines; each normalised (`10.0.0.0/8`)."""
    networks: list[str] = []
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValidationFailed({"allowed_ips": "invalid_network"}) from None
    unique = tuple(dict.fromkeys(networks))
    if len(unique) > ALLOWLIST_MAX:
        raise ValidationFailed({"allowed_ips": "too_many_networks"})
    return unique


def check_label(text: str) -> str:
    label = text.strip()
    if len(label) > LABEL_MAX:
        raise ValidationFailed({"label": "too_long"})
    return label


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The parts of an HTTP request the signature covers, and the credentials that came with it."""

    key_id: str
    timestamp: str
    nonce: str
    signature: str
    method: str
    path_with_query: str
    body: bytes

    def signing_string(self) -> bytes:
        return signing_string(self.timestamp, self.nonce, self.method, self.path_with_query, self.body)

    def check_shape(self, now: datetime) -> None:
        """Everything that can be checked before the key is looked up: present, well-formed, in time."""
        if not (self.key_id and self.timestamp and self.nonce and self.signature):
            raise ApiAuthFailed("missing_credentials", "X-Api-Key, X-Timestamp, X-Nonce and X-Signature are required")
        if not _KEY_ID.match(self.key_id):
            raise ApiAuthFailed("invalid_api_key", "unknown API key")
        if not self.timestamp.isdecimal() or len(self.timestamp) > 12:
            raise ApiAuthFailed("invalid_timestamp", "X-Timestamp is unix seconds")
        if abs(int(self.timestamp) - now.timestamp()) > CLOCK_SKEW.total_seconds():
            raise ApiAuthFailed("stale_timestamp", "X-Timestamp is more than 300 s away from our clock")
        if len(self.nonce) > NONCE_MAX or not self.nonce.isprintable():
            raise ApiAuthFailed("invalid_nonce", f"X-Nonce is 1 to {NONCE_MAX} printable characters")

    def check_signature(self, secret: str) -> None:
        expected = sign(secret, self.signing_string())
        if not hmac.compare_digest(expected.encode(), self.signature.strip().lower().encode()):
            raise ApiAuthFailed("invalid_signature", "the signature does not match this request")


def signing_string(timestamp: str, nonce: str, method: str, path_with_query: str, body: bytes) -> bytes:
    return f"{timestamp}\n{nonce}\n{method.upper()}\n{path_with_query}\n{hashlib.sha256(body).hexdigest()}".encode()


def sign(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiOrderRequest:
    """`POST /api/v1/orders`, checked field by field. `fingerprint` is what makes a repeated out_trade_no
    "the same order" (the same fields) or a conflict (anything different)."""

    sku: str
    quantity: int
    out_trade_no: str
    recharge_account: str = ""
    callback_url: str = ""
    fingerprint: str = field(default="", compare=False)

    @classmethod
    def parse(cls, body: Any, max_quantity: int) -> ApiOrderRequest:
        if not isinstance(body, dict):
            raise ValidationFailed({"body": "json_object_required"})
        errors: dict[str, str] = {}
        sku = body.get("sku")
        if not isinstance(sku, str) or not sku.strip():
            errors["sku"] = "required"
        quantity = body.get("quantity", 1)
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            errors["quantity"] = "invalid_quantity"
        elif not 1 <= quantity <= max_quantity:
            errors["quantity"] = "must_be_positive" if quantity < 1 else "too_many"
        out_trade_no = body.get("out_trade_no")
        if not isinstance(out_trade_no, str) or not out_trade_no:
            errors["out_trade_no"] = "required"
        elif not OUT_TRADE_NO.match(out_trade_no):
            errors["out_trade_no"] = "invalid_out_trade_no"
        account = _optional(body, "recharge_account")
        if not isinstance(account, str) or len(account) > 128:
            errors["recharge_account"] = "too_long" if isinstance(account, str) else "invalid_value"
        callback = _optional(body, "callback_url")
        if not isinstance(callback, str) or (callback and not _is_web_url(callback)):
            errors["callback_url"] = "invalid_url"
        unknown = sorted(set(body) - {"sku", "quantity", "out_trade_no", "recharge_account", "callback_url"})
        if unknown:
            errors[unknown[0]] = "unknown_field"
        if errors:
            raise ValidationFailed(errors)
        values = {
            "sku": str(sku).strip().upper(),
            "quantity": quantity,
            "out_trade_no": out_trade_no,
            "recharge_account": str(account).strip(),
            "callback_url": callback,
        }
        canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return cls(**values, fingerprint=hashlib.sha256(canonical.encode()).hexdigest())  # type: ignore[arg-type]


def _optional(body: dict[str, Any], name: str) -> Any:
    """An optional field: absent or null is empty; any other value is checked as given (0 or false is wrong)."""
    value = body.get(name)
    return "" if value is None else value


def _is_web_url(text: str) -> bool:
    if len(text) > CALLBACK_MAX:
        return False
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.username and not parts.password


# IPv6 addresses that carry an IPv4 one, which a NAT64 gateway (IPv6-only networks, clouds' NAT gateways) or an
# old tunnel delivers to: the IPv4 address in their last 32 bits is what they reach. 6to4 is read by `sixtofour`.
_CARRYING_IPV4 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("::/96"))
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # a network's own translation: inside it by definition


def is_public_address(address: str) -> bool:
    """Whether a request we are told to make (a callback, an upstream supplier's) may go to this address: not
    loopback, private, link-local, multicast or reserved (no one may make us call into our own network) — nor an
    IPv6 address that leads to such an IPv4 one through a translator or tunnel."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return False
        carried = any(ip in network for network in _CARRYING_IPV4)
        inside = ip.sixtofour or (ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF) if carried else None)
        if inside is not None:
            return is_public_address(str(inside))
    return True
