"""risk rules, block and allow lists, the decision log, and the risk reasons of held orders

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("verdict", sa.String(length=12), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("device", sa.String(length=64), nullable=True),
        sa.Column("contact", sa.String(length=254), nullable=True),
        sa.Column("recharge_account", sa.String(length=128), server_default="", nullable=False),
        sa.Column("reseller_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), server_default="0", nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("order_number", sa.String(length=20), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_decisions")),
    )
    with op.batch_alter_table("risk_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_decisions_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_decisions_outcome_at"), ["outcome", "at"], unique=False)

    op.create_table(
        "risk_list_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("value", sa.String(length=254), nullable=False),
        sa.Column("note", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_list_entries")),
        sa.UniqueConstraint("list", "kind", "value", name=op.f("uq_risk_list_entries_list_kind_value")),
    )
    with op.batch_alter_table("risk_list_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_list_entries_kind_value"), ["kind", "value"], unique=False)

    op.create_table(
        "risk_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("params", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=200), server_default="", nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("applies_to", sa.String(length=8), server_default="order", nullable=False),
        sa.Column("channels", sa.String(length=64), server_default="", nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_risk_rules_product_id_products")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_rules")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("risk_reasons", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True)
        )
        batch_op.add_column(sa.Column("risk_score", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("risk_score")
        batch_op.drop_column("risk_reasons")

    op.drop_table("risk_rules")
    with op.batch_alter_table("risk_list_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_list_entries_kind_value"))

    op.drop_table("risk_list_entries")
    with op.batch_alter_table("risk_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_decisions_outcome_at"))
        batch_op.drop_index(batch_op.f("ix_risk_decisions_at"))

    op.drop_table("risk_decisions")
