from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from adapters.counters.memory import MemoryCounters
from domain.services.auth import SignIn
from domain.services.catalog import Catalog
from domain.services.operations import Operations
from domain.services.staff import StaffAdmin
from domain.services.stock import Stock
from domain.throttle import LoginThrottle
from tests.unit.fakes import FakeDatabase, FakePasswords, FakeVault, FixedClock


@dataclass
class World:
    db: FakeDatabase
    clock: FixedClock
    passwords: FakePasswords
    counters: MemoryCounters
    sign_in: SignIn
    staff_admin: StaffAdmin
    operations: Operations
    catalog: Catalog
    stock: Stock


@pytest.fixture
def world() -> World:
    db, clock, passwords = FakeDatabase(), FixedClock(), FakePasswords()
    counters = MemoryCounters(clock)
    throttle = LoginThrottle(per_account=5, per_ip=30, window=timedelta(minutes=15))
    return World(
        db,
        clock,
        passwords,
        counters,
        SignIn(db, passwords, counters, clock, throttle, decoy_hash="v2$decoy-never-matches"),
        StaffAdmin(db, passwords, clock),
        Operations(db, clock),
        Catalog(db, clock),
        Stock(db, FakeVault(), clock),
    )
