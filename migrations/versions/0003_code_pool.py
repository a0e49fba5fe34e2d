"""code pool

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "code_batches",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("unit_cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="CNY", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_code_batches_product_id_products")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_batches")),
    )
    with op.batch_alter_table("code_batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_code_batches_product_id"), ["product_id"], unique=False)

    op.create_table(
        "codes",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("fingerprint", sa.LargeBinary(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("nonce", sa.LargeBinary(length=12), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["code_batches.id"], name=op.f("fk_codes_batch_id_code_batches")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_codes_product_id_products")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_codes")),
        sa.UniqueConstraint("product_id", "fingerprint", name=op.f("uq_codes_product_id_fingerprint")),
    )
    with op.batch_alter_table("codes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_codes_available",
            ["product_id", "id"],
            unique=False,
            postgresql_where=sa.text("state = 'available'"),
            sqlite_where=sa.text("state = 'available'"),
        )
        batch_op.create_index(batch_op.f("ix_codes_batch_id_state"), ["batch_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_codes_holder"), ["holder"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_codes_holder"))
        batch_op.drop_index(batch_op.f("ix_codes_batch_id_state"))
        batch_op.drop_index(
            "ix_codes_available",
            postgresql_where=sa.text("state = 'available'"),
            sqlite_where=sa.text("state = 'available'"),
        )

    op.drop_table("codes")
    with op.batch_alter_table("code_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_code_batches_product_id"))

    op.drop_table("code_batches")
