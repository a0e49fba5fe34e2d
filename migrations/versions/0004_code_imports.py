"""code imports

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "code_imports",
        sa.Column("id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("generate_count", sa.Integer(), nullable=True),
        sa.Column("generate_length", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("unit_cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="CNY", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=True),
        sa.Column("rows_read", sa.Integer(), server_default="0", nullable=False),
        sa.Column("staged", sa.Integer(), server_default="0", nullable=False),
        sa.Column("duplicates_in_file", sa.Integer(), server_default="0", nullable=False),
        sa.Column("duplicates_in_pool", sa.Integer(), server_default="0", nullable=False),
        sa.Column("imported", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejected_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejected", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("done_permille", sa.Integer(), server_default="0", nullable=False),
        sa.Column("attempt", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["code_batches.id"], name=op.f("fk_code_imports_batch_id_code_batches")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_code_imports_product_id_products")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_imports")),
    )
    with op.batch_alter_table("code_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_code_imports_product_id"), ["product_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_code_imports_status_updated_at"), ["status", "updated_at"], unique=False)

    op.create_table(
        "code_import_chunks",
        sa.Column("import_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("nonce", sa.LargeBinary(length=12), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["code_imports.id"],
            name=op.f("fk_code_import_chunks_import_id_code_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_id", "seq", name=op.f("pk_code_import_chunks")),
    )
    op.create_table(
        "code_import_rows",
        sa.Column("import_id", sa.BigInteger().with_variant(sa.INTEGER(), "sqlite"), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(length=32), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("nonce", sa.LargeBinary(length=12), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["code_imports.id"],
            name=op.f("fk_code_import_rows_import_id_code_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_id", "fingerprint", name=op.f("pk_code_import_rows")),
    )


def downgrade() -> None:

    op.drop_table("code_import_rows")
    op.drop_table("code_import_chunks")
    with op.batch_alter_table("code_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_code_imports_status_updated_at"))
        batch_op.drop_index(batch_op.f("ix_code_imports_product_id"))

    op.drop_table("code_imports")
