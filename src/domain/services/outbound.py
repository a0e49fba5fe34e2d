"""Requests this server makes to addresses it was given — API callers' callback URLs, upstream suppliers' base
URLs. Whoever gives the address could aim the server at services inside its own network (SSRF), so the host must
resolve, and (unless the merchant runs a closed network) only to public addresses. The address checked is the
one to connect to: looked up again, a rebinding DNS could answer with another."""

from __future__ import annotations

from urllib.parse import urlsplit

from domain.api import is_public_address
from domain.errors import ValidationFailed
from domain.ports import AddressResolver


async def checked_address(resolver: AddressResolver, url: str, *, allow_private: bool, field: str) -> str:
    """The address to connect to for `url`; raises ValidationFailed({field: "unresolvable_host" |
    "private_address"})."""
    addresses = await resolver.resolve(urlsplit(url).hostname or "")
    if not addresses:
        raise ValidationFailed({field: "unresolvable_host"})
    if not allow_private and not all(is_public_address(a) for a in addresses):
        raise ValidationFailed({field: "private_address"})
    return addresses[0]
