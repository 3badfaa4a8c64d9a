-- livebase store, migration 008: uplift models are stored as plain parameter arrays (an .npz
-- archive read with allow_pickle=False), never as pickles, which would run code when loaded.
-- Rows written before this migration hold pickles: they are marked 'pickle' and refused on load
-- with the advice to refit; new rows are 'npz-v1' (livebase.measure.uplift_params.FORMAT).
ALTER TABLE uplift_models ADD COLUMN model_format VARCHAR DEFAULT 'pickle';
