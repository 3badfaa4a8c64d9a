-- livebase store, migration 005: fitted uplift models, so `livebase uplift score` can reuse the
-- model `livebase uplift fit` validated. One row per (experiment, outcome): a refit replaces it.
-- The model's `name` is what `uplift_scores.model` (004) refers to.
CREATE TABLE uplift_models (
    name        VARCHAR PRIMARY KEY,             -- '<experiment>/<outcome>', e.g. 'hillstrom/visit'
    experiment  VARCHAR NOT NULL,                -- the `experiments` row whose units it was fitted on
    outcome     VARCHAR NOT NULL,
    learner     VARCHAR NOT NULL CHECK (learner IN ('t_learner', 'class_transformation')),
    estimator   VARCHAR NOT NULL CHECK (estimator IN ('gradient_boosting', 'logistic')),
    control_arm VARCHAR NOT NULL,
    treatments  JSON NOT NULL,                   -- ["Mens E-Mail", "Womens E-Mail"]
    features    JSON NOT NULL,                   -- {"numeric": [...], "categorical": [...]}
    test_share  DOUBLE NOT NULL,                 -- share of units held out for the evaluation
    seed        INTEGER NOT NULL,
    n_train     BIGINT NOT NULL,
    n_test      BIGINT NOT NULL,
    evaluation  JSON NOT NULL,                   -- per treatment arm: Qini coefficient, AUUC, deciles
    model       BLOB NOT NULL,                   -- UpliftModel.to_bytes(): read back only from this store
    fitted_at   TIMESTAMP NOT NULL               -- wall-clock time of the run (set by the CLI)
);
