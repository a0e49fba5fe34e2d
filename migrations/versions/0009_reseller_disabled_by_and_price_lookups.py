"""who disabled a reseller, price lookups by product, one audience per row

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reseller_prices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reseller_prices_product_id"), ["product_id"], unique=False)

    with op.batch_alter_table("resellers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_by", sa.String(length=8), nullable=True))

    with op.batch_alter_table("product_audiences", schema=None) as batch_op:
        batch_op.create_check_constraint("tier_or_reseller", "(tier_id IS NULL) <> (reseller_id IS NULL)")


def downgrade() -> None:
    with op.batch_alter_table("product_audiences", schema=None) as batch_op:
        batch_op.drop_constraint("tier_or_reseller", type_="check")

    with op.batch_alter_table("resellers", schema=None) as batch_op:
        batch_op.drop_column("disabled_by")

    with op.batch_alter_table("reseller_prices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reseller_prices_product_id"))
