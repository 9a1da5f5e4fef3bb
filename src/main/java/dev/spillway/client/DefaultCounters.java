package dev.spillway.client;

import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import dev.spillway.counter.Counters;
import dev.spillway.layout.CellField;
import dev.spillway.layout.CounterNames;
import dev.spillway.layout.KeyLayout;
import dev.spillway.metrics.SpillwayMetrics;
import dev.spillway.redis.RedisErrors;
import dev.spillway.runtime.Errors;
import dev.spillway.runtime.RuntimeFailure;
import dev.spillway.store.CounterStore;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;

/** {@link Counters} over a {@link CellBuffer} drained by a {@link RedisDrainer}. */
public final class DefaultCounters implements Counters, AutoCloseable {
  private static final int MAX_CACHED_COUNTERS = 10_000;
  private static final int READ_ATTEMPTS = 20;

  /** What increment() needs to know of a counter, validated once. */
  private record Spec(String name, String totalPrefix, String codes, Granularity finest) {}

  private final CellBuffer buffer = new CellBuffer();
  private final ConcurrentHashMap<String, Spec> specs = new ConcurrentHashMap<>();
  private final KeyLayout layout;
  private final SpillwayConfig config;
  private final InstantSource clock;
  private final RedisDrainer drainer;
  private final RedisClusterAsyncCommands<String, String> reads;
  private final CounterStore store;
  private final RuntimeFailure failure;
  // The close gate: increment() counts itself in and out, so close() can wait until no caller is
  // between its check of `closed` and its add before the final drain takes the buffer. Two
  // uncontended LongAdder cells per increment; no lock.
  private final LongAdder entered = new LongAdder();
  private final LongAdder exited = new LongAdder();
  private volatile boolean closed;

  public DefaultCounters(
      SpillwayConfig config,
      KeyLayout layout,
      InstantSource clock,
      StatefulConnection<String, String> drainConnection,
      RedisClusterAsyncCommands<String, String> drainCommands,
      RedisClusterAsyncCommands<String, String> reads,
      CounterStore store,
      SpillwayMetrics meters,
      String clientId,
      RuntimeFailure failure) {
    this.config = config;
    this.failure = failure;
    this.layout = layout;
    this.clock = clock;
    this.reads = reads;
    this.store = store;
    this.drainer =
        new RedisDrainer(
            buffer,
            layout,
            drainConnection,
            drainCommands,
            store,
            config,
            meters,
            clientId,
            failure);
    meters.incrementsAccepted(buffer, CellBuffer::accepted);
    meters.pendingCells(this, DefaultCounters::pendingCells);
    drainer.start();
  }

  @Override
  public void increment(String counter, String key, long delta) {
    Spec spec = spec(counter);
    if (spec.finest == null) {
      CounterNames.checkKey(key);
      add(spec.totalPrefix + key, counter, key, delta);
    } else {
      increment(spec, key, delta, clock.millis());
    }
  }

  @Override
  public void increment(String counter, String key, long delta, Instant eventTime) {
    Spec spec = spec(counter);
    if (spec.finest == null) {
      CounterNames.checkKey(key);
      add(spec.totalPrefix + key, counter, key, delta);
    } else {
      if (eventTime.isBefore(Instant.EPOCH) || eventTime.isAfter(LATEST)) {
        throw new IllegalArgumentException(
            "eventTime must be between 1970-01-01T00:00:00Z and "
                + LATEST
                + " but was "
                + eventTime);
      }
      increment(spec, key, delta, eventTime.toEpochMilli());
    }
  }

  private static final Instant LATEST = Instant.parse("9999-12-31T23:59:59Z");

  private void increment(Spec spec, String key, long delta, long epochMillis) {
    CounterNames.checkKey(key);
    if (epochMillis < 0 || epochMillis > LATEST.toEpochMilli()) {
      throw new IllegalArgumentException(
          "eventTime must be between 1970-01-01T00:00:00Z and "
              + LATEST
              + " but was "
              + Instant.ofEpochMilli(epochMillis));
    }
    long minute = Math.floorDiv(epochMillis, 60_000L);
    long bucketMinute = spec.finest.bucketStartSeconds(minute) / 60;
    String field = CellField.bucketed(spec.name, spec.codes, bucketMinute, key);
    add(field, spec.name, key, delta);
  }

  private void add(String field, String counter, String key, long delta) {
    if (delta == 0) {
      return;
    }
    int stripe = layout.stripeOf(counter, key);
    entered.increment();
    try {
      if (closed) {
        throw new SpillwayException(
            "the Spillway runtime is closed; the increment was not recorded");
      }
      if (failure.failed()) {
        failure.check("the increment was not recorded");
      }
      if (!buffer.tryAdd(field, stripe, delta, config.maxPendingCells())) {
        drainer.awaitRoom(); // room now, or it threw per client.overflow
        buffer.add(field, stripe, delta);
      }
    } finally {
      exited.increment();
    }
  }

  /**
   * Refuses new increments from now on and waits (briefly: an add is a few CAS) until every caller
   * already inside has left, so that the final drain sees every increment that returned normally.
   * Idempotent; {@link #close()} calls it first.
   */
  public void stopAccepting() {
    closed = true;
    drainer.refuseNewCells();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    // exited first: every caller it counts was counted in entered before, so equal sums mean
    // that at some moment between the two reads nobody was inside.
    while (exited.sum() != entered.sum() && System.nanoTime() < deadline) {
      Thread.onSpinWait();
      Thread.yield();
    }
  }

  private Spec spec(String counter) {
    Spec s = specs.get(counter);
    if (s != null) {
      return s;
    }
    CounterNames.checkCounter(counter);
    Set<Granularity> g = config.bucketsOf(counter);
    StringBuilder codes = new StringBuilder();
    Granularity finest = null;
    for (Granularity x : Granularity.values()) { // MINUTE, HOUR, DAY: finest first
      if (g.contains(x)) {
        codes.append(x.code());
        finest = finest == null ? x : finest;
      }
    }
    s = new Spec(counter, CellField.totalOnlyPrefix(counter), codes.toString(), finest);
    if (specs.size() < MAX_CACHED_COUNTERS) {
      specs.put(counter, s);
    }
    return s;
  }

  @Override
  public void flush() {
    drainer.flush();
  }

  @Override
  public int pendingCells() {
    return drainer.pendingCells();
  }

  /**
   * Exact read, optimistic: snapshot Redis (live cells and the claimed batches, atomically), read
   * the PostgreSQL total and which of those batches the ledger holds (one statement), then check
   * that no claim happened meanwhile (the stripe's epoch is unchanged); otherwise retry. A batch in
   * the ledger is counted from the total, any other from Redis, so nothing counts twice.
   */
  @Override
  public long get(String counter, String key) {
    return read(counter, key, true);
  }

  @Override
  public long pending(String counter, String key) {
    return read(counter, key, false);
  }

  /**
   * The value of (counter, key) pending in Redis (live cells and claimed batches, one atomic
   * snapshot), plus, when {@code flushed}, its PostgreSQL total: then a batch the ledger holds is
   * counted from the total, any other from Redis, and a claim racing the read means a retry.
   */
  private long read(String counter, String key, boolean flushed) {
    CounterNames.checkCounter(counter);
    CounterNames.checkKey(key);
    int s = layout.stripeOf(counter, key);
    try {
      for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
        Snapshot snap = snapshot(s, counter, key);
        if (snap == null) {
          continue; // the batches set changed between SMEMBERS and the script
        }
        if (!flushed) {
          long sum = 0;
          for (int i = 0; i <= snap.batchIds().size(); i++) {
            sum = Math.addExact(sum, snap.sum(i, counter, key));
          }
          return sum;
        }
        CounterStore.ExactRead db = store.readTotal(counter, key, snap.batchIds());
        String epochNow = await(reads.hget(layout.epoch(s), "n"));
        if (snap.epoch() != (epochNow == null ? 0 : Long.parseLong(epochNow))) {
          continue; // a claim happened: its batch may be counted in both places
        }
        long sum = Math.addExact(db.total(), snap.sum(0, counter, key));
        for (int i = 0; i < snap.batchIds().size(); i++) {
          if (!db.appliedBatchIds().contains(snap.batchIds().get(i))) {
            sum = Math.addExact(sum, snap.sum(1 + i, counter, key));
          }
        }
        return sum;
      }
    } catch (ArithmeticException e) {
      throw new SpillwayException(
          (flushed ? "the exact value of " : "the value of ")
              + counter
              + "/"
              + key
              + (flushed ? "" : " pending in Redis")
              + " does not fit a 64-bit integer");
    }
    throw new SpillwayException(
        "could not read a consistent "
            + (flushed ? "" : "pending ")
            + "value of "
            + counter
            + "/"
            + key
            + " in "
            + READ_ATTEMPTS
            + " attempts (flushes kept claiming its stripe); try"
            + " again");
  }

  /**
   * One atomic read of a stripe's cells of (counter, key): {@code hashes[0]} is the live hash, the
   * others the claimed batches, in the order of {@code batchIds}; {@code cells.get(i)} holds field,
   * value, ... of {@code hashes[i]}.
   */
  private record Snapshot(long epoch, List<String> batchIds, String[] hashes, List<Object> cells) {
    long sum(int hash, String counter, String key) {
      return sumOf(cells.get(hash), counter, key, hashes[hash]);
    }
  }

  /** The snapshot, or null when the batches set changed between SMEMBERS and the script. */
  private Snapshot snapshot(int s, String counter, String key) {
    List<String> ids = new ArrayList<>(await(reads.smembers(layout.batches(s))));
    String[] keys = new String[3 + ids.size()];
    keys[0] = layout.live(s);
    keys[1] = layout.epoch(s);
    keys[2] = layout.batches(s);
    String[] args = new String[2 + ids.size()];
    args[0] = counter;
    args[1] = key;
    String[] hashes = new String[1 + ids.size()];
    hashes[0] = keys[0];
    for (int i = 0; i < ids.size(); i++) {
      keys[3 + i] = layout.batch(s, ids.get(i));
      args[2 + i] = ids.get(i);
      hashes[1 + i] = keys[3 + i];
    }
    List<Object> snap = readSnapshot(keys, args);
    if (snap.size() == 1) {
      return null;
    }
    return new Snapshot((Long) snap.get(0), List.copyOf(ids), hashes, snap.subList(1, snap.size()));
  }

  /**
   * Runs the READ script; NOSCRIPT falls back to EVAL, and TRYAGAIN (its slot is migrating on a
   * cluster, some of its keys moved) is retried for up to about a second.
   */
  private List<Object> readSnapshot(String[] keys, String[] args) {
    for (int attempt = 1; ; attempt++) {
      try {
        return await(Scripts.READ.evalsha(reads, ScriptOutputType.MULTI, keys, args));
      } catch (SpillwayException e) {
        if (attempt < 20 && RedisErrors.isTryAgain(e)) {
          try {
            Thread.sleep(50);
          } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw e;
          }
        } else {
          throw e;
        }
      }
    }
  }

  /**
   * Adds the values of {@code cells} (field, value, field, value... from {@link Scripts#READ}, read
   * from the hash {@code hash}).
   *
   * @throws SpillwayException naming the cell when a value is not a 64-bit integer: Spillway only
   *     ever writes integers there, so another client wrote it, and no exact value exists until
   *     someone fixes or removes it
   */
  private static long sumOf(Object cells, String counter, String key, String hash) {
    List<?> list = (List<?>) cells;
    long s = 0;
    for (int i = 0; i + 1 < list.size(); i += 2) {
      String value = String.valueOf(list.get(i + 1));
      long v;
      try {
        v = Long.parseLong(value);
      } catch (NumberFormatException e) {
        throw new SpillwayException(
            "pending cell of "
                + counter
                + "/"
                + key
                + " in Redis hash "
                + hash
                + ", field '"
                + list.get(i)
                + "', holds '"
                + (value.length() > 40 ? value.substring(0, 40) + "..." : value)
                + "', which is not a whole number between -9223372036854775808 and"
                + " 9223372036854775807 (Spillway writes only those there, so another client"
                + " wrote it; fix or HDEL that field)");
      }
      s = Math.addExact(s, v);
    }
    return s;
  }

  private <T> T await(CompletionStage<T> f) {
    try {
      return f.toCompletableFuture().get(config.replyWaitMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SpillwayException("interrupted while reading from Redis", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new SpillwayException("reading from Redis failed: " + Errors.rootMessage(e), e);
    }
  }

  @Override
  public void close() {
    stopAccepting();
    drainer.close();
  }
}
