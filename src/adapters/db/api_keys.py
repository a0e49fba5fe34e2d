"""Open API keys in SQL (secrets stay sealed here; the vault opens them in the services)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables import api_keys
from domain.api import ApiKey
from domain.codepool import Sealed


class SqlApiKeys:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def add(self, key: ApiKey) -> ApiKey:
        values: dict[str, Any] = {
            "key_id": key.key_id,
            "reseller_id": key.reseller_id,
            "label": key.label,
            **_sealed(key),
            "allowed_ips": list(key.allowed_ips),
            "created_at": key.created_at,
        }
        new_id = (await self._db.execute(insert(api_keys).values(values).returning(api_keys.c.id))).scalar_one()
        return await self.get(new_id) or key

    async def by_key_id(self, key_id: str) -> ApiKey | None:
        row = (await self._db.execute(_BY_KEY_ID, {"b_key_id": key_id})).mappings().first()  # every API request's
        return _key(row) if row else None

    async def get(self, api_key_id: int) -> ApiKey | None:
        return await self._one(api_keys.c.id == api_key_id)

    async def of_reseller(self, reseller_id: int) -> list[ApiKey]:
        rows = await self._db.execute(
            select(api_keys).where(api_keys.c.reseller_id == reseller_id).order_by(api_keys.c.id.desc())
        )
        return [_key(row) for row in rows.mappings()]

    async def revoke(self, api_key_id: int, at: datetime) -> None:
        await self._db.execute(
            update(api_keys).where(api_keys.c.id == api_key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=at)
        )

    async def touch(self, api_key_id: int, at: datetime) -> None:
        await self._db.execute(update(api_keys).where(api_keys.c.id == api_key_id).values(last_used_at=at))

    async def sealed_by_other_keys(self, active: str, after_id: int, limit: int) -> list[ApiKey]:
        other = or_(api_keys.c.secret_key_id != active, api_keys.c.webhook_key_id != active)
        rows = await self._db.execute(
            select(api_keys).where(api_keys.c.id > after_id, other).order_by(api_keys.c.id).limit(limit)
        )
        return [_key(row) for row in rows.mappings()]

    async def reseal(self, keys: Sequence[ApiKey]) -> None:
        if keys:  # SET the sealed columns only (named by the parameters), row by row
            statement = update(api_keys).where(api_keys.c.id == bindparam("row_id"))
            await self._db.execute(statement, [{"row_id": key.id, **_sealed(key)} for key in keys])

    async def _one(self, condition: ColumnElement[bool]) -> ApiKey | None:
        row = (await self._db.execute(select(api_keys).where(condition))).mappings().first()
        return _key(row) if row else None


def _sealed(key: ApiKey) -> dict[str, Any]:
    return {
        "secret_key_id": key.secret.key_id,
        "secret_nonce": key.secret.nonce,
        "secret_ciphertext": key.secret.ciphertext,
        "webhook_key_id": key.webhook_secret.key_id,
        "webhook_nonce": key.webhook_secret.nonce,
        "webhook_ciphertext": key.webhook_secret.ciphertext,
    }


def _key(row: RowMapping) -> ApiKey:
    return ApiKey(
        id=row["id"],
        key_id=row["key_id"],
        reseller_id=row["reseller_id"],
        label=row["label"],
        secret=Sealed(row["secret_key_id"], row["secret_nonce"], row["secret_ciphertext"]),
        webhook_secret=Sealed(row["webhook_key_id"], row["webhook_nonce"], row["webhook_ciphertext"]),
        allowed_ips=tuple(row["allowed_ips"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


_BY_KEY_ID = select(api_keys).where(api_keys.c.key_id == bindparam("b_key_id"))  # built once: compilation cached
