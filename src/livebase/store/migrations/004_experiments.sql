-- livebase store, migration 004: experiments, imported experiment units, uplift scores.
-- Assignment rows of live playbooks stay in `assignments` (001); an experiment imported from a
-- file (e.g. the Hillstrom e-mail test) keeps its per-customer arm, outcomes and pre-treatment
-- covariates in `experiment_units`, so a readout or an uplift fit can run from the store alone.

-- One row per experiment: a playbook's holdout, the global holdout, or an imported test.
CREATE TABLE experiments (
    name           VARCHAR PRIMARY KEY,
    control_arm    VARCHAR NOT NULL,             -- 'holdout' for playbooks; 'No E-Mail' for Hillstrom
    planned_shares JSON NOT NULL,                -- {"treatment": 0.9, "holdout": 0.1}; SRM checks against it
    salt           VARCHAR NOT NULL DEFAULT '',  -- md5 salt of the assignment; '' for imported tests
    source         VARCHAR NOT NULL,             -- 'playbook:<name>' | 'global' | 'file:<path>'
    outcomes       JSON,                         -- ["visit", "conversion", "spend"] for imported tests
    created_at     TIMESTAMP NOT NULL
);

-- One row per customer of an imported experiment.
CREATE TABLE experiment_units (
    experiment  VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,                -- the file's id column, or the data row number
    arm         VARCHAR NOT NULL,
    segment     VARCHAR,                         -- breakdown column, when one was named
    covariates  JSON,                            -- pre-treatment columns by header (uplift features, CUPED)
    outcomes    JSON NOT NULL,                   -- {"visit": 1, "conversion": 0, "spend": 0.0}
    load_id     INTEGER,                         -- the `loads` row of the import
    PRIMARY KEY (experiment, customer_id)
);

-- Per-customer uplift scores written by `livebase uplift score`, usable in rules and audiences.
CREATE TABLE uplift_scores (
    model       VARCHAR NOT NULL,                -- name given at `uplift fit`
    customer_id VARCHAR NOT NULL,
    best_arm    VARCHAR,                         -- NULL: no treatment has a positive predicted uplift
    best_uplift DOUBLE NOT NULL,
    uplifts     JSON NOT NULL,                   -- {"Mens E-Mail": 0.031, "Womens E-Mail": 0.012}
    scored_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (model, customer_id)
);
