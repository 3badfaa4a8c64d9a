-- livebase store, migration 003: fitted CLV models and their per-customer predictions.
-- A model row is the JSON of livebase.models (to_dict) plus the columns the CLI filters on;
-- predictions are long (one row per customer and horizon) so horizons stay configurable.

CREATE SEQUENCE clv_model_id START 1;

-- One row per fitted model (bgnbd, mbgnbd, gamma_gamma). A CLV fit writes a purchase model and
-- a spend model with the same fit_id.
CREATE TABLE clv_models (
    model_id        INTEGER PRIMARY KEY DEFAULT nextval('clv_model_id'),
    fit_id          VARCHAR NOT NULL,           -- groups the purchase and spend model of one fit
    model           VARCHAR NOT NULL CHECK (model IN ('bgnbd', 'mbgnbd', 'gamma_gamma')),
    version         INTEGER NOT NULL,           -- the model class's saved-format version
    params          JSON NOT NULL,              -- {"r":…, "alpha":…, "a":…, "b":…} or {"p","q","v"}
    log_likelihood  DOUBLE NOT NULL,
    unit            VARCHAR NOT NULL CHECK (unit IN ('days', 'weeks')),
    as_of           DATE NOT NULL,              -- calibration end (until), inclusive
    customers       BIGINT NOT NULL,            -- customers the model was fitted on
    saved           JSON NOT NULL,              -- the full to_dict() output, for model_from_dict
    fitted_at       TIMESTAMP NOT NULL          -- wall-clock time of the run (set by the CLI)
);

-- Per-customer predictions of one fit, as of its as_of date. Unique on (fit_id, customer_id,
-- horizon_days) by construction (save_fit refuses duplicates); no PRIMARY KEY index, which
-- made saving 1M customers 4× and replacing them 11× slower (measured).
CREATE TABLE clv_predictions (
    fit_id             VARCHAR NOT NULL,
    customer_id        VARCHAR NOT NULL,
    horizon_days       INTEGER NOT NULL,
    as_of              DATE NOT NULL,
    p_alive            DOUBLE NOT NULL,
    expected_aov       DOUBLE NOT NULL,
    expected_purchases DOUBLE NOT NULL,
    clv                DOUBLE NOT NULL,         -- discounted, times margin
    monthly_discount_rate DOUBLE NOT NULL,
    margin             DOUBLE NOT NULL
);
