"""The schema, as SQLAlchemy Core tables. Domain classes stay free of SQLAlchemy; repositories map rows."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite

from adapters.db.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT on PostgreSQL, INTEGER on SQLite (only INTEGER PRIMARY KEY is SQLite's rowid alias).
BigId = BigInteger().with_variant(sqlite.INTEGER(), "sqlite")
Json = JSON().with_variant(postgresql.JSONB(), "postgresql")

staff = Table(
    "staff",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(32), nullable=False, unique=True),
    Column("display_name", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("password_hash", Text),
    Column("locale", String(8)),
    Column("auth_version", Integer, nullable=False, server_default="1"),
    Column("invite_token_hash", String(64), unique=True),
    Column("invite_expires_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime),
    # Set for a reseller's own login (role "reseller"): it sees that reseller's portal and nothing else.
    Column("reseller_id", Integer, ForeignKey("resellers.id"), index=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("actor_id", Integer),
    Column("actor_name", String(64), nullable=False),
    Column("ip", String(45)),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False, server_default=""),
    Column("details", Json, nullable=False),
    Index(None, "action", "at"),
    Index(None, "actor_kind", "actor_id", "at"),
)

worker_beats = Table(
    "worker_beats",
    metadata,
    Column("worker", String(128), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
    Column("queue_lag_ms", Integer, nullable=False),
)

products = Table(
    "products",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sku", String(40), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("brand", String(60), nullable=False, server_default=""),
    Column("category", String(60), nullable=False, server_default=""),
    Column("face_value_minor", BigInteger, nullable=False),
    Column("retail_price_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False, server_default="CNY"),
    Column("delivery_kind", String(16), nullable=False),
    Column("usage_instructions", Text, nullable=False, server_default=""),
    Column("on_sale", Boolean, nullable=False, server_default=false()),
    # The merchant's floor: no reseller price is ever below it.
    Column("floor_price_minor", BigInteger, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "category"),
)

code_batches = Table(
    "code_batches",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("product_id", Integer, ForeignKey("products.id"), nullable=False, index=True),
    Column("source", String(60), nullable=False),
    Column("unit_cost_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False, server_default="CNY"),
    Column("expires_at", UTCDateTime),
    Column("imported_by", String(64), nullable=False),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("total", Integer, nullable=False),
)

codes = Table(
    "codes",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("product_id", Integer, ForeignKey("products.id"), nullable=False),
    Column("batch_id", BigId, ForeignKey("code_batches.id"), nullable=False),
    Column("state", String(10), nullable=False),
    # Who holds a reserved or sold code (an order unit); empty while available.
    Column("holder", String(64)),
    Column("fingerprint", LargeBinary(32), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("nonce", LargeBinary(12), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("state_changed_at", UTCDateTime, nullable=False),
    UniqueConstraint("product_id", "fingerprint"),
    Index(None, "batch_id", "state"),
    Index(None, "holder"),
    # Allocation walks only available codes, in id order.
    Index(
        "ix_codes_available",
        "product_id",
        "id",
        postgresql_where=text("state = 'available'"),
        sqlite_where=text("state = 'available'"),
    ),
)

code_imports = Table(
    "code_imports",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("product_id", Integer, ForeignKey("products.id"), nullable=False, index=True),
    Column("status", String(10), nullable=False),
    Column("format", String(10), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("generate_count", Integer),
    Column("generate_length", Integer),
    Column("source", String(60), nullable=False),
    Column("unit_cost_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False, server_default="CNY"),
    Column("expires_at", UTCDateTime),
    Column("requested_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("error", String(64)),
    Column("batch_id", BigId, ForeignKey("code_batches.id")),
    Column("rows_read", Integer, nullable=False, server_default="0"),
    Column("staged", Integer, nullable=False, server_default="0"),
    Column("duplicates_in_file", Integer, nullable=False, server_default="0"),
    Column("duplicates_in_pool", Integer, nullable=False, server_default="0"),
    Column("imported", Integer, nullable=False, server_default="0"),
    Column("rejected_count", Integer, nullable=False, server_default="0"),
    Column("rejected", Json, nullable=False),
    Column("done_permille", Integer, nullable=False, server_default="0"),
    Column("attempt", Integer, nullable=False, server_default="0"),
    Column("updated_at", UTCDateTime),
    Index(None, "status", "updated_at"),
)

# The uploaded file, sealed like codes (it holds them in plain text), until its import finishes.
code_import_chunks = Table(
    "code_import_chunks",
    metadata,
    Column("import_id", BigId, ForeignKey("code_imports.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("key_id", String(16), nullable=False),
    Column("nonce", LargeBinary(12), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
)

# Rows read and sealed so far; moved into `codes` in one statement when the whole file has been read.
code_import_rows = Table(
    "code_import_rows",
    metadata,
    Column("import_id", BigId, ForeignKey("code_imports.id", ondelete="CASCADE"), primary_key=True),
    Column("fingerprint", LargeBinary(32), primary_key=True),
    Column("line", Integer, nullable=False),  # codes enter the pool in file order
    Column("key_id", String(16), nullable=False),
    Column("nonce", LargeBinary(12), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("number", String(20), nullable=False, unique=True),
    Column("product_id", Integer, ForeignKey("products.id"), nullable=False),
    Column("product_name", String(120), nullable=False),
    Column("delivery_kind", String(16), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False, server_default="CNY"),
    Column("contact_kind", String(8), nullable=False),
    Column("contact", String(254), nullable=False),
    Column("recharge_account", String(128), nullable=False, server_default=""),
    Column("channel", String(8), nullable=False),
    Column("buyer_ip", String(45)),
    Column("device", String(64)),
    Column("status", String(24), nullable=False),
    Column("attention", String(24)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("paid_at", UTCDateTime),
    Column("paid_minor", BigInteger),
    Column("payment_method", String(16), nullable=False, server_default=""),
    Column("delivered_units", Integer, nullable=False, server_default="0"),
    Column("refund_due_minor", BigInteger),
    Column("notification", String(16), nullable=False, server_default="pending"),
    # Sold through a reseller (its shop): the seller, and each level's unit cost from the merchant's own
    # reseller down to it, fixed when the order was placed — what the sale's split is posted from.
    Column("seller_id", Integer, ForeignKey("resellers.id")),
    Column("chain", Json),
    # Placed through the Open API: the caller's own id for it (one order per reseller and id), the request's
    # fingerprint (the same id with another body is a conflict), the key, and where to call back.
    Column("out_trade_no", String(64)),
    Column("request_hash", String(64)),
    Column("api_key_id", Integer, ForeignKey("api_keys.id")),
    Column("callback_url", String(512)),
    # What the risk rules matched at placement (domain.risk.Match.as_dict each) and their score.
    Column("risk_reasons", Json),
    Column("risk_score", Integer, nullable=False, server_default="0"),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "created_at"),
    Index(None, "status", "expires_at"),
    Index(None, "status", "paid_at"),
    Index(None, "contact", "status"),
    Index(None, "buyer_ip", "status"),
    Index(None, "device", "status"),
    Index(None, "product_id", "created_at"),
    Index(None, "attention"),
    Index(None, "notification", "updated_at"),
    Index(None, "seller_id", "created_at"),
    UniqueConstraint("seller_id", "out_trade_no"),
)

# The timeline: every status change with its reason, every notice, attempt, mail and reveal.
order_events = Table(
    "order_events",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("details", Json, nullable=False),
    Index(None, "order_id", "id"),
)

# Gateway payments; one row per (gateway, trade no) is what makes repeated notices harmless.
order_payments = Table(
    "order_payments",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=False, index=True),
    Column("gateway", String(16), nullable=False),
    Column("trade_no", String(64), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False, server_default="CNY"),
    Column("received_at", UTCDateTime, nullable=False),
    UniqueConstraint("gateway", "trade_no"),
)

# Delivered units: once per order unit, a code in at most one of them.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=False),
    Column("unit", Integer, nullable=False),
    Column("code_id", BigId, ForeignKey("codes.id"), unique=True),
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    Column("token_key_id", String(16), nullable=False),
    Column("token_nonce", LargeBinary(12), nullable=False),
    Column("token_ciphertext", LargeBinary, nullable=False),
    Column("content_key_id", String(16)),
    Column("content_nonce", LargeBinary(12)),
    Column("content_ciphertext", LargeBinary),
    Column("delivered_at", UTCDateTime, nullable=False),
    Column("delivered_by", String(64), nullable=False),
    Column("reveals", Integer, nullable=False, server_default="0"),
    UniqueConstraint("order_id", "unit"),
)

resellers = Table(
    "resellers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False),
    Column("contact_kind", String(8), nullable=False),
    Column("contact", String(254), nullable=False),
    Column("status", String(16), nullable=False),
    # Who switched it off: a parent may switch its sub-resellers on again only if it was the parent.
    Column("disabled_by", String(8)),
    Column("credit_limit_minor", BigInteger, nullable=False, server_default="0"),
    Column("currency", String(3), nullable=False, server_default="CNY"),
    Column("parent_id", Integer, ForeignKey("resellers.id"), index=True),
    Column("depth", Integer, nullable=False),
    Column("tier_id", Integer, ForeignKey("reseller_tiers.id")),
    # What the parent adds over its own cost for this sub-reseller, where it set no price of its own.
    Column("markup_bp", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    # The one-click shop at /s/<slug>.
    Column("shop_slug", String(32), unique=True),
    Column("shop_enabled", Boolean, nullable=False, server_default=false()),
    Column("shop_notice", String(500), nullable=False, server_default=""),
    Column("shop_theme", String(7), nullable=False, server_default="#b91c1c"),
    Column("shop_markup_bp", Integer, nullable=False, server_default="2000"),
    Column("shop_logo_type", String(16)),
    Column("shop_logo", LargeBinary),
)

reseller_tiers = Table(
    "reseller_tiers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(32), nullable=False, unique=True),
)

# A tier's price for a product: fixed, or a discount off retail.
tier_prices = Table(
    "tier_prices",
    metadata,
    Column("tier_id", Integer, ForeignKey("reseller_tiers.id"), primary_key=True),
    Column("product_id", Integer, ForeignKey("products.id"), primary_key=True),
    Column("price_minor", BigInteger),
    Column("discount_bp", Integer, nullable=False, server_default="0"),
)

# One reseller's price for a product: set by the merchant (its own resellers) or by the inviting reseller.
reseller_prices = Table(
    "reseller_prices",
    metadata,
    Column("reseller_id", Integer, ForeignKey("resellers.id"), primary_key=True),
    Column("product_id", Integer, ForeignKey("products.id"), primary_key=True),
    Column("price_minor", BigInteger, nullable=False),
    Index(None, "product_id"),  # the merchant's prices are read per product
)

quantity_breaks = Table(
    "quantity_breaks",
    metadata,
    Column("product_id", Integer, ForeignKey("products.id"), primary_key=True),
    Column("min_quantity", Integer, primary_key=True),
    Column("discount_bp", Integer, nullable=False),
)

# Who among the resellers may sell a product; none listed: every reseller.
product_audiences = Table(
    "product_audiences",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("product_id", Integer, ForeignKey("products.id"), nullable=False),
    Column("tier_id", Integer, ForeignKey("reseller_tiers.id")),
    Column("reseller_id", Integer, ForeignKey("resellers.id")),
    UniqueConstraint("product_id", "tier_id", "reseller_id"),
    CheckConstraint("(tier_id IS NULL) <> (reseller_id IS NULL)", name="tier_or_reseller"),
)

# The products a reseller's shop offers, at its own retail price (or its default markup over cost).
shop_products = Table(
    "shop_products",
    metadata,
    Column("reseller_id", Integer, ForeignKey("resellers.id"), primary_key=True),
    Column("product_id", Integer, ForeignKey("products.id"), primary_key=True),
    Column("price_minor", BigInteger),
    Column("position", Integer, nullable=False, server_default="0"),
)

# The ledger: append-only postings whose entries sum to zero, and resellers' balances kept beside them
# (moved in the same transaction; tests check they always equal the sum of the entries).
ledger_postings = Table(
    "ledger_postings",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(24), nullable=False),
    Column("memo", String(200), nullable=False, server_default=""),
    Column("actor", String(64), nullable=False),
    Column("reference", String(64), nullable=False, server_default="", index=True),
    # The posting this one undoes; unique: nothing is reversed twice.
    Column("reverses", BigId, ForeignKey("ledger_postings.id"), unique=True),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("posting_id", BigId, ForeignKey("ledger_postings.id"), nullable=False),
    Column("account", String(64), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Index(None, "account", "posting_id"),
)

account_balances = Table(
    "account_balances",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("balance_minor", BigInteger, nullable=False, server_default="0"),
    Column("currency", String(3), nullable=False, server_default="CNY"),
)

# Resellers' Open API keys: the signing and webhook secrets sealed like codes, shown once when made.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key_id", String(20), nullable=False, unique=True),
    Column("reseller_id", Integer, ForeignKey("resellers.id"), nullable=False, index=True),
    Column("label", String(64), nullable=False, server_default=""),
    Column("secret_key_id", String(16), nullable=False),
    Column("secret_nonce", LargeBinary(12), nullable=False),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("webhook_key_id", String(16), nullable=False),
    Column("webhook_nonce", LargeBinary(12), nullable=False),
    Column("webhook_ciphertext", LargeBinary, nullable=False),
    Column("allowed_ips", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
)

# Callbacks to API callers (Standard Webhooks): one message per order event, every attempt kept.
webhook_messages = Table(
    "webhook_messages",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("msg_id", String(40), nullable=False, unique=True),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=False, index=True),
    Column("api_key_id", Integer, ForeignKey("api_keys.id"), nullable=False, index=True),
    Column("event", String(32), nullable=False),
    Column("url", String(512), nullable=False),
    Column("payload", Json, nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_attempt_at", UTCDateTime),
    Column("delivered_at", UTCDateTime),
    Index(None, "status", "last_attempt_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("message_id", BigId, ForeignKey("webhook_messages.id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("status_code", Integer),
    Column("error", String(200), nullable=False, server_default=""),
    Column("duration_ms", Integer, nullable=False),
    Index(None, "message_id", "id"),
)

# Upstream suppliers (other kaquan instances, where the merchant is a reseller), their synced catalogs, the
# ordered fulfilment sources of each product, and every order placed upstream.
upstreams = Table(
    "upstreams",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("base_url", String(255), nullable=False),
    Column("key_id", String(20), nullable=False),
    Column("secret_key_id", String(16), nullable=False),
    Column("secret_nonce", LargeBinary(12), nullable=False),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("webhook_key_id", String(16)),
    Column("webhook_nonce", LargeBinary(12)),
    Column("webhook_ciphertext", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False),
    Column("synced_at", UTCDateTime),
)

upstream_products = Table(
    "upstream_products",
    metadata,
    Column("upstream_id", Integer, ForeignKey("upstreams.id"), primary_key=True),
    Column("sku", String(40), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("price_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False, server_default="CNY"),
    Column("delivery_kind", String(16), nullable=False),
    Column("in_stock", Boolean, nullable=False),
    Column("available", Integer),
    Column("synced_at", UTCDateTime, nullable=False),
)

product_sources = Table(
    "product_sources",
    metadata,
    Column("product_id", Integer, ForeignKey("products.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("upstream_id", Integer, ForeignKey("upstreams.id")),  # empty: the own code pool
    Column("upstream_sku", String(40), nullable=False, server_default=""),
    Column("cost_ceiling_minor", BigInteger),
)

upstream_orders = Table(
    "upstream_orders",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=False, index=True),
    Column("upstream_id", Integer, ForeignKey("upstreams.id"), nullable=False),
    Column("out_trade_no", String(64), nullable=False),
    Column("upstream_order_no", String(32)),
    Column("units", Integer, nullable=False),
    Column("status", String(12), nullable=False),
    Column("unit_cost_minor", BigInteger),
    Column("error", String(64), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Codes taken from its answers so far; when staff stopped waiting for it (its late codes go to the pool).
    Column("received", Integer, nullable=False, server_default="0"),
    Column("abandoned_at", UTCDateTime),
    UniqueConstraint("upstream_id", "out_trade_no"),
)

# Orders staff sent to their sources again: which round of asking they are in (none: the first).
sourcing_rounds = Table(
    "sourcing_rounds",
    metadata,
    Column("order_id", BigId, ForeignKey("orders.id"), primary_key=True),
    Column("round", Integer, nullable=False),
)

# Risk control: the merchant's rules (a condition type with its parameters, an action, a reason), its block and
# allow lists, and the log of attempts any of them matched.
risk_rules = Table(
    "risk_rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), nullable=False),
    Column("type", String(24), nullable=False),
    Column("params", Json, nullable=False),
    Column("action", String(12), nullable=False),
    Column("reason", String(200), nullable=False, server_default=""),
    Column("score", Integer, nullable=False),
    Column("applies_to", String(8), nullable=False, server_default="order"),
    Column("channels", String(64), nullable=False, server_default=""),  # comma-separated; empty: every channel
    Column("product_id", Integer, ForeignKey("products.id")),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

risk_list_entries = Table(
    "risk_list_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list", String(8), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("value", String(254), nullable=False),
    Column("note", String(200), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False, server_default=""),
    UniqueConstraint("list", "kind", "value"),
    Index(None, "kind", "value"),
)

risk_decisions = Table(
    "risk_decisions",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(8), nullable=False),  # order or lookup
    Column("channel", String(8), nullable=False),
    Column("outcome", String(12), nullable=False),  # what happened: allow, challenge, review, block
    Column("verdict", String(12), nullable=False),  # what the rules said
    Column("score", Integer, nullable=False),
    Column("reasons", Json, nullable=False),
    Column("ip", String(45)),
    Column("device", String(64)),
    Column("contact", String(254)),
    Column("recharge_account", String(128), nullable=False, server_default=""),
    Column("reseller_id", Integer),
    Column("product_id", Integer),
    Column("quantity", Integer, nullable=False, server_default="0"),
    Column("amount_minor", BigInteger, nullable=False, server_default="0"),
    Column("order_number", String(20), nullable=False, server_default=""),
    Index(None, "at"),
    Index(None, "outcome", "at"),
)
