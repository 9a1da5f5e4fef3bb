package dev.spillway.cache;

import dev.spillway.layout.CounterNames;
import java.util.function.ToLongBiFunction;

/** {@link CachedCounters} over a {@link CacheAside} named {@value CacheRuntime#COUNTERS_CACHE}. */
final class DefaultCachedCounters implements CachedCounters {
  private final CacheAside<String, Long> cache;
  private final CounterReaders readers;
  private final ToLongBiFunction<String, String> flushedTotal;

  DefaultCachedCounters(CacheRuntime runtime, ToLongBiFunction<String, String> flushedTotal) {
    var s = runtime.settings();
    this.readers = runtime.counterReaders();
    this.flushedTotal = flushedTotal;
    this.cache =
        runtime
            .builder(CacheRuntime.COUNTERS_CACHE, String.class, Long.class)
            .loader(
                k -> {
                  int bar = k.indexOf('|');
                  return flushedTotal.applyAsLong(k.substring(0, bar), k.substring(bar + 1));
                })
            .ttl(s.countersTtl())
            .negativeTtl(s.countersTtl())
            .l1(
                s.l1MaxSize(),
                s.l1Ttl().compareTo(s.countersTtl()) < 0 ? s.l1Ttl() : s.countersTtl())
            .serializer(
                new ValueSerializer<>() {
                  @Override
                  public byte[] write(Long value) {
                    return L2.bytes(Long.toString(value));
                  }

                  @Override
                  public Long read(byte[] bytes) {
                    return L2.parseLong(bytes);
                  }
                })
            .build();
  }

  /** Counter names never contain '|', so the first one splits the key back apart. */
  static String key(String counter, String key) {
    return counter + "|" + key;
  }

  @Override
  public long get(String counter, String key) {
    CounterNames.checkCounter(counter);
    CounterNames.checkKey(key);
    if (!readers.reading()) {
      // Redis did not confirm that flushes will tell this runtime: read, cache nothing.
      return flushedTotal.applyAsLong(counter, key);
    }
    Long v = cache.get(key(counter, key)); // flushes now invalidate whatever this caches
    return v == null ? 0 : v;
  }

  @Override
  public void invalidate(String counter, String key) {
    CounterNames.checkCounter(counter);
    CounterNames.checkKey(key);
    cache.invalidate(key(counter, key));
  }
}
