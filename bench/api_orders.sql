-- The raw transaction an API order amounts to, for pgbench (bench/api_orders.py runs it against the same
-- database, after the API run): lock and debit the wallet, sell one code, insert the order, post the purchase.
\set n random(1, 2000000000)
BEGIN;
SELECT balance_minor FROM account_balances WHERE account = 'reseller_wallet:' || :reseller FOR UPDATE;
WITH code AS (
    SELECT id FROM codes WHERE product_id = :product AND state = 'available' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
)
UPDATE codes SET state = 'sold', holder = 'pgbench:' || :n, state_changed_at = now() FROM code WHERE codes.id = code.id;
INSERT INTO orders (number, product_id, product_name, delivery_kind, quantity, unit_price_minor, contact_kind, contact,
                    channel, status, created_at, expires_at, paid_at, paid_minor, payment_method, delivered_units,
                    seller_id, updated_at)
VALUES ('pg' || :n, :product, 'bench', 'voucher', 1, 1980, 'email', 'bench@example.com', 'api', 'delivered', now(),
        now(), now(), 1980, 'balance', 1, :reseller, now());
WITH posting AS (
    INSERT INTO ledger_postings (at, kind, memo, actor, reference) VALUES (now(), 'purchase', 'bench', 'pgbench', 'pg' || :n)
    RETURNING id
)
INSERT INTO ledger_entries (posting_id, account, amount_minor, currency)
SELECT id, 'reseller_wallet:' || :reseller, -1980, 'CNY' FROM posting UNION ALL SELECT id, 'buyer_clearing', 1980, 'CNY' FROM posting;
UPDATE account_balances SET balance_minor = balance_minor - 1980 WHERE account = 'reseller_wallet:' || :reseller;
COMMIT;
