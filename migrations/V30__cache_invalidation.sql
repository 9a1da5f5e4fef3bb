-- Cache invalidation sourced from the database (see db/cache_invalidation_trigger.sql for how to
-- attach it, and docs on caching). Creating the function changes nothing: it runs only on tables
-- where a user attaches it with CREATE TRIGGER.
--
-- The function sends NOTIFY spillway_cache with a JSON payload
--   {"s": "<this schema>", "c": "<cache>", "k": "<key>"}   evict one key of a cache
--   {"s": "<this schema>", "c": "<cache>", "t": "<tag>"}   bump a tag of a cache
-- A Spillway runtime with cache.listen-database: true (the worker) LISTENs, keeps the payloads
-- of its own schema, and relays them to the invalidation bus, which evicts L2 and every
-- instance's L1. NOTIFY is transactional: nothing is sent for a rolled-back change, and
-- PostgreSQL folds identical notifications of one transaction into one.
--
-- Arguments (TG_ARGV): the cache name, or '#<tag prefix>' to bump the tag <prefix><key> of the
-- cache named by the second argument; then one or more key columns, joined with ':' in order.
--   EXECUTE FUNCTION ${schema}.cache_invalidate('user', 'id')
--   EXECUTE FUNCTION ${schema}.cache_invalidate('#team:', 'user', 'team_id')
CREATE OR REPLACE FUNCTION ${schema}.cache_invalidate() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    -- ${schema} arrives quoted as an identifier; the payload carries the bare name.
    deployment text := trim(both '"' from '${schema}');
    is_tag     boolean := left(TG_ARGV[0], 1) = '#';
    cache_name text;
    first_col  int;
    cols       text[];
    old_key    text;
    new_key    text;
BEGIN
    IF is_tag THEN
        cache_name := TG_ARGV[1];
        first_col := 2;
    ELSE
        cache_name := TG_ARGV[0];
        first_col := 1;
    END IF;
    IF TG_NARGS <= first_col THEN
        RAISE EXCEPTION 'cache_invalidate on %: arguments must be (cache, key_column...) or (''#tag_prefix'', cache, key_column...)', TG_TABLE_NAME;
    END IF;
    cols := TG_ARGV[first_col:TG_NARGS - 1];
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_key := (SELECT string_agg(to_jsonb(OLD) ->> c, ':' ORDER BY i)
                      FROM unnest(cols) WITH ORDINALITY AS u(c, i));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        new_key := (SELECT string_agg(to_jsonb(NEW) ->> c, ':' ORDER BY i)
                      FROM unnest(cols) WITH ORDINALITY AS u(c, i));
    END IF;
    -- An INSERT matters too: the cache may remember "no such row" (the negative TTL).
    IF old_key IS NOT NULL THEN
        PERFORM pg_notify('spillway_cache', CASE WHEN is_tag
            THEN json_build_object('s', deployment, 'c', cache_name, 't', substr(TG_ARGV[0], 2) || old_key)
            ELSE json_build_object('s', deployment, 'c', cache_name, 'k', old_key) END::text);
    END IF;
    IF new_key IS NOT NULL AND new_key IS DISTINCT FROM old_key THEN
        PERFORM pg_notify('spillway_cache', CASE WHEN is_tag
            THEN json_build_object('s', deployment, 'c', cache_name, 't', substr(TG_ARGV[0], 2) || new_key)
            ELSE json_build_object('s', deployment, 'c', cache_name, 'k', new_key) END::text);
    END IF;
    RETURN NULL;
END
$fn$;
