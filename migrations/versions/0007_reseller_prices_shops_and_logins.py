"""reseller tiers and prices, shops, reseller logins, orders sold through resellers

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reseller_tiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reseller_tiers")),
        sa.UniqueConstraint("name", name=op.f("uq_reseller_tiers_name")),
    )
    op.create_table(
        "quantity_breaks",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("min_quantity", sa.Integer(), nullable=False),
        sa.Column("discount_bp", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_quantity_breaks_product_id_products")),
        sa.PrimaryKeyConstraint("product_id", "min_quantity", name=op.f("pk_quantity_breaks")),
    )
    op.create_table(
        "tier_prices",
        sa.Column("tier_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=True),
        sa.Column("discount_bp", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_tier_prices_product_id_products")),
        sa.ForeignKeyConstraint(["tier_id"], ["reseller_tiers.id"], name=op.f("fk_tier_prices_tier_id_reseller_tiers")),
        sa.PrimaryKeyConstraint("tier_id", "product_id", name=op.f("pk_tier_prices")),
    )
    op.create_table(
        "product_audiences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("tier_id", sa.Integer(), nullable=True),
        sa.Column("reseller_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_product_audiences_product_id_products")),
        sa.ForeignKeyConstraint(
            ["reseller_id"], ["resellers.id"], name=op.f("fk_product_audiences_reseller_id_resellers")
        ),
        sa.ForeignKeyConstraint(
            ["tier_id"], ["reseller_tiers.id"], name=op.f("fk_product_audiences_tier_id_reseller_tiers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_audiences")),
        sa.UniqueConstraint(
            "product_id", "tier_id", "reseller_id", name=op.f("uq_product_audiences_product_id_tier_id_reseller_id")
        ),
    )
    op.create_table(
        "reseller_prices",
        sa.Column("reseller_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_reseller_prices_product_id_products")),
        sa.ForeignKeyConstraint(
            ["reseller_id"], ["resellers.id"], name=op.f("fk_reseller_prices_reseller_id_resellers")
        ),
        sa.PrimaryKeyConstraint("reseller_id", "product_id", name=op.f("pk_reseller_prices")),
    )
    op.create_table(
        "shop_products",
        sa.Column("reseller_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=True),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_shop_products_product_id_products")),
        sa.ForeignKeyConstraint(["reseller_id"], ["resellers.id"], name=op.f("fk_shop_products_reseller_id_resellers")),
        sa.PrimaryKeyConstraint("reseller_id", "product_id", name=op.f("pk_shop_products")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seller_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("chain", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))
        batch_op.create_index(batch_op.f("ix_orders_seller_id_created_at"), ["seller_id", "created_at"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_orders_seller_id_resellers"), "resellers", ["seller_id"], ["id"])

    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("floor_price_minor", sa.BigInteger(), server_default="0", nullable=False))

    with op.batch_alter_table("resellers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tier_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("markup_bp", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("shop_slug", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("shop_enabled", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("shop_notice", sa.String(length=500), server_default="", nullable=False))
        batch_op.add_column(sa.Column("shop_theme", sa.String(length=7), server_default="#b91c1c", nullable=False))
        batch_op.add_column(sa.Column("shop_markup_bp", sa.Integer(), server_default="2000", nullable=False))
        batch_op.add_column(sa.Column("shop_logo_type", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("shop_logo", sa.LargeBinary(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_resellers_shop_slug"), ["shop_slug"])
        batch_op.create_foreign_key(
            batch_op.f("fk_resellers_tier_id_reseller_tiers"), "reseller_tiers", ["tier_id"], ["id"]
        )

    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reseller_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_staff_reseller_id"), ["reseller_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_staff_reseller_id_resellers"), "resellers", ["reseller_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_staff_reseller_id_resellers"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_staff_reseller_id"))
        batch_op.drop_column("reseller_id")

    with op.batch_alter_table("resellers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_resellers_tier_id_reseller_tiers"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_resellers_shop_slug"), type_="unique")
        batch_op.drop_column("shop_logo")
        batch_op.drop_column("shop_logo_type")
        batch_op.drop_column("shop_markup_bp")
        batch_op.drop_column("shop_theme")
        batch_op.drop_column("shop_notice")
        batch_op.drop_column("shop_enabled")
        batch_op.drop_column("shop_slug")
        batch_op.drop_column("markup_bp")
        batch_op.drop_column("tier_id")

    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("floor_price_minor")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_orders_seller_id_resellers"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_orders_seller_id_created_at"))
        batch_op.drop_column("chain")
        batch_op.drop_column("seller_id")

    op.drop_table("shop_products")
    op.drop_table("reseller_prices")
    op.drop_table("product_audiences")
    op.drop_table("tier_prices")
    op.drop_table("quantity_breaks")
    op.drop_table("reseller_tiers")
