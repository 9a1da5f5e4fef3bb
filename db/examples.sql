-- Example queries over Spillway's tables. Run with:  psql -d test -f db/examples.sql
-- Times are stored in UTC (timestamptz); set the session time zone to read them locally:
--   SET TIME ZONE 'Europe/Berlin';
\set counter '''page_views'''

\echo 'Top 10 keys of the counter by total'
SELECT key, total, updated_at
  FROM spillway.counter_totals
 WHERE counter = :counter
 ORDER BY total DESC, key
 LIMIT 10;

\echo 'Sum over all keys, per counter'
SELECT counter, count(*) AS keys, sum(total) AS total
  FROM spillway.counter_totals
 GROUP BY counter
 ORDER BY counter;

\echo 'Hourly series over the last 24 hours (counters configured with HOUR buckets)'
SELECT bucket_start, sum(value) AS value
  FROM spillway.counter_buckets
 WHERE counter = :counter AND granularity = 'h'
   AND bucket_start >= now() - interval '24 hours'
 GROUP BY bucket_start
 ORDER BY bucket_start;

\echo 'Flush activity per minute over the last hour (from the ledger)'
SELECT date_trunc('minute', applied_at) AS minute, count(*) AS batches, sum(cells) AS cells,
       sum(delta_sum) AS increments
  FROM spillway.flush_ledger
 WHERE applied_at >= now() - interval '1 hour'
 GROUP BY 1
 ORDER BY 1;

\echo 'Dead letters waiting for a replay'
SELECT id, created_at, source, counter, key, delta, reason
  FROM spillway.dead_letter
 WHERE replayed_at IS NULL
 ORDER BY id
 LIMIT 50;
