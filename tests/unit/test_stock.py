"""Stocking the pool: sealing, dedupe inside the file and against the pool, rejects, all-or-none reserve."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.audit import Actor
from domain.catalog import ProductDraft
from domain.codepool import BatchDetails, CardSecret, CodeState, OutOfStock, binding
from domain.errors import NotFound
from domain.money import Money
from domain.services.stock import NoCodePool
from tests.unit.fakes import FakeVault

DETAILS = BatchDetails(source="supplier A", unit_cost=Money(1500))


async def product(world, kind: str = "code") -> int:
    created = await world.catalog.create(
        ProductDraft(sku=f"P-{kind}", name="Card", face_value="20", retail_price="18", delivery_kind=kind), Actor.cli()
    )
    return created.id


def lines(*numbers: str) -> list[tuple[int, str, str]]:
    return [(n, number, f"pin{n}") for n, number in enumerate(numbers, start=1)]


async def test_codes_are_sealed_counted_and_audited(world):
    pid = await product(world)
    result = await world.stock.add_codes(pid, lines("AAAA-0001", "AAAA-0002"), DETAILS, Actor.cli())
    assert (result.imported, result.duplicates_in_file, result.duplicates_in_pool, result.rejected) == (2, 0, 0, [])
    assert result.batch.total == 2 and result.batch.unit_cost == Money(1500)
    stored = list(world.db.committed.codes.values())
    assert all(b"AAAA-0001" not in code.sealed.ciphertext for code in stored)
    vault = FakeVault()
    first = stored[0]
    assert CardSecret.from_plaintext(vault.open(first.sealed, binding=binding(pid, first.fingerprint))) == CardSecret(
        "AAAA-0001", "pin1"
    )
    assert world.db.committed.audit[-1].details == {"batch": result.batch.id, "imported": 2}


async def test_duplicates_and_bad_lines_are_reported_not_imported(world):
    pid = await product(world)
    await world.stock.add_codes(pid, lines("SAME-1"), DETAILS, Actor.cli())
    result = await world.stock.add_codes(
        pid,
        [(1, "NEW-1", ""), (2, "NEW-1", "x"), (3, "SAME-1", ""), (4, "", "pin"), (5, "BAD\x07", "")],
        DETAILS,
        Actor.cli(),
    )
    assert (result.imported, result.duplicates_in_file, result.duplicates_in_pool) == (1, 1, 1)
    assert result.rejected == [(4, "required"), (5, "control_characters")]


async def test_a_file_with_nothing_new_leaves_no_batch_behind(world):
    pid = await product(world)
    await world.stock.add_codes(pid, lines("ONLY-1"), DETAILS, Actor.cli())
    result = await world.stock.add_codes(pid, lines("ONLY-1"), DETAILS, Actor.cli())
    assert result.imported == 0 and result.batch is None
    assert len((await world.stock.of_product(pid)).batches) == 1


async def test_only_pooled_products_take_codes(world):
    with pytest.raises(NoCodePool):
        await world.stock.add_codes(await product(world, "topup"), lines("X-1"), DETAILS, Actor.cli())
    with pytest.raises(NotFound):
        await world.stock.add_codes(999, lines("X-1"), DETAILS, Actor.cli())


async def test_reserving_is_all_or_none_and_codes_move_through_their_states(world):
    pid = await product(world)
    await world.stock.add_codes(pid, lines(*(f"C-{n}" for n in range(5))), DETAILS, Actor.cli())
    first = await world.stock.reserve(pid, 3, "order-1")
    with pytest.raises(OutOfStock):
        await world.stock.reserve(pid, 3, "order-2")
    assert (await world.stock.of_product(pid)).counts.reserved == 3, "a failed reserve holds nothing"
    assert await world.stock.release("order-1") == 3
    again = await world.stock.reserve(pid, 5, "order-3")
    assert set(first) <= set(again)
    assert await world.stock.sell("order-3") == 5
    assert await world.stock.release("order-3") == 0, "sold codes never go back"
    counts = (await world.stock.of_product(pid)).counts
    assert (counts.sold, counts.available, counts.total) == (5, 0, 5)
    assert all(code.state is CodeState.SOLD for code in world.db.committed.codes.values())


async def test_codes_past_their_batch_expiry_are_never_sold_and_get_frozen(world):
    pid = await product(world)
    soon = BatchDetails("supplier", Money(1), world.clock.now() + timedelta(hours=1))
    await world.stock.add_codes(pid, lines("OLD-1", "OLD-2"), soon, Actor.cli())
    await world.stock.add_codes(pid, lines("NEW-1"), DETAILS, Actor.cli())
    world.clock.advance(timedelta(hours=2))
    assert len(await world.stock.reserve(pid, 1, "order-1")) == 1
    with pytest.raises(OutOfStock):
        await world.stock.reserve(pid, 1, "order-2")
    assert await world.stock.freeze_expired() == 2
    counts = (await world.stock.of_product(pid)).counts
    assert (counts.frozen, counts.reserved, counts.available, counts.total) == (2, 1, 0, 3)
    assert world.db.committed.audit[-1].details == {"frozen": 2}


async def test_on_sale_products_running_low_come_emptiest_first(world):
    on_sale = {}
    for sku in ("EMPTY-1", "LOW-1", "PLENTY-1"):
        draft = ProductDraft(sku=sku, name=sku, face_value="1", retail_price="1", on_sale=True)
        on_sale[sku] = await world.catalog.create(draft, Actor.cli())
    low, plenty = on_sale["LOW-1"], on_sale["PLENTY-1"]
    await world.catalog.create(ProductDraft(sku="OFF-1", name="off", face_value="1", retail_price="1"), Actor.cli())
    await world.catalog.create(
        ProductDraft(sku="TOP-1", name="t", face_value="1", retail_price="1", delivery_kind="topup", on_sale=True),
        Actor.cli(),
    )
    await world.stock.add_codes(low.id, lines("L-1", "L-2"), DETAILS, Actor.cli())
    await world.stock.add_codes(plenty.id, lines(*(f"P-{n}" for n in range(12))), DETAILS, Actor.cli())
    assert [(p.sku, left) for p, left in await world.stock.running_low()] == [("EMPTY-1", 0), ("LOW-1", 2)]
