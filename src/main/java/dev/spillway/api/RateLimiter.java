package dev.spillway.api;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Anonymous increments per client address: a token bucket per address holding up to {@code rate}
 * tokens, refilled at {@code rate} per second. The table is bounded (100,000 addresses, idle ones
 * forgotten after a minute), so a flood of addresses costs bounded memory; a forgotten address
 * starts again with a full bucket.
 */
final class RateLimiter {
  static final int MAX_CLIENTS = 100_000;

  private final double rate;
  private final LongSupplier nanos;
  private final Cache<String, Bucket> buckets;

  RateLimiter(int ratePerSecond, LongSupplier nanos) {
    this.rate = ratePerSecond;
    this.nanos = nanos;
    this.buckets =
        Caffeine.newBuilder()
            .maximumSize(MAX_CLIENTS)
            .expireAfterAccess(Duration.ofMinutes(1))
            .build();
  }

  /** Takes one token for {@code client}; false when its bucket is empty. */
  boolean tryAcquire(String client) {
    Bucket b = buckets.get(client, c -> new Bucket(rate, nanos.getAsLong()));
    synchronized (b) {
      long now = nanos.getAsLong();
      b.tokens = Math.min(rate, b.tokens + (now - b.at) * rate / 1e9);
      b.at = now;
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return true;
      }
      return false;
    }
  }

  /** Seconds until {@code client} has a token again (at least 1), for {@code Retry-After}. */
  long retryAfterSeconds() {
    return Math.max(1, (long) Math.ceil(1 / rate));
  }

  private static final class Bucket {
    double tokens;
    long at;

    Bucket(double tokens, long at) {
      this.tokens = tokens;
      this.at = at;
    }
  }
}
