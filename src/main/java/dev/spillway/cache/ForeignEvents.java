package dev.spillway.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spillway.config.CacheSettings;
import io.micrometer.core.instrument.Counter;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Invalidation events published by other services, in any language, on {@code
 * cache.foreign-channel}:
 *
 * <pre>{"entity":"user","id":"42","action":"update"}   {"tag":"team:7","cache":"user"}</pre>
 *
 * An entity names a cache through {@code cache.foreign-entities}, else by itself; the id (a JSON
 * string or integer) is the cache's encoded key. A key event deletes the L2 entry (moving its
 * invalidation counter, so a load in flight is not cached) and then evicts this runtime's L1; a tag
 * event bumps the tag in L2 and evicts the tagged L1 entries, in the one cache named or, with no
 * {@code cache}, in every cache this runtime knows.
 *
 * <p>Every runtime subscribes and applies every event itself: nothing is relayed on the bus. So the
 * L2 part is done once per runtime; it is idempotent (a second delete finds nothing, a second
 * counter or tag bump only refuses a load that raced the first), and L2 before L1 means that once
 * this runtime's L1 lost the key, its next read finds no old value in Redis either.
 *
 * <p>The subscriber thread (Lettuce's, shared with the bus) only parses and queues; one daemon
 * thread applies, because L2 calls block for up to the Redis time box. A cache is known if it was
 * built on this runtime or is the target of an explicit mapping (then its L2 is invalidated even
 * here). Garbage never reaches the subscriber thread as an exception: too large (over {@value
 * #MAX_MESSAGE_CHARS} characters), not JSON, missing fields, a key or tag breaking {@link
 * KeyRules}, or an unknown cache is counted in {@code spillway.cache.foreign.events} and logged at
 * WARN at most once a minute.
 *
 * <p>Hazards: pub/sub keeps nothing, so an event sent while every runtime is disconnected leaves L2
 * stale until its TTL (L1 is cleared on reconnect by the bus). Past {@value #QUEUE_CAPACITY} events
 * waiting, an event is replaced by a purge of its caches (this L1 at once, L2 by SCAN + UNLINK on
 * the retry timer).
 */
final class ForeignEvents implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ForeignEvents.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  static final int MAX_MESSAGE_CHARS = 64 * 1024;
  static final int QUEUE_CAPACITY = 10_000;
  private static final long WARN_INTERVAL_MILLIS = TimeUnit.MINUTES.toMillis(1);

  /** A parsed event; {@code cache} null means every known cache (a tag event without "cache"). */
  record Event(boolean tag, String name, String cache, String value) {}

  /** Why a message is not an event; the message is logged, never thrown past {@link #onMessage}. */
  private static final class Malformed extends Exception {
    Malformed(String why) {
      super(why, null, false, false);
    }
  }

  private final CacheRuntime runtime;
  private final CacheSettings settings;
  private final CacheMeters meters;
  private final String channel;
  private final BlockingQueue<Event> queue = new ArrayBlockingQueue<>(QUEUE_CAPACITY);
  private final Thread thread;
  private volatile boolean running = true;
  // Guarded by this: the last WARN and what was rejected since.
  private long lastWarnMillis = Long.MIN_VALUE;
  private long rejectedSinceWarn;

  ForeignEvents(CacheRuntime runtime, String channel) {
    this.runtime = runtime;
    this.settings = runtime.settings();
    this.meters = runtime.meters();
    this.channel = channel;
    this.thread = new Thread(this::run, "spillway-cache-foreign");
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
    log.info(
        "event=cache_foreign_listening channel={} entities={}",
        channel,
        settings.foreignEntities().toString().replace(" ", ""));
  }

  /** On the subscriber thread: parse and queue; never throws, never blocks. */
  void onMessage(String raw) {
    if (!running) {
      return;
    }
    try {
      Event e = parse(raw);
      if (!queue.offer(e)) {
        overflow(e);
      }
    } catch (Malformed m) {
      reject(meters.foreignMalformed, m.getMessage(), raw);
    } catch (RuntimeException e) {
      reject(meters.foreignMalformed, e.toString(), raw);
    }
  }

  Event parse(String raw) throws Malformed {
    if (raw == null || raw.length() > MAX_MESSAGE_CHARS) {
      throw new Malformed(
          "message must be at most "
              + MAX_MESSAGE_CHARS
              + " characters but was "
              + (raw == null ? "null" : raw.length()));
    }
    JsonNode root;
    try {
      root = JSON.readTree(raw);
    } catch (IOException e) {
      throw new Malformed("not JSON");
    }
    if (root == null || !root.isObject()) {
      throw new Malformed("not a JSON object");
    }
    boolean hasEntity = root.hasNonNull("entity");
    boolean hasTag = root.hasNonNull("tag");
    if (hasEntity == hasTag) {
      throw new Malformed("needs either \"entity\" and \"id\", or \"tag\"");
    }
    if (root.has("action") && !root.get("action").isTextual()) {
      throw new Malformed("\"action\" must be a string");
    }
    try {
      if (hasEntity) {
        String entity = text(root, "entity");
        String cache = settings.cacheForEntity(entity);
        JsonNode id = root.path("id");
        String key;
        if (id.isTextual()) {
          key = id.asText();
        } else if (id.isIntegralNumber()) {
          key = id.bigIntegerValue().toString(); // 42, as String.valueOf(42L) encodes it
        } else {
          throw new Malformed("\"id\" must be a string or an integer");
        }
        return new Event(false, entity, cache, KeyRules.checkEncoded(cache, key));
      }
      String tag = text(root, "tag");
      String name = root.hasNonNull("cache") ? text(root, "cache") : null;
      String cache = name == null ? null : settings.cacheForEntity(name);
      return new Event(true, name, cache, KeyRules.checkTag(cache == null ? "*" : cache, tag));
    } catch (IllegalArgumentException e) {
      throw new Malformed(e.getMessage());
    }
  }

  private static String text(JsonNode root, String field) throws Malformed {
    JsonNode n = root.get(field);
    if (!n.isTextual() || n.asText().isEmpty()) {
      throw new Malformed("\"" + field + "\" must be a non-empty string");
    }
    return n.asText();
  }

  /** The caches an event concerns; empty when none is known here. */
  private List<String> targets(Event e) {
    Set<String> out = new LinkedHashSet<>();
    if (e.cache() != null) {
      if (runtime.cache(e.cache()) != null || settings.foreignEntities().containsValue(e.cache())) {
        out.add(e.cache());
      }
    } else {
      for (DefaultCacheAside<?, ?> c : runtime.caches()) {
        out.add(c.name());
      }
      out.addAll(settings.foreignEntities().values());
    }
    return new ArrayList<>(out);
  }

  void apply(Event e) {
    List<String> caches = targets(e);
    if (caches.isEmpty()) {
      reject(
          meters.foreignUnknown,
          "no cache named '" + (e.cache() != null ? e.cache() : "*") + "' here",
          e.name());
      return;
    }
    for (String cache : caches) {
      DefaultCacheAside<?, ?> local = runtime.cache(cache);
      // L2 first: once this L1 lost the entry, a read here must not find the old value in Redis.
      if (e.tag()) {
        runtime.bumpTagInRedis(cache, e.value());
        if (local != null) {
          local.invalidateTagLocal(e.value());
        }
      } else {
        runtime.invalidateInRedis(cache, e.value());
        if (local != null) {
          local.invalidateLocal(e.value());
        }
      }
    }
    meters.foreignApplied.increment();
  }

  /** Queue full: purge the caches concerned rather than lose the event. */
  private void overflow(Event e) {
    meters.foreignOverflow.increment();
    for (String cache : targets(e)) {
      DefaultCacheAside<?, ?> local = runtime.cache(cache);
      if (local != null) {
        local.clearLocal();
      }
      runtime.purgeWhenRedisReturns(cache);
    }
    warnAtMostOncePerMinute(
        "event=cache_foreign_queue_full channel={} bound={} action=purge_caches_concerned",
        channel,
        QUEUE_CAPACITY);
  }

  private void reject(Counter counter, String why, String raw) {
    counter.increment();
    warnAtMostOncePerMinute(
        "event=cache_foreign_event_ignored channel={} reason=\"{}\" sample=\"{}\"",
        channel,
        sanitize(why),
        sanitize(raw));
  }

  private void warnAtMostOncePerMinute(String format, Object... args) {
    long now = runtime.clock().millis();
    long suppressed;
    synchronized (this) {
      if (lastWarnMillis != Long.MIN_VALUE && now - lastWarnMillis < WARN_INTERVAL_MILLIS) {
        rejectedSinceWarn++;
        return;
      }
      lastWarnMillis = now;
      suppressed = rejectedSinceWarn;
      rejectedSinceWarn = 0;
    }
    Object[] all = Arrays.copyOf(args, args.length + 1);
    all[args.length] = suppressed;
    log.warn(format + " not_logged_since_last={}", all);
  }

  /** What other programs sent, made safe for one log line: short, printable, no quotes. */
  private static String sanitize(String s) {
    if (s == null) {
      return "";
    }
    StringBuilder b = new StringBuilder(Math.min(s.length(), 100));
    for (int i = 0; i < s.length() && i < 100; i++) {
      char c = s.charAt(i);
      b.append(c < 0x20 || c == 0x7f || c == '"' || c == '\\' ? '?' : c);
    }
    return s.length() > 100 ? b.append("...").toString() : b.toString();
  }

  private void run() {
    while (running) {
      try {
        Event e = queue.poll(100, TimeUnit.MILLISECONDS);
        if (e != null) {
          apply(e);
        }
      } catch (InterruptedException e) {
        if (!running) {
          return;
        }
      } catch (RuntimeException e) {
        log.warn("event=cache_foreign_apply_error error=\"{}\"", e.toString());
      } catch (Error e) {
        runtime.failure().record(Thread.currentThread().getName(), e);
        return;
      }
    }
  }

  /** Events queued when it is called are dropped: the other runtimes apply them to L2 anyway. */
  @Override
  public void close() {
    running = false;
    thread.interrupt();
    try {
      thread.join(3_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
