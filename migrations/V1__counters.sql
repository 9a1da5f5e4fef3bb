-- Spillway core tables. ${schema} is the configured schema (postgres.schema, default spillway),
-- validated against [a-z_][a-z0-9_]{0,62} before Flyway sees it.

-- One row per (counter, key): the running total. Updated in place by every flush, so a low
-- fillfactor leaves room on each page for HOT updates (no index churn, less bloat).
CREATE TABLE ${schema}.counter_totals (
    counter    text COLLATE "C" NOT NULL,
    key        text COLLATE "C" NOT NULL,
    total      bigint           NOT NULL,
    updated_at timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (counter, key)
) WITH (fillfactor = 70);

-- Time-bucketed values by event time (UTC). Range-partitioned on bucket_start so that old data
-- is dropped a partition at a time; the primary key includes the partition key, as PostgreSQL
-- requires for ON CONFLICT on a partitioned table. The DEFAULT partition catches everything
-- until partition upkeep creates ranges ahead of time.
CREATE TABLE ${schema}.counter_buckets (
    counter      text COLLATE "C" NOT NULL,
    key          text COLLATE "C" NOT NULL,
    granularity  "char"           NOT NULL CHECK (granularity IN ('m', 'h', 'd')),
    bucket_start timestamptz      NOT NULL,
    value        bigint           NOT NULL,
    PRIMARY KEY (counter, key, granularity, bucket_start)
) PARTITION BY RANGE (bucket_start);

CREATE TABLE ${schema}.counter_buckets_default PARTITION OF ${schema}.counter_buckets DEFAULT;

-- Idempotency and audit: a batch is applied at most once because its ledger row commits in the
-- same transaction as its counter rows. Pruned after a retention longer than the age of the
-- oldest batch that can still be pending in Redis.
CREATE TABLE ${schema}.flush_ledger (
    batch_id   text        PRIMARY KEY,
    stripe     integer     NOT NULL,
    cells      integer     NOT NULL,
    delta_sum  numeric     NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flush_ledger_applied_at ON ${schema}.flush_ledger (applied_at);

-- What could not be applied (a total that would overflow bigint, a malformed cell, ...), with the
-- reason. Written in the same transaction as the rest of its batch; never silently dropped.
CREATE TABLE ${schema}.dead_letter (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id     text        NOT NULL,
    source       text        NOT NULL,
    counter      text,
    key          text,
    granularity  "char",
    bucket_start timestamptz,
    delta        numeric,
    raw          text,
    reason       text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    replayed_at  timestamptz
);
CREATE INDEX dead_letter_pending ON ${schema}.dead_letter (created_at) WHERE replayed_at IS NULL;
