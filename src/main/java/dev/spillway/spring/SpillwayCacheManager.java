package dev.spillway.spring;

import dev.spillway.Spillway;
import dev.spillway.cache.CacheAside;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.springframework.cache.Cache;
import org.springframework.cache.CacheManager;
import org.springframework.cache.support.NullValue;

/**
 * Spring caches backed by Spillway cache-aside caches, created on first use by name
 * ({@code @Cacheable("books")}); names follow Spillway's rule ({@code [a-z][a-z0-9_.-]{0,63}}).
 * Each takes its settings from {@code spillway.cache.*}; values are stored as described in {@link
 * TypedJsonSerializer}, keys by their {@code toString()} (as Spring's Redis cache does).
 */
public final class SpillwayCacheManager implements CacheManager {
  private final Spillway spillway;
  private final List<String> allowedTypes;
  private final ClassLoader classLoader;
  private final ConcurrentMap<String, SpillwayCache> caches = new ConcurrentHashMap<>();

  /** Shared by this manager's caches: a @Cacheable method may call another one. */
  private final ThreadLocal<Callable<?>> loading = new ThreadLocal<>();

  public SpillwayCacheManager(
      Spillway spillway, List<String> allowedTypes, ClassLoader classLoader) {
    this.spillway = spillway;
    this.allowedTypes = List.copyOf(allowedTypes);
    this.classLoader = classLoader;
  }

  @Override
  public Cache getCache(String name) {
    return caches.computeIfAbsent(name, this::create);
  }

  @Override
  public Collection<String> getCacheNames() {
    return Set.copyOf(caches.keySet());
  }

  private SpillwayCache create(String name) {
    CacheAside<Object, Object> cache =
        spillway
            .cache(name, Object.class, Object.class)
            .loader(
                key -> {
                  Callable<?> call = loading.get();
                  if (call == null) {
                    throw new SpillwayCache.Miss();
                  }
                  Object v = call.call();
                  return v == null ? NullValue.INSTANCE : v;
                })
            .serializer(new TypedJsonSerializer(allowedTypes, classLoader))
            .keyEncoder(String::valueOf)
            .tags(v -> List.of(SpillwayCache.ALL))
            // No background reloads: only a caller's method call can load.
            .staleWhileRevalidate(Duration.ZERO)
            .earlyRefreshBeta(0)
            .build();
    return new SpillwayCache(cache, loading);
  }
}
