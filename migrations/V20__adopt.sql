-- Adopted keys: a dead letter from a hash key records the hash field it came from.
ALTER TABLE ${schema}.dead_letter ADD COLUMN field text;
CREATE INDEX dead_letter_source_pending ON ${schema}.dead_letter (source, id) WHERE replayed_at IS NULL;
