-- livebase store, migration 007: operational state moves to the operational store (ops/).
-- The consents, suppressions, journeys, outbox and message_events tables of migration 001 were
-- never written; they now live in SQLite/PostgreSQL (ops.sqlite or ops.url). What the
-- analytics need of them arrives here as copies, made by the bridge at the start of every
-- batch job (ops_* tables below; same columns as the operational tables). Like every
-- timestamp of the analytics store, theirs are the workspace's local time (the operational
-- store keeps UTC; the bridge converts).
DROP TABLE IF EXISTS message_events;
DROP TABLE IF EXISTS outbox;
DROP TABLE IF EXISTS journeys;
DROP TABLE IF EXISTS suppressions;
DROP TABLE IF EXISTS consents;

CREATE TABLE ops_send_ledger (
    event_id    VARCHAR PRIMARY KEY,
    message_key VARCHAR,
    customer_id VARCHAR NOT NULL,
    playbook    VARCHAR,
    occurrence  INTEGER,
    step        VARCHAR,
    channel     VARCHAR NOT NULL,
    type        VARCHAR NOT NULL,
    reason      VARCHAR,
    cost        DOUBLE NOT NULL,
    ts          TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);

CREATE TABLE ops_journeys (
    customer_id  VARCHAR NOT NULL,
    playbook     VARCHAR NOT NULL,
    occurrence   INTEGER NOT NULL,
    entered_at   TIMESTAMP NOT NULL,
    arm          VARCHAR NOT NULL,
    state        VARCHAR NOT NULL,
    current_step VARCHAR,
    next_step    VARCHAR,
    next_due_at  TIMESTAMP,
    exit_reason  VARCHAR,
    exited_at    TIMESTAMP,
    recorded_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (customer_id, playbook, occurrence)
);

CREATE TABLE ops_assignments (
    unit          VARCHAR NOT NULL,
    customer_id   VARCHAR NOT NULL,
    occurrence    INTEGER NOT NULL,
    arm           VARCHAR NOT NULL,
    holdout_share DOUBLE NOT NULL,
    salt          VARCHAR NOT NULL,
    ts            TIMESTAMP NOT NULL,
    recorded_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (unit, customer_id, occurrence)
);

CREATE TABLE ops_consents (
    id           BIGINT PRIMARY KEY,
    customer_id  VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL,
    purpose      VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    text_version VARCHAR,
    ts           TIMESTAMP NOT NULL,
    recorded_at  TIMESTAMP NOT NULL
);
