-- Dead letters have a class, and a closed row keeps who closed it, when, how and why.
--
-- kind
--   unapplied      never counted (overflow, no target row, a malformed cell): safe to replay
--                  once the cause is fixed; `spillway dead-letter replay` applies these.
--   maybe_counted  cells of a batch that Redis resurrected (Redis rolled back to before a claim
--                  the ledger shows applied): some or all of them may already be in the totals.
--                  A routine replay never touches them; a person replays (--id) or discards
--                  each one.
--
-- decision (NULL while the row waits)
--   replayed       applied; replayed_at is set too, as before
--   discarded      closed without applying it; decision_reason says why (required)
--
-- A row waits while decision IS NULL. replayed_at keeps its meaning (when a row was replayed);
-- a discarded row has none. Whatever still writes only replayed_at (a binary from before this
-- migration, a hand-written UPDATE) is recorded as a replay by the trigger below, except on a
-- maybe_counted row, which the trigger refuses (exactly the double count this migration stops),
-- and on a discarded row, which dead_letter_decided refuses. An older binary's replay then
-- reports those rows as still failing and applies nothing for them.

ALTER TABLE ${schema}.dead_letter
    ADD COLUMN kind text NOT NULL DEFAULT 'unapplied'
        CONSTRAINT dead_letter_kind CHECK (kind IN ('unapplied', 'maybe_counted')),
    ADD COLUMN decision text
        CONSTRAINT dead_letter_decision CHECK (decision IN ('replayed', 'discarded')),
    ADD COLUMN decided_by text,
    ADD COLUMN decided_at timestamptz,
    ADD COLUMN decision_reason text;

-- Rows written before this migration by a resurrected batch (CounterStore's reason for them has
-- always started this way).
UPDATE ${schema}.dead_letter SET kind = 'maybe_counted' WHERE reason LIKE 'Redis rolled back%';

UPDATE ${schema}.dead_letter
   SET decision = 'replayed', decided_at = replayed_at, decided_by = 'unknown',
       decision_reason = 'replayed before decisions were recorded (V40)'
 WHERE replayed_at IS NOT NULL;

ALTER TABLE ${schema}.dead_letter ADD CONSTRAINT dead_letter_decided CHECK (
    (decision IS NULL AND decided_at IS NULL AND replayed_at IS NULL)
    OR (decision = 'replayed' AND decided_at IS NOT NULL AND decided_by IS NOT NULL
        AND replayed_at IS NOT NULL)
    OR (decision = 'discarded' AND decided_at IS NOT NULL AND decided_by IS NOT NULL
        AND decision_reason IS NOT NULL AND replayed_at IS NULL));

CREATE FUNCTION ${schema}.dead_letter_legacy_replay() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF NEW.replayed_at IS NOT NULL AND NEW.decision IS NULL THEN
        IF NEW.kind <> 'unapplied' THEN
            RAISE EXCEPTION 'dead letter % is % (its cells may already be counted): replay it with spillway dead-letter replay --id %, or discard it',
                NEW.id, NEW.kind, NEW.id
                USING ERRCODE = 'check_violation';
        END IF;
        NEW.decision := 'replayed';
        NEW.decided_at := NEW.replayed_at;
        NEW.decided_by := session_user;
    END IF;
    RETURN NEW;
END
$fn$;

CREATE TRIGGER dead_letter_legacy_replay
    BEFORE INSERT OR UPDATE OF replayed_at ON ${schema}.dead_letter
    FOR EACH ROW EXECUTE FUNCTION ${schema}.dead_letter_legacy_replay();

-- "Waiting" is now decision IS NULL (a discarded row has no replayed_at but is not waiting).
DROP INDEX ${schema}.dead_letter_pending;
DROP INDEX ${schema}.dead_letter_source_pending;
CREATE INDEX dead_letter_pending ON ${schema}.dead_letter (created_at) WHERE decision IS NULL;
CREATE INDEX dead_letter_source_pending ON ${schema}.dead_letter (source, id) WHERE decision IS NULL;
