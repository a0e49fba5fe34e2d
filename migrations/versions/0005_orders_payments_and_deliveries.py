"""orders, payments and deliveries

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("product_name", sa.String(length=120), nullable=False),
        sa.Column("delivery_kind", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="CNY", nullable=False),
        sa.Column("contact_kind", sa.String(length=8), nullable=False),
        sa.Column("contact", sa.String(length=254), nullable=False),
        sa.Column("recharge_account", sa.String(length=128), server_default="", nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("buyer_ip", sa.String(length=45), nullable=True),
        sa.Column("device", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("attention", sa.String(length=24), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_minor", sa.BigInteger(), nullable=True),
        sa.Column("payment_method", sa.String(length=16), server_default="", nullable=False),
        sa.Column("delivered_units", sa.Integer(), server_default="0", nullable=False),
        sa.Column("refund_due_minor", sa.BigInteger(), nullable=True),
        sa.Column("notification", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_orders_product_id_products")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_orders_number")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_attention"), ["attention"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_buyer_ip_status"), ["buyer_ip", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_contact_status"), ["contact", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_device_status"), ["device", "status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_orders_notification_updated_at"), ["notification", "updated_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_orders_product_id_created_at"), ["product_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_status_expires_at"), ["status", "expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_status_paid_at"), ["status", "paid_at"], unique=False)

    op.create_table(
        "order_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_events_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_events_order_id_id"), ["order_id", "id"], unique=False)

    op.create_table(
        "order_payments",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("gateway", sa.String(length=16), nullable=False),
        sa.Column("trade_no", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="CNY", nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_payments_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_payments")),
        sa.UniqueConstraint("gateway", "trade_no", name=op.f("uq_order_payments_gateway_trade_no")),
    )
    with op.batch_alter_table("order_payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_payments_order_id"), ["order_id"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("code_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=True),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("token_key_id", sa.String(length=16), nullable=False),
        sa.Column("token_nonce", sa.LargeBinary(length=12), nullable=False),
        sa.Column("token_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("content_key_id", sa.String(length=16), nullable=True),
        sa.Column("content_nonce", sa.LargeBinary(length=12), nullable=True),
        sa.Column("content_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_by", sa.String(length=64), nullable=False),
        sa.Column("reveals", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["code_id"], ["codes.id"], name=op.f("fk_deliveries_code_id_codes")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_deliveries_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("code_id", name=op.f("uq_deliveries_code_id")),
        sa.UniqueConstraint("order_id", "unit", name=op.f("uq_deliveries_order_id_unit")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_deliveries_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
    with op.batch_alter_table("order_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_payments_order_id"))

    op.drop_table("order_payments")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_events_order_id_id"))

    op.drop_table("order_events")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_status_paid_at"))
        batch_op.drop_index(batch_op.f("ix_orders_status_expires_at"))
        batch_op.drop_index(batch_op.f("ix_orders_product_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_orders_notification_updated_at"))
        batch_op.drop_index(batch_op.f("ix_orders_device_status"))
        batch_op.drop_index(batch_op.f("ix_orders_created_at"))
        batch_op.drop_index(batch_op.f("ix_orders_contact_status"))
        batch_op.drop_index(batch_op.f("ix_orders_buyer_ip_status"))
        batch_op.drop_index(batch_op.f("ix_orders_attention"))

    op.drop_table("orders")
