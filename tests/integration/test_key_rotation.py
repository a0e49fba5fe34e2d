"""Rotating the code key: every code re-sealed under the new key, resumably, and still readable."""

from __future__ import annotations

import pytest

from adapters.clock import SystemClock
from adapters.db.uow import SqlUnitOfWorkFactory
from adapters.keys import rotate_code_keys
from adapters.vault import AesGcmVault
from domain.audit import Actor
from domain.catalog import ProductDraft
from domain.codepool import BatchDetails, CardSecret
from domain.money import Money
from domain.paging import PageRequest
from domain.services.codes import Codes
from domain.services.keys import KeyRotation


class Stop(Exception):
    pass


class RecordedJobs:
    def __init__(self) -> None:
        self.reseals = 0

    async def import_codes(self, import_id: int) -> None:
        raise AssertionError("no import here")

    async def reseal_codes(self) -> None:
        self.reseals += 1


async def test_a_rotated_ring_reseals_everything_resumably(container, settings, monkeypatch):
    draft = ProductDraft(sku="ROT-1", name="Rotate", face_value="1", retail_price="1")
    pid = (await container.catalog.create(draft, Actor.cli())).id
    lines = [(n, f"ROT-{n:05d}", f"P{n}") for n in range(250)]
    await container.stock.add_codes(pid, lines, BatchDetails("test", Money(1)), Actor.cli())
    old_key = container.secrets.code_keys.active
    assert await container.key_rotation.status() == {old_key: 250}

    ring, path = rotate_code_keys(settings)
    assert path is not None and ring.active != old_key and set(ring.keys) == {old_key, ring.active}
    vault = AesGcmVault(ring, container.secrets.fingerprint_key)
    uow = SqlUnitOfWorkFactory(container.engine)
    jobs = RecordedJobs()
    rotation = KeyRotation(uow, vault, jobs, SystemClock())
    assert await rotation.reseal_if_needed() and jobs.reseals == 1, "the restart hands the re-seal to the workers"
    monkeypatch.setattr("domain.services.keys.STEP", 100)

    def stop_after_first_step(done: int) -> None:
        raise Stop()

    with pytest.raises(Stop):
        await rotation.reseal_all(Actor.cli(), stop_after_first_step)
    assert await rotation.status() == {ring.active: 100, old_key: 150}
    assert await rotation.reseal_all(Actor.cli()) == 150, "a second run picks up where the first stopped"
    assert await rotation.status() == {ring.active: 250}
    assert await rotation.reseal_all(Actor.cli()) == 0
    assert not await rotation.reseal_if_needed() and jobs.reseals == 1

    page = await Codes(uow, vault, SystemClock()).of_batch(pid, 1, PageRequest(1, 5))
    assert [view.masked for view in page.items][:2] == ["RO****00", "RO****01"]
    _, secret = await Codes(uow, vault, SystemClock()).reveal(pid, page.items[0].code.id, Actor.cli())
    assert secret == CardSecret("ROT-00000", "P0")
