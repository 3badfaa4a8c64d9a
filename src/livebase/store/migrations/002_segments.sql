-- livebase store, migration 002: per-segment figures of every segmentation run, so that
-- alerts can compare two runs without recomputing the features of the earlier date.
-- One row per scheme, run date and segment; a re-run of a date replaces its rows.
CREATE TABLE segment_snapshots (
    scheme      VARCHAR NOT NULL,
    as_of       DATE NOT NULL,
    segment     VARCHAR NOT NULL,
    customers   BIGINT NOT NULL,
    share       DOUBLE NOT NULL,                -- of all customers in the base that day
    revenue     DECIMAL(18,2) NOT NULL,         -- paid in the features' window
    ltv         DECIMAL(18,2) NOT NULL,         -- paid over all history
    PRIMARY KEY (scheme, as_of, segment)
);
