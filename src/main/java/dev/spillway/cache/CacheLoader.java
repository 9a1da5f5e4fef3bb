package dev.spillway.cache;

/**
 * Computes the value of a key on a miss, usually with a query on PostgreSQL. May return {@code
 * null}: "nothing there", remembered for the cache's negative TTL. An exception is never cached;
 * every caller waiting for that load gets it, wrapped in a {@link CacheLoadException}.
 */
@FunctionalInterface
public interface CacheLoader<K, V> {
  V load(K key) throws Exception;
}
