"""Orders, complaints, the points ledger and vouchers: core storage (issue 18), whichever plugins are
switched on. The built-in order, complaint and points plugins made these tables; their migrations
are kept here word for word under the same owner names (``order``, ``complaint``, ``points``), so a
database they made is not migrated again and a new one gets the same tables. Core reads them through
:mod:`smsd_crm.storage.orders` and the facades on the plugin context (``ctx.orders``, ...)."""

from __future__ import annotations

from .migrate import Migration

LEDGER = """
CREATE TABLE points_ledger (
    id          INTEGER PRIMARY KEY,
    phone       TEXT NOT NULL,
    delta       INTEGER NOT NULL CHECK (delta != 0),
    reason      TEXT NOT NULL CHECK (reason IN ('order', 'till', 'redeem', 'expiry', 'adjust')),
    ref         TEXT,                           -- order id, sale id, voucher code
    at          TEXT NOT NULL
);
CREATE INDEX points_ledger_phone ON points_ledger (phone, at);
-- An order or a sale earns points once, however often its event is seen.
CREATE UNIQUE INDEX points_ledger_once ON points_ledger (reason, ref) WHERE reason IN ('order', 'till');
CREATE TABLE vouchers (
    code        TEXT PRIMARY KEY,
    phone       TEXT NOT NULL,
    reward      TEXT NOT NULL,
    cost        INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    used_at     TEXT
);
"""

ORDER_MIGRATIONS = [Migration("m001_orders", """
CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    phone       TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('new', 'ready', 'done', 'cancelled')),
    total       INTEGER NOT NULL,
    language    TEXT NOT NULL,
    message_id  INTEGER,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX orders_phone ON orders (phone, id);
CREATE INDEX orders_state ON orders (state, id);
CREATE TABLE order_lines (
    order_id    INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    line        INTEGER NOT NULL,
    product_id  INTEGER NOT NULL,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    price       INTEGER NOT NULL,
    cost        INTEGER NOT NULL,
    PRIMARY KEY (order_id, line)
);
CREATE TABLE order_events (
    order_id    INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    at          TEXT NOT NULL,
    by          TEXT NOT NULL
);
"""),
            Migration("m002_discounts", """
-- A promo code the order cited and the discount it gave (campaigns fill these in).
ALTER TABLE orders ADD COLUMN discount INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN promo_code TEXT;
CREATE INDEX orders_created ON orders (created_at);
"""),
            Migration("m003_orders_updated_index", """
-- The dashboards notice a changed order by its newest updated_at.
CREATE INDEX orders_updated ON orders (updated_at);
"""),
            Migration("m004_stores", """
-- An order belongs to the store whose number it was texted to (store.id; docs/deployment.md).
ALTER TABLE orders ADD COLUMN store_id TEXT NOT NULL DEFAULT 'main';
CREATE INDEX orders_store ON orders (store_id, state, id);
""")]

COMPLAINT_MIGRATIONS = [Migration("m001_complaints", """
CREATE TABLE complaints (
    id              INTEGER PRIMARY KEY,
    phone           TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('open', 'answered', 'closed')),
    language        TEXT NOT NULL,
    opened_at       TEXT NOT NULL,
    first_answer_at TEXT,
    closed_at       TEXT,
    close_note      TEXT
);
CREATE INDEX complaints_state ON complaints (state, id);
CREATE INDEX complaints_phone ON complaints (phone, id);
CREATE TABLE complaint_notes (
    complaint_id    INTEGER NOT NULL REFERENCES complaints(id) ON DELETE CASCADE,
    at              TEXT NOT NULL,
    author          TEXT NOT NULL,          -- customer or staff
    text            TEXT NOT NULL,
    message_id      INTEGER
);
""")]

POINTS_MIGRATIONS = [Migration("m001_ledger", LEDGER + """
-- Append-only: a change is a new row, never an edit.
CREATE TRIGGER points_ledger_no_update BEFORE UPDATE ON points_ledger
BEGIN SELECT RAISE(ABORT, 'the points ledger is append-only'); END;
CREATE TRIGGER points_ledger_no_delete BEFORE DELETE ON points_ledger
BEGIN SELECT RAISE(ABORT, 'the points ledger is append-only'); END;
""", postgresql=LEDGER + """
-- Append-only: a change is a new row, never an edit (SQLSTATE 23000: a broken rule, as SQLite's ABORT).
CREATE FUNCTION points_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the points ledger is append-only' USING ERRCODE = 'integrity_constraint_violation'; END $$;
CREATE TRIGGER points_ledger_no_update BEFORE UPDATE OR DELETE ON points_ledger
FOR EACH ROW EXECUTE FUNCTION points_ledger_append_only();
CREATE TRIGGER points_ledger_no_truncate BEFORE TRUNCATE ON points_ledger
FOR EACH STATEMENT EXECUTE FUNCTION points_ledger_append_only();
"""), Migration("m002_voucher_value", """
-- what each redeemed reward cost the shop, for the profitability view
ALTER TABLE vouchers ADD COLUMN value INTEGER NOT NULL DEFAULT 0;
""")]

COMMERCE_MIGRATIONS: list[tuple[str, Migration]] = (
    [("order", m) for m in ORDER_MIGRATIONS] + [("complaint", m) for m in COMPLAINT_MIGRATIONS]
    + [("points", m) for m in POINTS_MIGRATIONS])
