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

\echo 'Dead letters waiting for a decision (maybe_counted: decide row by row, never a plain replay)'
SELECT id, kind, created_at, source, counter, key, delta, reason
  FROM spillway.dead_letter
 WHERE decision IS NULL
 ORDER BY id
 LIMIT 50;

-- ---------------------------------------------------------------------------------------------
-- Reporting (views and functions from migrations/V10__reporting.sql). Bounds below are literals
-- so the planner prunes partitions; keep them literal (or parameters) in your own queries.
-- ---------------------------------------------------------------------------------------------

\echo 'Levels each configured counter keeps (written by partition upkeep from the configuration)'
SELECT counter, granularity, source, coalesce(retention::text, 'forever') AS retention
  FROM spillway.bucket_levels
 ORDER BY counter, strpos('mhd', granularity::text);

\echo 'Top 10 keys of the counter by total (view)'
SELECT rank, key, total
  FROM spillway.report_totals
 WHERE counter = :counter AND rank <= 10
 ORDER BY rank, key;

\echo 'Top 10 keys over the last 24 hours (view; whole hours, up to now)'
SELECT rank, key, value
  FROM spillway.report_top_24h
 WHERE counter = :counter AND rank <= 10
 ORDER BY rank, key;

\echo 'Top 10 keys over a chosen window (function; uses counter_buckets_window, prunes partitions)'
SELECT * FROM spillway.report_top(:counter, date_trunc('day', now()) - interval '7 days',
                                  date_trunc('day', now()), 10, 'hour');

\echo 'Daily series of all keys for the last 7 Berlin days (function; a DST day has 23 or 25 hours)'
SELECT bucket_start AT TIME ZONE 'Europe/Berlin' AS berlin_day, value
  FROM spillway.report_series(:counter, NULL, 'day',
         (date_trunc('day', now() AT TIME ZONE 'Europe/Berlin') - interval '7 days') AT TIME ZONE 'Europe/Berlin',
         date_trunc('day', now() AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'Europe/Berlin',
         'Europe/Berlin');

\echo 'Hourly series of one key, last 24 hours, every hour listed (function)'
SELECT bucket_start, value
  FROM spillway.report_series(:counter, '42', 'hour',
         date_trunc('hour', now()) - interval '24 hours', date_trunc('hour', now()) + interval '1 hour');

\echo 'The same by hand, straight from the table: hour rows plus, for counters that roll minutes up'
\echo 'into hours, minute rows (report_levels says which), grouped by hour'
SELECT date_trunc('hour', bucket_start, 'UTC') AS hour, sum(value) AS value
  FROM spillway.counter_buckets
 WHERE counter = :counter AND key = '42'
   AND granularity = ANY (spillway.report_levels(:counter, 'h'))
   AND bucket_start >= date_trunc('hour', now()) - interval '24 hours'
 GROUP BY 1
 ORDER BY 1;

\echo 'Daily values in the session time zone (view over hour-level rows)'
SET TIME ZONE 'Europe/Berlin';
SELECT day, sum(value) AS value
  FROM spillway.report_daily
 WHERE counter = :counter
 GROUP BY day
 ORDER BY day DESC
 LIMIT 14;
RESET TIME ZONE;

\echo 'Partitions of counter_buckets, with their bounds (DEFAULT must be empty in normal operation)'
SELECT c.relname AS partition, pg_get_expr(c.relpartbound, c.oid) AS bounds,
       pg_size_pretty(pg_total_relation_size(c.oid)) AS size
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'spillway.counter_buckets'::regclass
 ORDER BY c.relname;

\echo 'Rows in the DEFAULT partition (spillway report maintain moves them into partitions)'
SELECT count(*) AS default_rows FROM spillway.counter_buckets_default;
