"""upstream suppliers

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upstreams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("base_url", sa.String(length=255), nullable=False),
        sa.Column("key_id", sa.String(length=20), nullable=False),
        sa.Column("secret_key_id", sa.String(length=16), nullable=False),
        sa.Column("secret_nonce", sa.LargeBinary(length=12), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("webhook_key_id", sa.String(length=16), nullable=True),
        sa.Column("webhook_nonce", sa.LargeBinary(length=12), nullable=True),
        sa.Column("webhook_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upstreams")),
        sa.UniqueConstraint("name", name=op.f("uq_upstreams_name")),
    )
    op.create_table(
        "product_sources",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("upstream_id", sa.Integer(), nullable=True),
        sa.Column("upstream_sku", sa.String(length=40), server_default="", nullable=False),
        sa.Column("cost_ceiling_minor", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_product_sources_product_id_products")),
        sa.ForeignKeyConstraint(
            ["upstream_id"], ["upstreams.id"], name=op.f("fk_product_sources_upstream_id_upstreams")
        ),
        sa.PrimaryKeyConstraint("product_id", "position", name=op.f("pk_product_sources")),
    )
    op.create_table(
        "upstream_products",
        sa.Column("upstream_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="CNY", nullable=False),
        sa.Column("delivery_kind", sa.String(length=16), nullable=False),
        sa.Column("in_stock", sa.Boolean(), nullable=False),
        sa.Column("available", sa.Integer(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["upstream_id"], ["upstreams.id"], name=op.f("fk_upstream_products_upstream_id_upstreams")
        ),
        sa.PrimaryKeyConstraint("upstream_id", "sku", name=op.f("pk_upstream_products")),
    )
    op.create_table(
        "upstream_orders",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("upstream_id", sa.Integer(), nullable=False),
        sa.Column("out_trade_no", sa.String(length=64), nullable=False),
        sa.Column("upstream_order_no", sa.String(length=32), nullable=True),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("unit_cost_minor", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.String(length=64), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_upstream_orders_order_id_orders")),
        sa.ForeignKeyConstraint(
            ["upstream_id"], ["upstreams.id"], name=op.f("fk_upstream_orders_upstream_id_upstreams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upstream_orders")),
        sa.UniqueConstraint("upstream_id", "out_trade_no", name=op.f("uq_upstream_orders_upstream_id_out_trade_no")),
    )
    with op.batch_alter_table("upstream_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upstream_orders_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("upstream_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upstream_orders_order_id"))

    op.drop_table("upstream_orders")
    op.drop_table("upstream_products")
    op.drop_table("product_sources")
    op.drop_table("upstreams")
