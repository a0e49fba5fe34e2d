"""In-memory fakes of the domain's ports: real behaviour (transactions included), no I/O."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from domain.audit import AuditEntry
from domain.catalog import Product, ProductQuery, SkuTaken
from domain.codepool import Batch, CodeState, OutOfStock, Sealed, SoldCode, StockCounts, VaultError
from domain.operations import WorkerBeat
from domain.paging import Page, PageRequest
from domain.staff import Role, StaffMember, StaffStatus, UsernameTaken
from domain.suppliers import Source


@dataclass
class KnownHosts:
    """DNS as the test has it: these names resolve here and nowhere else (the sandbox has no DNS); an address
    resolves to itself, as the port says."""

    hosts: dict[str, list[str]] = field(default_factory=dict)

    async def resolve(self, host: str) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            return self.hosts.get(host, [])


class FixedClock:
    def __init__(self, now: datetime = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class FakePasswords:
    """Reversible 'hashes' tagged with a parameter version, so rehashing can be observed."""

    def __init__(self, version: int = 2) -> None:
        self.version = version
        self.verified: list[str] = []

    async def hash(self, password: str) -> str:
        return f"v{self.version}${password}"

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append(password_hash)
        return password_hash.split("$", 1)[1] == password

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"v{self.version}$")


@dataclass(frozen=True)
class StoredCode:
    id: int
    product_id: int
    batch_id: int
    state: CodeState
    holder: str | None
    fingerprint: bytes
    sealed: Sealed


@dataclass
class Data:
    staff: dict[int, StaffMember] = field(default_factory=dict)
    products: dict[int, Product] = field(default_factory=dict)
    batches: dict[int, Batch] = field(default_factory=dict)
    codes: dict[int, StoredCode] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    beats: dict[str, WorkerBeat] = field(default_factory=dict)
    sources: dict[int, list[Source]] = field(default_factory=dict)  # per product, in order

    def copy(self) -> Data:
        return Data(
            dict(self.staff),
            dict(self.products),
            dict(self.batches),
            dict(self.codes),
            list(self.audit),
            dict(self.beats),
            dict(self.sources),
        )


class FakeVault:
    """Stands in for AES-GCM: 'seals' by reversing, remembers the binding, fingerprints with plain SHA-256."""

    active_key = "fake1"

    def seal(self, plaintext: bytes, *, binding: str) -> Sealed:
        return Sealed(self.active_key, binding.encode(), plaintext[::-1])

    def open(self, sealed: Sealed, *, binding: str) -> bytes:
        if sealed.nonce != binding.encode():
            raise VaultError("binding mismatch")
        return sealed.ciphertext[::-1]

    def fingerprint(self, number: str) -> bytes:
        return hashlib.sha256(number.encode()).digest()


class FakeStaff:
    def __init__(self, data: Data) -> None:
        self._data = data

    async def get(self, staff_id: int) -> StaffMember | None:
        return self._data.staff.get(staff_id)

    async def by_username(self, username: str) -> StaffMember | None:
        return next((m for m in self._data.staff.values() if m.username == username), None)

    async def by_invite_token_hash(self, token_hash: str) -> StaffMember | None:
        return next((m for m in self._data.staff.values() if m.invite_token_hash == token_hash), None)

    async def add(self, member: StaffMember) -> StaffMember:
        if await self.by_username(member.username):
            raise UsernameTaken(member.username)
        member = replace(member, id=max(self._data.staff, default=0) + 1)
        self._data.staff[member.id] = member  # type: ignore[index]
        return member

    async def save(self, member: StaffMember) -> None:
        assert member.id in self._data.staff
        self._data.staff[member.id] = member  # type: ignore[index]

    async def all(self) -> list[StaffMember]:
        return sorted(self._data.staff.values(), key=lambda m: m.username)

    async def of_reseller(self, reseller_id: int) -> list[StaffMember]:
        return [m for m in self._data.staff.values() if m.reseller_id == reseller_id]

    async def active_owner_count(self) -> int:
        return sum(1 for m in self._data.staff.values() if m.role is Role.OWNER and m.status is StaffStatus.ACTIVE)

    async def exists(self) -> bool:
        return bool(self._data.staff)


class FakeProducts:
    def __init__(self, data: Data) -> None:
        self._data = data

    async def get(self, product_id: int) -> Product | None:
        return self._data.products.get(product_id)

    async def by_sku(self, sku: str, *, lock: bool = True) -> Product | None:
        return next((p for p in self._data.products.values() if p.sku == sku), None)

    async def by_ids(self, product_ids: Sequence[int]) -> list[Product]:
        return [self._data.products[i] for i in product_ids if i in self._data.products]

    async def add(self, product: Product) -> Product:
        if await self.by_sku(product.sku):
            raise SkuTaken(product.sku)
        product = replace(product, id=max(self._data.products, default=0) + 1)
        self._data.products[product.id] = product  # type: ignore[index]
        return product

    async def save(self, product: Product) -> None:
        assert product.id in self._data.products
        self._data.products[product.id] = product  # type: ignore[index]

    async def search(self, query: ProductQuery, page: PageRequest) -> Page[Product]:
        text = query.text.strip().lower()
        found = [
            p
            for p in sorted(self._data.products.values(), key=lambda p: -(p.id or 0))
            if (not text or any(text in value.lower() for value in (p.sku, p.name, p.brand)))
            and (not query.category or p.category == query.category)
            and (query.delivery_kind is None or p.delivery_kind is query.delivery_kind)
            and (query.on_sale is None or p.on_sale is query.on_sale)
        ]
        return Page(found[page.offset : page.offset + page.size], len(found), page)

    async def categories(self) -> list[str]:
        return sorted({p.category for p in self._data.products.values() if p.category})


class FakeCodes:
    def __init__(self, data: Data) -> None:
        self._data = data

    async def add_batch(self, batch: Batch) -> Batch:
        batch = replace(batch, id=max(self._data.batches, default=0) + 1)
        self._data.batches[batch.id] = batch  # type: ignore[index]
        return batch

    async def set_batch_total(self, batch_id: int, total: int) -> None:
        self._data.batches[batch_id] = replace(self._data.batches[batch_id], total=total)

    async def add_codes(self, batch: Batch, sealed: Sequence[tuple[bytes, Sealed]], now: datetime) -> int:
        known = {(c.product_id, c.fingerprint) for c in self._data.codes.values()}
        added = 0
        for fingerprint, item in sealed:
            if (batch.product_id, fingerprint) in known:
                continue
            code_id = max(self._data.codes, default=0) + 1
            self._data.codes[code_id] = StoredCode(
                code_id, batch.product_id, batch.id or 0, CodeState.AVAILABLE, None, fingerprint, item
            )
            known.add((batch.product_id, fingerprint))
            added += 1
        return added

    async def reserve(self, product_id: int, quantity: int, holder: str, now: datetime) -> list[int]:
        expired = {b.id for b in self._data.batches.values() if b.expires_at is not None and b.expires_at <= now}
        available = sorted(
            c.id
            for c in self._data.codes.values()
            if c.product_id == product_id and c.state is CodeState.AVAILABLE and c.batch_id not in expired
        )[:quantity]
        if len(available) < quantity:
            raise OutOfStock(f"only {len(available)} of {quantity} available")
        for code_id in available:
            self._data.codes[code_id] = replace(self._data.codes[code_id], state=CodeState.RESERVED, holder=holder)
        return available

    async def reserve_up_to(self, product_id: int, quantity: int, holder: str, now: datetime) -> list[int]:
        expired = {b.id for b in self._data.batches.values() if b.expires_at is not None and b.expires_at <= now}
        available = sorted(
            c.id
            for c in self._data.codes.values()
            if c.product_id == product_id and c.state is CodeState.AVAILABLE and c.batch_id not in expired
        )[: max(quantity, 0)]
        for code_id in available:
            self._data.codes[code_id] = replace(self._data.codes[code_id], state=CodeState.RESERVED, holder=holder)
        return available

    async def release(self, holder: str, now: datetime) -> int:
        return len(self._from_reserved(holder, CodeState.AVAILABLE))

    async def freeze_expired(self, now: datetime) -> int:
        expired = {b.id for b in self._data.batches.values() if b.expires_at is not None and b.expires_at <= now}
        moving = [c for c in self._data.codes.values() if c.batch_id in expired and c.state is CodeState.AVAILABLE]
        for code in moving:
            self._data.codes[code.id] = replace(code, state=CodeState.FROZEN)
        return len(moving)

    async def sell(self, holder: str, now: datetime) -> list[SoldCode]:
        sold = [self._data.codes[code_id] for code_id in self._from_reserved(holder, CodeState.SOLD)]
        batches = self._data.batches
        return [SoldCode(c, batches[c.batch_id].unit_cost, batches[c.batch_id].expires_at) for c in sold]

    async def counts(self, product_id: int) -> dict[int, StockCounts]:
        tallies: dict[int, dict[str, int]] = {
            b: {} for b, batch in self._data.batches.items() if batch.product_id == product_id
        }
        for code in self._data.codes.values():
            if code.product_id == product_id:
                tally = tallies[code.batch_id]
                tally[code.state.value] = tally.get(code.state.value, 0) + 1
        return {batch_id: StockCounts(**tally) for batch_id, tally in tallies.items()}

    async def available_counts(self, product_ids: Sequence[int]) -> dict[int, int]:
        counts: dict[int, int] = {}
        for code in self._data.codes.values():
            if code.product_id in product_ids and code.state is CodeState.AVAILABLE:
                counts[code.product_id] = counts.get(code.product_id, 0) + 1
        return counts

    async def running_low(self, kinds: Sequence[str], below: int, limit: int) -> list[tuple[int, int]]:
        left = {
            p.id: sum(1 for c in self._data.codes.values() if c.product_id == p.id and c.state is CodeState.AVAILABLE)
            for p in self._data.products.values()
            if p.on_sale and p.delivery_kind.value in kinds
        }
        return sorted(((pid, n) for pid, n in left.items() if n < below), key=lambda pair: (pair[1], pair[0]))[:limit]

    async def batches(self, product_id: int) -> list[Batch]:
        return [b for _, b in sorted(self._data.batches.items(), reverse=True) if b.product_id == product_id]

    def _from_reserved(self, holder: str, target: CodeState) -> list[int]:
        moving = [c for c in self._data.codes.values() if c.holder == holder and c.state is CodeState.RESERVED]
        for code in moving:
            self._data.codes[code.id] = replace(code, state=target, holder=holder if target is CodeState.SOLD else None)
        return sorted(code.id for code in moving)


class FakeAudit:
    def __init__(self, data: Data) -> None:
        self._data = data

    async def record(self, entry: AuditEntry) -> None:
        self._data.audit.append(replace(entry, id=len(self._data.audit) + 1))

    async def page(self, *, before_id: int | None, limit: int) -> list[AuditEntry]:
        newest_first = [e for e in reversed(self._data.audit) if before_id is None or (e.id or 0) < before_id]
        return newest_first[:limit]


class FakeBeats:
    def __init__(self, data: Data) -> None:
        self._data = data

    async def record(self, beat: WorkerBeat) -> None:
        self._data.beats[beat.worker] = beat

    async def all(self) -> list[WorkerBeat]:
        return list(self._data.beats.values())


class FakeSuppliers:
    """Products' fulfilment sources (what placement and the stock shown depend on)."""

    def __init__(self, data: Data) -> None:
        self._data = data

    async def sources(self, product_id: int) -> list[Source]:
        return list(self._data.sources.get(product_id, []))

    async def set_sources(self, product_id: int, sources: Sequence[Source]) -> None:
        self._data.sources[product_id] = list(sources)

    async def upstream_stock(self, product_ids: Sequence[int]) -> dict[int, int]:
        return {}  # no upstream catalogs are synced into this fake

    async def pool_unlisted(self, product_ids: Sequence[int]) -> set[int]:
        return {
            pid
            for pid in product_ids
            if self._data.sources.get(pid) and all(not s.is_pool for s in self._data.sources[pid])
        }


class FakeUnitOfWork:
    """Works on a copy of the committed data; `commit` publishes it, leaving without commit drops it."""

    def __init__(self, db: FakeDatabase, read_only: bool) -> None:
        self._db = db
        self._read_only = read_only

    async def __aenter__(self) -> Self:
        self._work = self._db.committed.copy()
        self.staff = FakeStaff(self._work)
        self.products = FakeProducts(self._work)
        self.codes = FakeCodes(self._work)
        self.audit = FakeAudit(self._work)
        self.worker_beats = FakeBeats(self._work)
        self.suppliers = FakeSuppliers(self._work)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def commit(self) -> None:
        assert not self._read_only, "read-only unit of work committed"
        self._db.committed = self._work
        self._db.commits += 1


class FakeDatabase:
    """The factory services call for each unit of work, and the committed state tests look at."""

    def __init__(self) -> None:
        self.committed = Data()
        self.commits = 0

    def __call__(self, *, read_only: bool = False) -> FakeUnitOfWork:
        return FakeUnitOfWork(self, read_only)

    @property
    def audit_actions(self) -> list[str]:
        return [entry.action for entry in self.committed.audit]
