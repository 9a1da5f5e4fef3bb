package dev.spillway.spring;

import dev.spillway.cache.CacheAside;
import dev.spillway.cache.CacheLoadException;
import java.util.concurrent.Callable;
import org.springframework.cache.support.AbstractValueAdaptingCache;

/**
 * A Spring {@link org.springframework.cache.Cache} over a Spillway {@link CacheAside} (L1 + Redis,
 * single flight within the JVM and, through a lease, across instances; invalidations on the bus).
 * {@code @Cacheable(sync = true)} maps to {@link #get(Object, Callable)}: the method body is the
 * load, run by one caller per key while the others wait for its value. Without {@code sync}, Spring
 * looks up, runs the method on a miss and {@link #put}s the result, as with any cache. {@link
 * #evict} and {@link #clear} reach every instance (the bus and Redis).
 *
 * <p>The cache-aside's loader is whatever method call is asking on this thread; a plain lookup has
 * none and answers "miss". Background reloads (stale-while-revalidate, early refresh) are off:
 * there is no method to call in the background.
 */
final class SpillwayCache extends AbstractValueAdaptingCache {
  /** Every entry carries this tag, so {@link #clear()} is one tag invalidation. */
  static final String ALL = "all";

  private final CacheAside<Object, Object> cache;

  /** The method call asking on this thread, run when this thread leads the load. */
  private final ThreadLocal<Callable<?>> loading;

  SpillwayCache(CacheAside<Object, Object> cache, ThreadLocal<Callable<?>> loading) {
    super(true);
    this.cache = cache;
    this.loading = loading;
  }

  /** Thrown by the loader when nothing can load: a plain lookup missed. */
  static final class Miss extends Exception {
    Miss() {
      super("miss", null, false, false);
    }
  }

  @Override
  public String getName() {
    return cache.name();
  }

  @Override
  public Object getNativeCache() {
    return cache;
  }

  @Override
  protected Object lookup(Object key) {
    Callable<?> outer = loading.get();
    loading.remove();
    try {
      return cache.get(key);
    } catch (CacheLoadException e) {
      if (e.getCause() instanceof Miss) {
        return null;
      }
      throw e;
    } finally {
      if (outer != null) {
        loading.set(outer);
      }
    }
  }

  @Override
  @SuppressWarnings("unchecked")
  public <T> T get(Object key, Callable<T> valueLoader) {
    Callable<?> outer = loading.get();
    loading.set(valueLoader);
    try {
      // A plain lookup of the same key that led the load in this JVM ends with Miss for everyone
      // who joined it; ask again, as the leader this time unless another caller was quicker.
      for (int attempt = 0; ; attempt++) {
        try {
          return (T) fromStoreValue(cache.get(key));
        } catch (CacheLoadException e) {
          if (e.getCause() instanceof Miss && attempt < 10) {
            continue;
          }
          throw new ValueRetrievalException(
              key, valueLoader, e.getCause() != null ? e.getCause() : e);
        }
      }
    } finally {
      if (outer != null) {
        loading.set(outer);
      } else {
        loading.remove();
      }
    }
  }

  @Override
  public void put(Object key, Object value) {
    cache.put(key, toStoreValue(value));
  }

  @Override
  public void evict(Object key) {
    cache.invalidate(key);
  }

  @Override
  public void clear() {
    cache.invalidateTag(ALL);
  }
}
