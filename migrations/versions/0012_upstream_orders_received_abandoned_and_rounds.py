"""upstream orders: codes received and abandonment; rounds of asking an order's sources

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("upstream_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("abandoned_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "sourcing_rounds",
        sa.Column("order_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_sourcing_rounds_order_id_orders")),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_sourcing_rounds")),
    )


def downgrade() -> None:
    op.drop_table("sourcing_rounds")

    with op.batch_alter_table("upstream_orders", schema=None) as batch_op:
        batch_op.drop_column("abandoned_at")
        batch_op.drop_column("received")
