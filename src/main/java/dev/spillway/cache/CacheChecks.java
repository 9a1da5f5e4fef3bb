package dev.spillway.cache;

import dev.spillway.config.Durations;
import java.math.BigInteger;
import java.time.Duration;
import java.util.Objects;
import java.util.UUID;
import java.util.function.Function;

/** The checks {@link CacheAside.Builder} runs, each refusing with a sentence naming the cache. */
final class CacheChecks {
  private CacheChecks() {}

  /** The same bounds as the {@code cache:} section's defaults (README, "Duration bounds"). */
  static Duration between(String cache, String what, Duration d, Duration min, Duration max) {
    Objects.requireNonNull(d, what);
    if (d.compareTo(min) < 0) {
      throw new IllegalArgumentException(
          "cache '"
              + cache
              + "': "
              + what
              + " must be at least "
              + Durations.format(min)
              + " but was "
              + Durations.format(d));
    }
    if (d.compareTo(max) > 0) {
      throw new IllegalArgumentException(
          "cache '"
              + cache
              + "': "
              + what
              + " must be at most "
              + Durations.format(max)
              + " but was "
              + Durations.format(d));
    }
    return d;
  }

  /** {@code String.valueOf} for key types whose text is their identity; refuses the others. */
  static <K> Function<? super K, String> defaultKeyEncoder(String cache, Class<K> keyType) {
    if (keyType == String.class
        || Number.class.isAssignableFrom(keyType)
        || keyType == UUID.class
        || keyType == BigInteger.class
        || keyType.isEnum()) {
      return String::valueOf;
    }
    throw new IllegalStateException(
        "cache '"
            + cache
            + "': keys of type "
            + keyType.getName()
            + " need a keyEncoder(...) (the default covers strings, numbers, UUIDs and enums)");
  }

  /**
   * A tagged entry must not outlive its tags' versions in Redis: an expired tag version starts
   * again at zero, and an old entry recorded at that version would look valid again.
   */
  static void requireTagsOutliveEntries(String cache, Duration entryLife, Duration tagTtl) {
    if (entryLife.compareTo(tagTtl) > 0) {
      throw new IllegalStateException(
          "cache '"
              + cache
              + "': ttl with jitter plus staleWhileRevalidate ("
              + Durations.format(entryLife)
              + ") must not exceed cache.tag-ttl ("
              + Durations.format(tagTtl)
              + "), or an expired tag version could make an old entry valid again");
    }
  }
}
