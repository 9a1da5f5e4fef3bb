-- Reporting on flushed data (issue 6). ${schema} is the configured schema, validated and quoted.
-- See docs/REPORTING-README-SECTION.md for what each object is for and which index serves which
-- query.

-- Windowed queries across keys (top-N over the last 24 h, a series summed over every key) filter
-- on counter, granularity and a range of bucket_start. The primary key leads with (counter, key)
-- and would read every key's rows of the counter in each partition; this index reads only the
-- window. Declared on the partitioned parent, so every partition, present and future, has it.
-- It holds no value column on purpose: the flusher updates value in place, and an index on it
-- would make every such update a non-HOT one.
CREATE INDEX counter_buckets_window ON ${schema}.counter_buckets (counter, granularity, bucket_start);

-- Which levels each configured counter keeps, where their rows come from and for how long:
-- written by partition upkeep from the configuration (counters: and reporting.retention), so
-- that SQL users see the same rules the worker applies. Counters absent from this table are
-- assumed to have their levels written by the flusher.
CREATE TABLE ${schema}.bucket_levels (
    counter     text COLLATE "C" NOT NULL,
    granularity "char"           NOT NULL CHECK (granularity IN ('m', 'h', 'd')),
    source      text             NOT NULL CHECK (source IN ('flush', 'rollup')),
    retention   interval,        -- NULL: kept forever
    updated_at  timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (counter, granularity)
);
COMMENT ON TABLE ${schema}.bucket_levels IS
  'Levels each configured counter keeps: source flush = written by the flusher from events, '
  'rollup = filled by the rollup job from the next finer level. Maintained by partition upkeep.';

-- How far the rollup has filled each rolled-up level: it only ever writes target rows before
-- rolled_before, and advances it in the same transaction as the rows. A target row at or after it
-- was not written by the rollup, so the flusher must be writing that level (a client configured
-- differently, or a level that used to be written): the rollup then refuses rather than count
-- twice. Retention keeps finer rows from rolled_before on if the level is written now, because
-- they were never rolled into it.
CREATE TABLE ${schema}.rollup_marks (
    counter       text COLLATE "C" NOT NULL,
    granularity   "char"           NOT NULL CHECK (granularity IN ('h', 'd')),
    rolled_before timestamptz      NOT NULL,
    updated_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (counter, granularity)
);

-- The granularities whose rows, summed, give a counter's values at level p_level: the coarsest
-- kept level not coarser than p_level, plus (when that level is filled by the rollup) the finer
-- levels down to the first one the flusher writes. Rollups move rows, so each event sits in
-- exactly one of them; summing never counts twice.
CREATE FUNCTION ${schema}.report_levels(p_counter text, p_level "char")
RETURNS "char"[] LANGUAGE plpgsql STABLE AS $$
DECLARE
  result "char"[] := '{}';
  lvl record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ${schema}.bucket_levels WHERE counter = p_counter) THEN
    RETURN ARRAY[p_level];
  END IF;
  FOR lvl IN
    SELECT l.granularity, l.source FROM ${schema}.bucket_levels l
     WHERE l.counter = p_counter
       AND strpos('mhd', l.granularity::text) <= strpos('mhd', p_level::text)
     ORDER BY strpos('mhd', l.granularity::text) DESC
  LOOP
    result := result || lvl.granularity;
    EXIT WHEN lvl.source = 'flush';
  END LOOP;
  RETURN result;
END
$$;

-- For every configured counter and level: one row per source granularity.
CREATE VIEW ${schema}.report_sources AS
SELECT c.counter, lv.level, unnest(${schema}.report_levels(c.counter, lv.level)) AS granularity
  FROM (SELECT DISTINCT counter FROM ${schema}.bucket_levels) c
 CROSS JOIN (VALUES ('m'::"char"), ('h'::"char"), ('d'::"char")) AS lv(level);

-- Totals with their rank inside the counter. Filter on counter; rank 1 is the largest total.
CREATE VIEW ${schema}.report_totals AS
SELECT counter, key, total,
       rank() OVER (PARTITION BY counter ORDER BY total DESC) AS rank,
       updated_at
  FROM ${schema}.counter_totals;
COMMENT ON VIEW ${schema}.report_totals IS
  'Totals ranked inside each counter: SELECT * FROM report_totals WHERE counter = ''x'' AND rank <= 10';

-- Hour-level values: hour rows, plus minute rows for counters that roll minutes up into hours.
-- Hours are UTC hours, which are local hours in every zone with a whole-hour offset.
CREATE VIEW ${schema}.report_hourly AS
SELECT b.counter, b.key, date_trunc('hour', b.bucket_start, 'UTC') AS hour, sum(b.value) AS value
  FROM ${schema}.counter_buckets b
 WHERE b.granularity IN ('m', 'h')
   AND (EXISTS (SELECT 1 FROM ${schema}.report_sources s
                 WHERE s.counter = b.counter AND s.level = 'h' AND s.granularity = b.granularity)
        OR (b.granularity = 'h'
            AND NOT EXISTS (SELECT 1 FROM ${schema}.bucket_levels l WHERE l.counter = b.counter)))
 GROUP BY 1, 2, 3;
COMMENT ON VIEW ${schema}.report_hourly IS
  'Hourly values per counter and key. For big tables use report_series(), which prunes partitions.';

-- Day-level values with day boundaries in the session time zone (SET TIME ZONE 'Europe/Berlin'),
-- computed from hour-level rows because day rows are UTC days. A DST day has 23 or 25 hours.
-- Days older than the hour retention are incomplete here; report_daily_utc reads day rows.
CREATE VIEW ${schema}.report_daily AS
SELECT counter, key, (hour AT TIME ZONE current_setting('TimeZone'))::date AS day, sum(value) AS value
  FROM ${schema}.report_hourly
 GROUP BY 1, 2, 3;
COMMENT ON VIEW ${schema}.report_daily IS
  'Daily values per counter and key, days in the session time zone (from hour-level rows).';

CREATE VIEW ${schema}.report_daily_utc AS
SELECT b.counter, b.key, (b.bucket_start AT TIME ZONE 'UTC')::date AS day, sum(b.value) AS value
  FROM ${schema}.counter_buckets b
 WHERE EXISTS (SELECT 1 FROM ${schema}.report_sources s
                WHERE s.counter = b.counter AND s.level = 'd' AND s.granularity = b.granularity)
    OR (b.granularity = 'd'
        AND NOT EXISTS (SELECT 1 FROM ${schema}.bucket_levels l WHERE l.counter = b.counter))
 GROUP BY 1, 2, 3;
COMMENT ON VIEW ${schema}.report_daily_utc IS
  'Daily values per counter and key, UTC days, from day-level rows (kept longest).';

-- Top keys of each counter over the last 24 hours (whole hours: from the start of the hour 24
-- hours ago up to now). Filter on counter; the time filter prunes partitions at run time.
CREATE VIEW ${schema}.report_top_24h AS
SELECT counter, rank() OVER (PARTITION BY counter ORDER BY sum(value) DESC) AS rank, key,
       sum(value) AS value
  FROM ${schema}.counter_buckets b
 WHERE b.bucket_start >= date_trunc('hour', now() - interval '24 hours', 'UTC')
   AND b.granularity IN ('m', 'h')
   AND (EXISTS (SELECT 1 FROM ${schema}.report_sources s
                 WHERE s.counter = b.counter AND s.level = 'h' AND s.granularity = b.granularity)
        OR (b.granularity = 'h'
            AND NOT EXISTS (SELECT 1 FROM ${schema}.bucket_levels l WHERE l.counter = b.counter)))
 GROUP BY counter, key;
COMMENT ON VIEW ${schema}.report_top_24h IS
  'Keys ranked by their sum over the last 24 hours: WHERE counter = ''x'' AND rank <= 10';

-- Top keys over any window [p_from, p_to) at a level (minute, hour, day). An SQL function the
-- planner inlines, so the arguments prune partitions and use counter_buckets_window.
CREATE FUNCTION ${schema}.report_top(
    p_counter text, p_from timestamptz, p_to timestamptz, p_limit integer DEFAULT 10,
    p_level text DEFAULT 'hour')
RETURNS TABLE (rank bigint, key text, value numeric)
LANGUAGE sql STABLE AS $$
  SELECT rank() OVER (ORDER BY sum(b.value) DESC), b.key, sum(b.value)
    FROM ${schema}.counter_buckets b
   WHERE b.counter = p_counter
     AND b.granularity = ANY (${schema}.report_levels(p_counter, left(p_level, 1)::"char"))
     AND b.bucket_start >= p_from AND b.bucket_start < p_to
   GROUP BY b.key
   ORDER BY 3 DESC, 2
   LIMIT p_limit
$$;

-- A series with every bucket present (zero when empty), buckets in time zone p_tz: days step
-- through local dates (a DST day has 23 or 25 hours) and are computed from hour-level rows when
-- p_tz is not UTC; hours and minutes step in UTC. p_key NULL sums every key. Pass bucket
-- boundaries as p_from and p_to. Zones with a half-hour offset need minute rows for their hours
-- and days: use `spillway report series`, which picks the level that aligns.
CREATE FUNCTION ${schema}.report_series(
    p_counter text, p_key text, p_granularity text, p_from timestamptz, p_to timestamptz,
    p_tz text DEFAULT 'UTC')
RETURNS TABLE (bucket_start timestamptz, value numeric)
LANGUAGE sql STABLE AS $$
  WITH buckets AS (
    SELECT (d AT TIME ZONE p_tz) AS b
      FROM generate_series(date_trunc('day', p_from AT TIME ZONE p_tz),
                           (p_to AT TIME ZONE p_tz) - interval '1 microsecond',
                           interval '1 day') AS d
     WHERE p_granularity = 'day'
    UNION ALL
    SELECT g
      FROM generate_series(date_trunc(p_granularity, p_from, p_tz),
                           p_to - interval '1 microsecond',
                           ('1 ' || p_granularity)::interval) AS g
     WHERE p_granularity IN ('hour', 'minute')
  ), rows AS (
    SELECT date_trunc(p_granularity, b.bucket_start, p_tz) AS bs, b.value
      FROM ${schema}.counter_buckets b
     WHERE b.counter = p_counter
       AND (p_key IS NULL OR b.key = p_key)
       AND b.granularity = ANY (${schema}.report_levels(
             p_counter,
             CASE WHEN p_granularity = 'day' AND p_tz NOT IN ('UTC', 'Etc/UTC', 'GMT')
                  THEN 'h' ELSE left(p_granularity, 1) END::"char"))
       AND b.bucket_start >= p_from AND b.bucket_start < p_to
  )
  SELECT bk.b, coalesce(sum(r.value), 0)
    FROM buckets bk LEFT JOIN rows r ON r.bs = bk.b
   GROUP BY bk.b
   ORDER BY bk.b
$$;
