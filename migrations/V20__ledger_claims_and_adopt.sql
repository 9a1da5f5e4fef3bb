-- Claim numbers: every native batch records the stripe's incarnation and claim counter at the
-- moment it was claimed. If Redis rolls back to before an applied claim (AOF everysec, a lagging
-- replica promoted), the next claim reuses that number, and this index lets the flusher see it
-- instead of counting the resurrected cells a second time.
ALTER TABLE ${schema}.flush_ledger ADD COLUMN claim text;
CREATE UNIQUE INDEX flush_ledger_claim ON ${schema}.flush_ledger (stripe, claim) WHERE claim IS NOT NULL;

-- Adopted keys: a dead letter from a hash key records the hash field it came from.
ALTER TABLE ${schema}.dead_letter ADD COLUMN field text;
CREATE INDEX dead_letter_source_pending ON ${schema}.dead_letter (source, id) WHERE replayed_at IS NULL;
