-- livebase store, migration 009: each load records a fingerprint of the options that shape
-- its result (preset, column map, delimiter, encoding, date formats, time zone, …), so that a
-- re-load of the same file (same checksum) with the same options, right after it, can be
-- skipped: nothing in the store would change. NULL for loads made before: never skipped against.
-- skipped_since: the load whose rows a skipped re-load found unchanged (NULL: rows were read).
ALTER TABLE loads ADD COLUMN options VARCHAR;
ALTER TABLE loads ADD COLUMN skipped_since INTEGER;
