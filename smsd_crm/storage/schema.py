"""The core tables. Plugins add their own through the ``register_migrations`` hook."""

from __future__ import annotations

from ..models import Migration
from .commerce_schema import COMMERCE_MIGRATIONS

CORE_MIGRATIONS: list[Migration] = [
    Migration("m001_customers_and_messages", """
CREATE TABLE customers (
    id          INTEGER PRIMARY KEY,
    phone       TEXT NOT NULL UNIQUE,          -- E.164
    name        TEXT,
    address     TEXT,
    birthday    TEXT,                          -- YYYY-MM-DD
    language    TEXT NOT NULL DEFAULT 'id',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    direction       TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    state           TEXT NOT NULL,
    phone           TEXT,                      -- E.164; NULL when the sender cannot be answered
    address         TEXT NOT NULL,             -- the number or name as received / as sent
    customer_id     INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    text            TEXT NOT NULL,
    modem_id        TEXT,
    sim_id          TEXT,
    smsc_time       TEXT,                      -- the SMSC time stamp with its own offset
    dedupe_key      TEXT UNIQUE,               -- inbound: SIM, sender, SMSC time, text hash
    incomplete      INTEGER NOT NULL DEFAULT 0,
    keyword         TEXT,
    plugin          TEXT,                      -- inbound: who answered; outbound: who queued it
    in_reply_to     INTEGER REFERENCES messages(id),
    priority        INTEGER NOT NULL DEFAULT 0,  -- replies 10, staff 5, campaigns 0
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error      TEXT,
    refs            TEXT,                      -- outbound: TP-MR of each part, comma separated
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CHECK ((direction = 'in' AND state IN ('received', 'handled', 'failed'))
        OR (direction = 'out' AND state IN ('queued', 'sending', 'sent', 'delivered', 'failed',
                                            'cancelled')))
);
CREATE INDEX messages_outbox ON messages (state, priority DESC, id) WHERE direction = 'out';
CREATE INDEX messages_inbox ON messages (state, id) WHERE direction = 'in';
CREATE INDEX messages_phone ON messages (phone, id);
"""),
    Migration("m002_outbox_failover", """
-- The modem a send last failed on: the next attempt prefers another one.
ALTER TABLE messages ADD COLUMN failed_modem TEXT;
"""),
    Migration("m003_delivery_reports", """
-- One row per SMS part handed to a modem: what a status report is matched on.
CREATE TABLE outbox_parts (
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    part        INTEGER NOT NULL,              -- 1-based
    modem_id    TEXT NOT NULL,
    sim_id      TEXT NOT NULL,                 -- IMSI: the same SIM whatever tty it is on
    reference   INTEGER NOT NULL,              -- TP-MR from +CMGS (wraps at 255)
    phone       TEXT NOT NULL,
    status      INTEGER,                       -- TP-ST of the latest report, NULL before any
    final       INTEGER NOT NULL DEFAULT 0,
    sent_at     TEXT NOT NULL,
    reported_at TEXT,
    PRIMARY KEY (message_id, part)
);
CREATE INDEX outbox_parts_match ON outbox_parts (sim_id, reference, phone, final);
"""),
    Migration("m004_modem_status_and_raw_pdus", """
-- The pool's view of each modem, written by the daemon for `smsd-crm status` and the web pages.
CREATE TABLE modem_status (
    modem_id      TEXT PRIMARY KEY,
    port          TEXT NOT NULL,
    state         TEXT NOT NULL,
    imei          TEXT,
    imsi          TEXT,
    iccid         TEXT,
    signal        INTEGER,
    registration  INTEGER,
    operator      TEXT,
    storage_used  INTEGER,
    storage_total INTEGER,
    sent          INTEGER NOT NULL DEFAULT 0,
    received      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    updated_at    TEXT NOT NULL
);
-- An SMS that could not be decoded is kept as it came, for a human to look at.
ALTER TABLE messages ADD COLUMN raw_pdu TEXT;
"""),
    Migration("m005_catalogue", """
CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,          -- upper case, what customers may type (B01)
    name        TEXT NOT NULL,
    category    TEXT NOT NULL DEFAULT 'Lainnya',
    unit        TEXT NOT NULL DEFAULT 'pcs',
    price       INTEGER NOT NULL CHECK (price >= 0),   -- whole rupiah
    cost        INTEGER NOT NULL DEFAULT 0 CHECK (cost >= 0),
    stock       INTEGER CHECK (stock IS NULL OR stock >= 0),  -- NULL: not counted
    active      INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE TABLE product_aliases (
    product_id  INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    alias       TEXT NOT NULL,
    PRIMARY KEY (product_id, alias)
);
"""),
    Migration("m006_consent", """
-- Promotion consent is core: whatever plugin takes the STOP keyword, the check when
-- a promotion is sent reads this table. Every change is kept with its message.
CREATE TABLE consent (
    phone       TEXT PRIMARY KEY,              -- E.164
    promotions  INTEGER NOT NULL,              -- 1 may receive promotions, 0 opted out
    updated_at  TEXT NOT NULL
);
CREATE TABLE consent_events (
    id          INTEGER PRIMARY KEY,
    phone       TEXT NOT NULL,
    promotions  INTEGER NOT NULL,
    at          TEXT NOT NULL,
    message_id  INTEGER,                       -- the SMS that asked, if any
    source      TEXT NOT NULL                  -- plugin or staff
);
CREATE INDEX consent_events_phone ON consent_events (phone, id);
"""),
    Migration("m007_till_sales", """
CREATE TABLE sales (
    id          INTEGER PRIMARY KEY,
    receipt     TEXT NOT NULL UNIQUE,          -- the till's number: a re-import skips it
    phone       TEXT,                          -- E.164 when the till knew the customer
    sold_at     TEXT NOT NULL,
    total       INTEGER NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX sales_phone ON sales (phone, sold_at);
CREATE TABLE sale_lines (
    sale_id     INTEGER NOT NULL REFERENCES sales(id) ON DELETE CASCADE,
    line        INTEGER NOT NULL,
    product_id  INTEGER,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    price       INTEGER NOT NULL,
    cost        INTEGER NOT NULL,
    PRIMARY KEY (sale_id, line)
);
"""),
    Migration("m008_conversations", """
-- A short dialogue a plugin keeps open with one number ("reply YA to confirm").
CREATE TABLE conversations (
    phone       TEXT PRIMARY KEY,
    plugin      TEXT NOT NULL,
    state       TEXT NOT NULL,                 -- JSON, the plugin's own
    expires_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
"""),
    Migration("m009_users_and_sessions", """
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,               -- scrypt$n$r$p$salt$hash
    role          TEXT NOT NULL CHECK (role IN ('owner', 'staff')),
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  TEXT,
    created_at    TEXT NOT NULL
);
CREATE TABLE web_sessions (
    token_hash    TEXT PRIMARY KEY,            -- sha256 of the cookie: a stolen database gives no login
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
"""),
    Migration("m010_api_clients", """
-- Programs that use the JSON API (a POS, a delivery app): one token each, only its SHA-256 kept.
CREATE TABLE api_clients (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
"""),
    Migration("m011_sale_discounts", """
-- A promo discount given at the till (whole rupiah), for the profitability view.
ALTER TABLE sales ADD COLUMN discount INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sales_sold_at ON sales (sold_at);
"""),
    Migration("m012_app_secrets", """
-- Keys the daemon must keep across restarts (the dashboards' session signing key).
CREATE TABLE app_secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
"""),
    Migration("m013_campaigns", """
-- Promotions, greetings and win-back messages. A recipient row per number (nobody twice); its
-- outbox row is written in the same transaction as its 'queued' mark.
CREATE TABLE campaigns (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('promo', 'greeting', 'winback')),
    text         TEXT NOT NULL,                -- JSON: language -> template ({nama}, {poin}, ...)
    audience     TEXT NOT NULL,                -- JSON: {"kind": ..., "value": ...}
    state        TEXT NOT NULL CHECK (state IN ('draft', 'scheduled', 'running', 'paused', 'done', 'cancelled')),
    start_at     TEXT,                         -- UTC; NULL: at once
    promo_code   TEXT UNIQUE,                  -- orders citing it count as this campaign's
    notify_phone TEXT,                         -- the owner who asked by SMS: gets the summary
    occasion     TEXT UNIQUE,                  -- greetings: made once per occasion
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT
);
CREATE TABLE campaign_recipients (
    campaign_id  INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    phone        TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'queued', 'skipped')),
    message_id   INTEGER REFERENCES messages(id),
    reason       TEXT,
    PRIMARY KEY (campaign_id, phone)
);
CREATE INDEX campaign_recipients_state ON campaign_recipients (campaign_id, state);
CREATE INDEX campaign_recipients_message ON campaign_recipients (message_id);
ALTER TABLE messages ADD COLUMN campaign_id INTEGER REFERENCES campaigns(id);
CREATE INDEX messages_campaign ON messages (campaign_id, state) WHERE campaign_id IS NOT NULL;
"""),
    Migration("m014_fallback_replies", """
-- Outbound: 1 for an automatic "not understood" reply (Reply.fallback), budgeted per number per hour.
ALTER TABLE messages ADD COLUMN fallback INTEGER NOT NULL DEFAULT 0;
"""),
    Migration("m015_store_then_send", """
-- The encoded parts of an outbox message while it is being sent, so a restart resumes it exactly:
-- the same PDUs (the same concatenation reference), only the parts not yet on the air.
-- state: encoded (nothing done) | stored (written to the SIM with AT+CMGW at storage_index,
-- not sent) | submitting (AT+CMSS or AT+CMGS issued, result not yet known) | sent.
CREATE TABLE outbox_pdus (
    message_id    INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    part          INTEGER NOT NULL,            -- 1-based
    total         INTEGER NOT NULL,
    pdu           TEXT NOT NULL,               -- hex: SMSC octets + SMS-SUBMIT TPDU
    tpdu_length   INTEGER NOT NULL,            -- octets, for AT+CMGW=/AT+CMGS=
    state         TEXT NOT NULL DEFAULT 'encoded',
    modem_id      TEXT,
    sim_id        TEXT,                        -- the SIM whose storage holds it (IMSI)
    storage_index INTEGER,
    via           TEXT,                        -- CMSS | CMGS: how it was (being) submitted
    reference     INTEGER,                     -- TP-MR once sent (NULL when found sent in storage)
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (message_id, part)
);
CREATE INDEX outbox_pdus_stored ON outbox_pdus (sim_id, storage_index) WHERE storage_index IS NOT NULL;
-- What the daemon learned about a modem model by watching it (keyed by IMEI), for example whether
-- it marks a message sent from storage as "stored sent".
CREATE TABLE modem_facts (
    imei       TEXT NOT NULL,
    fact       TEXT NOT NULL,
    value      TEXT NOT NULL,
    learned_at TEXT NOT NULL,
    PRIMARY KEY (imei, fact)
);
"""),
    Migration("m016_sales_in_utc", """
-- One time rule (docs/architecture.md, "Time"): every stored instant is UTC. Till sales were kept
-- in the till's local time with its offset ("2025-01-01T06:30:00+07:00"); SQLite's strftime reads
-- the offset and writes the same instant in UTC. Rows without an offset were already UTC.
UPDATE sales SET sold_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', sold_at)
WHERE sold_at NOT LIKE '%+00:00' AND strftime('%Y-%m-%dT%H:%M:%S+00:00', sold_at) IS NOT NULL;
""",
              # PostgreSQL came later: its sales table is empty here and every sale is stored in UTC.
              postgresql=""),
    Migration("m017_users_disabled", """
-- A login the owner switched off (the users page, `smsd-crm user disable`): it cannot log in and its
-- sessions are ended. NULL while the login may be used.
ALTER TABLE users ADD COLUMN disabled_at TEXT;
"""),
    Migration("m018_form_uses", """
-- Each page form that texts a customer carries a random token; the first POST with it acts, a repeat
-- (a double tap, a resent form, requests racing) is answered as done (storage/form_uses.py).
CREATE TABLE form_uses (
    token   TEXT PRIMARY KEY,
    at      TEXT NOT NULL
);
"""),
    Migration("m019_api_client_scopes", """
-- What each API token may do: 'read' (GET routes) and/or 'send' (routes that send SMS or change
-- something), space-separated. Tokens made before scopes existed keep what they could do.
ALTER TABLE api_clients ADD COLUMN scopes TEXT NOT NULL DEFAULT 'read send';
"""),
    Migration("m020_daemon_status", """
-- The daemon's own health beside modem_status, rewritten every few seconds by the same publisher
-- (status.py) for `smsd-crm status` and the modems page: how late its event loop woke over the
-- last minute (loop_lag.py), in milliseconds. One row.
CREATE TABLE daemon_status (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    loop_lag_max_ms REAL NOT NULL,
    loop_lag_p99_ms REAL NOT NULL,             -- nearest rank
    samples         INTEGER NOT NULL,          -- lags the minute held
    updated_at      TEXT NOT NULL
);
"""),
    Migration("m021_messages_created", """
-- Messages by when they were stored: the owner's dashboards count this month's messages and the
-- last week's reply times; without it each count read every message ever kept (4 million rows and
-- about a second at 200,000 customers, docs/benchmarks.md, issue 17). Written once per message.
CREATE INDEX messages_created ON messages (created_at);
"""),
    Migration("m022_stores", """
-- A chain of stores on one PostgreSQL database (docs/deployment.md): messages, sales, campaigns and modems
-- belong to the store (store.id) that received, made or runs them; customers, consent and the points
-- ledger are the chain's. A shop on its own is the store 'main'.
ALTER TABLE messages ADD COLUMN store_id TEXT NOT NULL DEFAULT 'main';
ALTER TABLE sales ADD COLUMN store_id TEXT NOT NULL DEFAULT 'main';
ALTER TABLE campaigns ADD COLUMN store_id TEXT NOT NULL DEFAULT 'main';
DROP INDEX messages_outbox;
CREATE INDEX messages_outbox ON messages (store_id, state, priority DESC, id) WHERE direction = 'out';
DROP INDEX messages_inbox;
CREATE INDEX messages_inbox ON messages (store_id, state, id) WHERE direction = 'in';
CREATE INDEX sales_store ON sales (store_id, sold_at);
-- Modem ids are the store's own (two stores may each have a sim1); both tables are rewritten every few
-- seconds by the running daemon, so they are made anew.
DROP TABLE modem_status;
CREATE TABLE modem_status (
    store_id      TEXT NOT NULL DEFAULT 'main',
    modem_id      TEXT NOT NULL,
    port          TEXT NOT NULL,
    state         TEXT NOT NULL,
    imei          TEXT,
    imsi          TEXT,
    iccid         TEXT,
    signal        INTEGER,
    registration  INTEGER,
    operator      TEXT,
    storage_used  INTEGER,
    storage_total INTEGER,
    sent          INTEGER NOT NULL DEFAULT 0,
    received      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (store_id, modem_id)
);
DROP TABLE daemon_status;
CREATE TABLE daemon_status (
    store_id        TEXT PRIMARY KEY,
    loop_lag_max_ms REAL NOT NULL,
    loop_lag_p99_ms REAL NOT NULL,             -- nearest rank
    samples         INTEGER NOT NULL,          -- lags the minute held
    db_outage_from  TEXT,                      -- the database server's last outage (UTC), NULL: none seen
    db_outage_to    TEXT,
    updated_at      TEXT NOT NULL
);
"""),
    Migration("m023_store_stock", """
-- Stock is each store's (docs/deployment.md): the catalogue (codes, names, prices) is the chain's, the
-- count on the shelf is not. products.stock stays the count of the store 'main' (a shop on its own
-- keeps its numbers as they were); every other store counts here. NULL: not counted.
CREATE TABLE store_stock (
    store_id    TEXT NOT NULL,
    product_id  INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    stock       INTEGER,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (store_id, product_id)
);
"""),
    Migration("m024_modem_credit", """
-- A prepaid SIM's credit as its operator last said by USSD (modems[].credit), and the owner's alerts
-- about it: one row per alert raised and not yet over, so a restart never texts the owner again.
ALTER TABLE modem_status ADD COLUMN balance INTEGER;
ALTER TABLE modem_status ADD COLUMN active_until TEXT;
ALTER TABLE modem_status ADD COLUMN sms_left INTEGER;
ALTER TABLE modem_status ADD COLUMN sms_until TEXT;
ALTER TABLE modem_status ADD COLUMN credit_checked_at TEXT;
ALTER TABLE modem_status ADD COLUMN credit_note TEXT NOT NULL DEFAULT '';
ALTER TABLE modem_status ADD COLUMN credit_refusals INTEGER NOT NULL DEFAULT 0;
CREATE TABLE credit_alerts (
    store_id    TEXT NOT NULL,
    modem_id    TEXT NOT NULL,
    reason      TEXT NOT NULL CHECK (reason IN ('low', 'expiring', 'package', 'refused')),
    raised_at   TEXT NOT NULL,
    PRIMARY KEY (store_id, modem_id, reason)
);
"""),
]


def core_schema() -> list[tuple[str, Migration]]:
    """Every table core reads, as ``(owner, migration)`` pairs for :func:`~.migrate.migrate`: core's
    own and the shop's orders, complaints, points and vouchers (:mod:`.commerce_schema`), in order."""
    return [("core", m) for m in CORE_MIGRATIONS] + COMMERCE_MIGRATIONS
