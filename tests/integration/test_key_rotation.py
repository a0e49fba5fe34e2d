"""Rotating the key ring: everything it sealed — codes, delivered units' links and typed-in codes, API keys' and
upstreams' secrets — re-sealed under the new key, resumably, and still readable once the old key is gone."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adapters.clock import SystemClock
from adapters.db.uow import SqlUnitOfWorkFactory
from adapters.keys import KeyRing, rotate_code_keys
from adapters.vault import AesGcmVault
from domain.audit import Actor
from domain.catalog import ProductDraft
from domain.codepool import BatchDetails, CardSecret
from domain.money import Money
from domain.paging import PageRequest
from domain.resellers import ResellerDraft
from domain.services import upstreams
from domain.services.api_keys import secret_binding, webhook_binding
from domain.services.codes import Codes
from domain.services.keys import KeyRotation
from domain.services.redemption import Redemption, order_tokens
from domain.webhooks import new_secret
from tests.integration.shopping import RecordedJobs as ShopJobs
from tests.integration.shopping import buy, notice, stocked
from tests.unit.fakes import KnownHosts

CLI = Actor.cli()


class Stop(Exception):
    pass


class RecordedJobs:
    def __init__(self) -> None:
        self.reseals = 0

    async def import_codes(self, import_id: int) -> None:
        raise AssertionError("no import here")

    async def reseal_codes(self) -> None:
        self.reseals += 1


async def typed_in_delivery(container) -> str:
    """An order delivered by hand: its unit seals a link token and the code staff typed. Returns the token."""
    await stocked(container, sku="HAND-1", count=0, kind="manual")
    jobs = ShopJobs()
    ordering, delivery = replace(container.ordering, jobs=jobs), replace(container.delivery, jobs=jobs)
    order = await ordering.place(buy(1, sku="HAND-1"))
    await ordering.pay(notice(container, order))
    await delivery.deliver(order.id)
    done = await delivery.fulfil(order.id, ["TYPED-1,PIN-1"], CLI)
    async with container.ordering.uow(read_only=True) as uow:
        [token] = await order_tokens(uow, container.redemption.vault, done)
    return token


async def test_a_rotated_ring_reseals_everything_resumably(container, settings, monkeypatch):
    draft = ProductDraft(sku="ROT-1", name="Rotate", face_value="1", retail_price="1")
    pid = (await container.catalog.create(draft, CLI)).id
    lines = [(n, f"ROT-{n:05d}", f"P{n}") for n in range(250)]
    await container.stock.add_codes(pid, lines, BatchDetails("test", Money(1)), CLI)
    token = await typed_in_delivery(container)
    reseller = await container.resellers.create(ResellerDraft("Rotating", "rot@example.com"), CLI)
    api_key = await container.api_keys.create(reseller.id, "order server", "", CLI)
    hosts = KnownHosts({"up.example.com": ["93.184.215.14"]})
    upstream_webhook_secret = new_secret()
    upstream = await replace(container.upstreams, resolver=hosts).add(
        "up", "https://up.example.com", "kq_" + "A" * 16, "sk_upstream", upstream_webhook_secret, CLI
    )
    old_key = container.secrets.code_keys.active
    # 250 codes; a delivered unit's link and typed code; an API key's two secrets; an upstream's two.
    assert await container.key_rotation.status() == {old_key: 256}

    ring, path = rotate_code_keys(settings)
    assert path is not None and ring.active != old_key and set(ring.keys) == {old_key, ring.active}
    vault = AesGcmVault(ring, container.secrets.fingerprint_key)
    uow = SqlUnitOfWorkFactory(container.engine)
    jobs = RecordedJobs()
    rotation = KeyRotation(uow, vault, jobs, SystemClock())
    assert await rotation.reseal_if_needed() and jobs.reseals == 1, "the restart hands the re-seal to the workers"
    monkeypatch.setattr("domain.services.keys.STEP", 100)

    def stop_after_first_step(kind: str, done: int) -> None:
        raise Stop()

    with pytest.raises(Stop):
        await rotation.reseal_all(CLI, stop_after_first_step)
    assert await rotation.status() == {ring.active: 100, old_key: 156}
    steps: list[tuple[str, int]] = []
    resealed = await rotation.reseal_all(CLI, lambda kind, done: steps.append((kind, done)))
    assert resealed == {"codes": 150, "delivered_units": 1, "api_keys": 1, "upstreams": 1}, "picks up where it was"
    assert steps == [("codes", 100), ("codes", 150), ("delivered_units", 1), ("api_keys", 1), ("upstreams", 1)]
    assert await rotation.status() == {ring.active: 256}
    assert await rotation.reseal_all(CLI) == {"codes": 0, "delivered_units": 0, "api_keys": 0, "upstreams": 0}
    assert not await rotation.reseal_if_needed() and jobs.reseals == 1

    # The old key leaves the ring: everything opens with the new key alone.
    new_only = AesGcmVault(
        KeyRing({ring.active: ring.keys[ring.active]}, ring.active), container.secrets.fingerprint_key
    )
    page = await Codes(uow, new_only, SystemClock()).of_batch(pid, 1, PageRequest(1, 5))
    assert [view.masked for view in page.items][:2] == ["RO****00", "RO****01"]
    _, secret = await Codes(uow, new_only, SystemClock()).reveal(pid, page.items[0].code.id, CLI)
    assert secret == CardSecret("ROT-00000", "P0")
    typed = await Redemption(uow, new_only, SystemClock()).view(token)
    assert typed.secret == CardSecret("TYPED-1", "PIN-1")
    async with uow(read_only=True) as read:
        [again] = await order_tokens(read, new_only, typed.order)
        key = await read.api_keys.get(api_key.key.id)
        stored = await read.suppliers.get(upstream.id)
    assert again == token
    assert new_only.open(key.secret, binding=secret_binding(key.key_id)).decode() == api_key.secret
    assert new_only.open(key.webhook_secret, binding=webhook_binding(key.key_id)).decode() == api_key.webhook_secret
    assert key.is_active and key.label == "order server", "nothing but the secrets changed"
    assert new_only.open(stored.secret, binding=upstreams.secret_binding("up")).decode() == "sk_upstream"
    assert await replace(container.upstreams, vault=new_only).webhook_secret(upstream.id) == upstream_webhook_secret
