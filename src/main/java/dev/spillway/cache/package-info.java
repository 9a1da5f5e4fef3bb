/**
 * API and engine of cache-aside reads. Public: {@link dev.spillway.cache.CacheAside} (with its
 * builder), {@link dev.spillway.cache.CacheLoader}, {@link dev.spillway.cache.CacheWriter}, {@link
 * dev.spillway.cache.CachedCounters}, {@link dev.spillway.cache.ValueSerializer}, {@link
 * dev.spillway.cache.AesGcmCodec} and {@link dev.spillway.cache.CacheLoadException}. The engine
 * (L1, the L2 scripts, leases, the invalidation bus, the relays) is package-private, chosen by the
 * builder; {@link dev.spillway.cache.CacheRuntime} is public only so that the root's builder can
 * start it, and the architecture test allows no other caller.
 *
 * <p>May use {@code store} (database invalidation, applied counters), {@code redis}, {@code
 * layout}, {@code config} and {@code runtime}; never {@code counter}, {@code client} or {@code
 * flush}.
 */
package dev.spillway.cache;
