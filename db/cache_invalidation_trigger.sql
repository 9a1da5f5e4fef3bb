-- Cache invalidation from the database: attach Spillway's trigger function to your tables so that
-- every change, from any writer (your app, a migration, psql, another service), evicts the cached
-- entity on every instance, even when application code forgets to call invalidate().
--
-- The function itself, <schema>.cache_invalidate(), is created by Spillway's migration
-- V30__cache_invalidation.sql in the Spillway schema (postgres.schema, default spillway); creating
-- it changes nothing until you attach it. Run the statements below (adapted) with psql.
--
-- How it travels:
--   UPDATE users ...  -> trigger: NOTIFY spillway_cache '{"s":"spillway","c":"user","k":"42"}'
--   -> a runtime with cache.listen-database: true (run it in the worker) LISTENs on its own
--      connection, keeps payloads of its own schema, and invalidates: DEL of the Redis entry
--      (plus its generation, so a load in flight is not cached), then the bus evicts every L1.
-- NOTIFY is sent at COMMIT (nothing for a rolled-back transaction); identical notifications in
-- one transaction are folded into one.
--
-- Arguments:
--   cache_invalidate('<cache>', '<key column>' [, '<key column>' ...])
--       evicts key <column value> (several columns: joined with ':') of cache <cache>.
--       The key must match the cache's key encoding: String.valueOf(id) for a Long id.
--   cache_invalidate('#<tag prefix>', '<cache>', '<column>' [, ...])
--       bumps tag <tag prefix><column value> of cache <cache>: every entry tagged with it goes.
-- An UPDATE that changes the key column evicts both the old and the new key. An INSERT evicts
-- too: the cache may remember "no such row" for its negative TTL.
--
-- Hazards:
--   * Row-level: a statement touching a million rows sends a million notifications (PostgreSQL
--     queues them, 8 GB by default). For bulk changes prefer one tag, or invalidate in code.
--   * NOTIFY is not stored: while no relay is listening, changes are not relayed. On reconnecting,
--     the relay clears every L1; Redis (L2) entries changed meanwhile live until their TTL.
--   * Several relays (several workers with listen-database: true) each relay every notification:
--     harmless, only repeated work.

-- Evict user <id> from cache "user" (CacheAside<Long, User> named "user"):
CREATE TRIGGER users_cache_invalidate
    AFTER INSERT OR UPDATE OR DELETE ON public.users
    FOR EACH ROW EXECUTE FUNCTION spillway.cache_invalidate('user', 'id');

-- Evict every member of a team from cache "member" whose entries carry tags "team:<team_id>":
CREATE TRIGGER users_team_cache_invalidate
    AFTER INSERT OR UPDATE OR DELETE ON public.users
    FOR EACH ROW EXECUTE FUNCTION spillway.cache_invalidate('#team:', 'member', 'team_id');

-- A composite key: cache "membership" keyed by "<org_id>:<user_id>":
-- CREATE TRIGGER memberships_cache_invalidate
--     AFTER INSERT OR UPDATE OR DELETE ON public.memberships
--     FOR EACH ROW EXECUTE FUNCTION spillway.cache_invalidate('membership', 'org_id', 'user_id');

-- Skip updates that change nothing the cache shows (fewer notifications):
-- CREATE TRIGGER users_cache_invalidate
--     AFTER UPDATE OF name, team_id ON public.users
--     FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW)
--     EXECUTE FUNCTION spillway.cache_invalidate('user', 'id');

-- Watch them arrive (in psql): LISTEN spillway_cache;
-- Detach: DROP TRIGGER users_cache_invalidate ON public.users;
