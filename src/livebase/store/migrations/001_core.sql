-- livebase store, migration 001: the core tables of DESIGN.md ("Data model").
-- Money is DECIMAL(18,2): exact to the cent/kopeck on every engine.
-- Times are TIMESTAMP without time zone, in the shop's local time as exported.
-- The big tables (customers, orders, events) have no PRIMARY KEY index: their keys are
-- unique because ingestion merges by key (tested); an ART index over 10M+ keys would cost
-- several times the load itself and memory growing with the store (see BENCHMARKS.md).

-- One row per file (or stdin) loaded. rows_read = inserted + updated + unchanged
-- + duplicate + rejected, always.
CREATE TABLE loads (
    load_id        INTEGER PRIMARY KEY,
    kind           VARCHAR NOT NULL,            -- orders | customers | events
    file           VARCHAR NOT NULL,
    checksum       VARCHAR NOT NULL,            -- sha256 of the file's bytes
    preset         VARCHAR NOT NULL,
    rows_read      BIGINT NOT NULL,
    rows_inserted  BIGINT NOT NULL,
    rows_updated   BIGINT NOT NULL,
    rows_unchanged BIGINT NOT NULL,
    rows_duplicate BIGINT NOT NULL,             -- repeated within the same file
    rows_rejected  BIGINT NOT NULL,
    rejected_file  VARCHAR,                     -- where --skip-bad-rows wrote the rejected rows
    started_at     TIMESTAMP NOT NULL,
    finished_at    TIMESTAMP NOT NULL
);

CREATE TABLE customers (
    customer_id VARCHAR NOT NULL,               -- the source's id, stable across loads (unique)
    email       VARCHAR,
    phone       VARCHAR,
    name        VARCHAR,
    timezone    VARCHAR,
    created_at  TIMESTAMP,
    attributes  JSON,                           -- every other column of the source, by header
    first_load  INTEGER NOT NULL,
    last_load   INTEGER NOT NULL
);

CREATE TABLE orders (
    order_id      VARCHAR NOT NULL,             -- source id, or a digest of customer+time+amount (unique)
    customer_id   VARCHAR NOT NULL,
    created_at    TIMESTAMP,
    paid_at       TIMESTAMP,                    -- the date that counts for revenue
    amount        DECIMAL(18,2) NOT NULL,       -- the order's price
    paid_amount   DECIMAL(18,2) NOT NULL,       -- what counts toward revenue (0 unless paid)
    currency      VARCHAR,
    status        VARCHAR NOT NULL CHECK (status IN
                      ('paid', 'partially_paid', 'pending', 'cancelled', 'refunded')),
    source_status VARCHAR,                      -- the label or code as exported
    return_requested BOOLEAN NOT NULL DEFAULT FALSE,  -- paid, but a return is awaited
    items         VARCHAR,                      -- title / product / category as exported
    quantity      INTEGER,
    promo_code    VARCHAR,
    attributes    JSON,
    first_load    INTEGER NOT NULL,
    last_load     INTEGER NOT NULL
);

CREATE TABLE events (
    event_id    VARCHAR NOT NULL,               -- unique
    customer_id VARCHAR NOT NULL,
    ts          TIMESTAMP NOT NULL,
    name        VARCHAR NOT NULL,               -- login, lesson_completed, cart_abandoned, …
    properties  JSON,
    first_load  INTEGER NOT NULL
);

-- Running per-customer aggregates kept up to date on ingest (incremental re-segmentation).
CREATE TABLE customer_state (
    customer_id    VARCHAR PRIMARY KEY,
    first_order_at TIMESTAMP,
    first_paid_at  TIMESTAMP,
    last_paid_at   TIMESTAMP,
    paid_orders    BIGINT NOT NULL,
    paid_days      BIGINT NOT NULL,
    paid_revenue   DECIMAL(18,2) NOT NULL,
    refunded_orders BIGINT NOT NULL,
    last_event_at  TIMESTAMP,
    updated_load   INTEGER NOT NULL
);

CREATE TABLE consents (
    customer_id VARCHAR NOT NULL,
    channel     VARCHAR NOT NULL,
    status      VARCHAR NOT NULL CHECK (status IN ('subscribed', 'unsubscribed')),
    source      VARCHAR,
    ts          TIMESTAMP NOT NULL,
    PRIMARY KEY (customer_id, channel, ts)
);

CREATE TABLE suppressions (
    customer_id VARCHAR,
    address     VARCHAR,
    channel     VARCHAR NOT NULL,
    reason      VARCHAR NOT NULL CHECK (reason IN ('bounce', 'complaint', 'manual', 'legal')),
    ts          TIMESTAMP NOT NULL,
    CHECK (customer_id IS NOT NULL OR address IS NOT NULL)
);

-- SCD type 2: one row per customer, scheme and period a segment held.
CREATE TABLE segment_history (
    customer_id VARCHAR NOT NULL,
    scheme      VARCHAR NOT NULL,
    segment     VARCHAR NOT NULL,
    scores      JSON,
    valid_from  DATE NOT NULL,
    valid_to    DATE                            -- exclusive; NULL = still current
    -- unique on (customer_id, scheme, valid_from) by construction of the history writer
    -- (hypothesis-tested); no index: maintaining it was most of the cost of writing history
);

-- Dates a scheme was computed for (so a re-run of a date changes nothing).
CREATE TABLE segment_runs (
    scheme      VARCHAR NOT NULL,
    as_of       DATE NOT NULL,
    customers   BIGINT NOT NULL,
    config_hash VARCHAR NOT NULL,
    ran_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (scheme, as_of)
);

CREATE TABLE assignments (
    experiment  VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    arm         VARCHAR NOT NULL,
    salt        VARCHAR NOT NULL,
    ts          TIMESTAMP NOT NULL,
    PRIMARY KEY (experiment, customer_id)
);

CREATE TABLE journeys (
    customer_id VARCHAR NOT NULL,
    playbook    VARCHAR NOT NULL,
    step        INTEGER NOT NULL,
    entered_at  TIMESTAMP NOT NULL,
    next_due_at TIMESTAMP,
    state       VARCHAR NOT NULL,
    PRIMARY KEY (customer_id, playbook)
);

CREATE TABLE outbox (
    idempotency_key VARCHAR PRIMARY KEY,        -- customer|playbook|step|occurrence
    customer_id VARCHAR NOT NULL,
    playbook    VARCHAR NOT NULL,
    step        INTEGER NOT NULL,
    occurrence  VARCHAR NOT NULL,
    channel     VARCHAR NOT NULL,
    payload     JSON,
    status      VARCHAR NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL,
    sent_at     TIMESTAMP
);

CREATE TABLE message_events (
    event_id    VARCHAR NOT NULL,               -- unique
    message_id  VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    channel     VARCHAR NOT NULL,
    type        VARCHAR NOT NULL CHECK (type IN
                    ('sent', 'delivered', 'opened', 'clicked', 'converted', 'unsubscribed', 'bounced')),
    ts          TIMESTAMP NOT NULL,
    cost        DECIMAL(18,4)
);
