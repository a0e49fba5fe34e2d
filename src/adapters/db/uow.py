"""A unit of work over one SQLAlchemy connection: one transaction, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.db.api_keys import SqlApiKeys
from adapters.db.audit import SqlAuditLog
from adapters.db.codes import AllocationHints, SqlCodes
from adapters.db.deliveries import SqlDeliveries
from adapters.db.engine import READ_ONLY
from adapters.db.imports import SqlImports
from adapters.db.ledger import SqlLedger
from adapters.db.operations import SqlWorkerBeats
from adapters.db.orders import SqlOrders
from adapters.db.prices import SqlPrices
from adapters.db.products import SqlProducts
from adapters.db.resellers import SqlResellers
from adapters.db.risk import SqlRisk
from adapters.db.staff import SqlStaff
from adapters.db.suppliers import SqlSuppliers
from adapters.db.webhooks import SqlWebhooks


class SqlUnitOfWork:
    staff: SqlStaff
    products: SqlProducts
    codes: SqlCodes
    imports: SqlImports
    orders: SqlOrders
    deliveries: SqlDeliveries
    resellers: SqlResellers
    prices: SqlPrices
    api_keys: SqlApiKeys
    webhooks: SqlWebhooks
    suppliers: SqlSuppliers
    ledger: SqlLedger
    risk: SqlRisk
    audit: SqlAuditLog
    worker_beats: SqlWorkerBeats

    def __init__(self, engine: AsyncEngine, hints: AllocationHints, *, read_only: bool = False) -> None:
        self._hints = hints
        self._engine = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
        self._read_only = read_only
        self._connection: AsyncConnection | None = None
        self._committed = False

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("a unit of work is entered once; ask the factory for another")
        self._connection = await self._engine.connect()
        try:
            await self._connection.begin()
        except BaseException:
            await self._connection.close()  # e.g. SQLite busy past its timeout: give the connection back
            raise
        self.staff = SqlStaff(self._connection, lock=not self._read_only)
        self.products = SqlProducts(self._connection, lock=not self._read_only)
        self.codes = SqlCodes(self._connection, self._hints, lock=not self._read_only)
        self.imports = SqlImports(self._connection, lock=not self._read_only)
        self.orders = SqlOrders(self._connection, lock=not self._read_only)
        self.deliveries = SqlDeliveries(self._connection)
        self.resellers = SqlResellers(self._connection)
        self.prices = SqlPrices(self._connection)
        self.api_keys = SqlApiKeys(self._connection)
        self.webhooks = SqlWebhooks(self._connection, lock=not self._read_only)
        self.suppliers = SqlSuppliers(self._connection)
        self.ledger = SqlLedger(self._connection)
        self.risk = SqlRisk(self._connection)
        self.audit = SqlAuditLog(self._connection)
        self.worker_beats = SqlWorkerBeats(self._connection)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._connection is not None
        try:
            if not self._committed:
                await self._connection.rollback()
        finally:
            await self._connection.close()

    async def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        assert self._connection is not None
        await self._connection.commit()
        self._committed = True


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine, hints: AllocationHints | None = None) -> None:
        self._engine = engine
        self._hints = hints or AllocationHints()  # shared by this process's units of work

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine, self._hints, read_only=read_only)
