package dev.spillway.client;

import dev.spillway.BufferFullException;
import dev.spillway.OverflowPolicy;
import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import dev.spillway.config.Durations;
import dev.spillway.layout.CellDelta;
import dev.spillway.layout.CellField;
import dev.spillway.layout.KeyLayout;
import dev.spillway.layout.RejectedCell;
import dev.spillway.metrics.SpillwayMetrics;
import dev.spillway.redis.LuaScript;
import dev.spillway.redis.PipelinedReplies;
import dev.spillway.redis.RedisErrors;
import dev.spillway.runtime.Errors;
import dev.spillway.runtime.RuntimeFailure;
import dev.spillway.store.BatchContent;
import dev.spillway.store.CounterStore;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves the local buffer into Redis on one thread, every {@code client.drain-interval}: one
 * pipelined round of {@link Scripts#DRAIN} calls, one per stripe touched.
 *
 * <p>Delivery is exactly once although the network is not: every packet carries this client's id
 * and a per-stripe sequence number, and the drain script applies a packet only if its number is the
 * next one. A packet whose reply was lost is resent as is (same number, same content) until Redis
 * answers, and new packets wait behind it, so a retry, a Lettuce reconnect replay or a timeout
 * never double-counts and never skips.
 *
 * <p>While Redis fails, cells stay in the buffer (memory grows with distinct cells, not increments)
 * and attempts back off up to 5 s. The overflow policy decides what {@code increment()} does once
 * the buffer is full; with {@code DIRECT} this class writes the buffer straight to PostgreSQL as a
 * ledger batch ({@code direct:<client>:<n>}), retried under the same id until it commits.
 *
 * <p>Why this file stays over 400 lines: it is one state machine on one thread, read top to bottom.
 * The per-stripe sequence numbers, the queue of unacknowledged packets that new packets wait
 * behind, the resync after Redis lost packets, the WAIT of durable mode, the back-off, the room
 * {@code increment()} waits for and the DIRECT fallback all read and write the same few fields, and
 * exactly-once delivery rests on how they change together; spread over several classes, those
 * invariants would have to be re-assembled by every reader.
 */
final class RedisDrainer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RedisDrainer.class);
  private static final int MAX_FIELDS_PER_PACKET = 256;
  private static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(5);

  private record Packet(int stripe, long seq, String[] args, int cells, String sealBatchId) {
    /**
     * The same packet, marked to be accepted although Redis lost earlier ones, with the id under
     * which the drain script seals the stripe's live hash (see {@link Scripts#DRAIN}).
     */
    Packet resync(String batchId) {
      String[] a = args.clone();
      a[2] = "1";
      return new Packet(stripe, seq, a, cells, batchId);
    }
  }

  private final SecureRandom random = new SecureRandom();

  /** A batch id of the flusher's format: claim time in base 36, then a random part. */
  private String newBatchId() {
    return KeyLayout.batchId(System.currentTimeMillis(), random.nextLong());
  }

  private final CellBuffer buffer;
  private final KeyLayout layout;
  private final StatefulConnection<String, String> connection;
  private final RedisClusterAsyncCommands<String, String> redis;
  private final CounterStore store;
  private final SpillwayConfig config;
  private final SpillwayMetrics meters;
  private final String clientId;
  private final ScheduledExecutorService executor;
  private final RuntimeFailure failure;

  /** Under {@code client.durability: replicated}: what WAIT confirmed; else null. */
  private final ReplicationWait replication;

  private final Object room = new Object();
  // At most one extra tick queued on the drain executor, however many callers ask for one.
  private final AtomicBoolean tickQueued = new AtomicBoolean();
  private volatile boolean refusing; // the runtime is closing: waiting callers give up

  // Drainer thread only.
  private final long[] seqs;
  private final Deque<Packet> unacknowledged = new ArrayDeque<>();
  private final Deque<BatchContent> directPending = new ArrayDeque<>();
  private long directCount;
  private long cellsAcknowledged; // by Redis, since start
  private int failures;
  private long nextAttemptNanos;
  private boolean onlySlotsMigrating; // the last send's errors were all TRYAGAIN or NOSCRIPT

  private volatile boolean redisFailing;
  private volatile boolean directRequested;
  private volatile boolean wakeRequested;
  private volatile long lastWakeNanos; // written under the room lock only
  private static final long WAKE_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(250);
  private volatile int unacknowledgedCells;
  private volatile int directPendingCells;

  RedisDrainer(
      CellBuffer buffer,
      KeyLayout layout,
      StatefulConnection<String, String> connection,
      RedisClusterAsyncCommands<String, String> redis,
      CounterStore store,
      SpillwayConfig config,
      SpillwayMetrics meters,
      String clientId,
      RuntimeFailure failure) {
    this.buffer = buffer;
    this.failure = failure;
    this.layout = layout;
    this.connection = connection;
    this.redis = redis;
    this.store = store;
    this.config = config;
    this.meters = meters;
    this.clientId = clientId;
    this.seqs = new long[layout.stripes()];
    this.replication =
        config.durability().replicated()
            ? new ReplicationWait(layout, connection, redis, config)
            : null;
    this.executor =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "spillway-drain");
              t.setDaemon(true);
              return t;
            });
    connection.setAutoFlushCommands(false);
  }

  void start() {
    if (!config.redisCluster()) {
      // Load the drain script before the first drain, on this connection. Durable mode's WAIT
      // rides behind the drain scripts in the same pipeline; a drain that found the script
      // missing is applied by its EVAL fallback after that WAIT, so it is kept unconfirmed and
      // re-sent (ReplicationWait.Pending#covers), which costs a retry. Best effort: a failure here
      // only means that first retry. (Not on a cluster: SCRIPT LOAD must reach every node, and
      // there WAIT runs after the replies.)
      redis.scriptLoad(Scripts.DRAIN.text());
      connection.flushCommands();
    }
    long ms = config.drainInterval().toMillis();
    executor.scheduleWithFixedDelay(this::tick, ms, ms, TimeUnit.MILLISECONDS);
  }

  int pendingCells() {
    return buffer.pending() + unacknowledgedCells + directPendingCells;
  }

  boolean redisFailing() {
    return redisFailing;
  }

  private void tick() {
    tickQueued.set(false);
    if (failure.failed()) {
      return; // stopped: see RuntimeFailure
    }
    try {
      drainOnce(false);
    } catch (Error e) {
      failure.record(Thread.currentThread().getName(), e);
      wakeWaiters();
    } catch (RuntimeException e) {
      log.error("event=drain_error error=\"{}\"", e.toString(), e);
    }
  }

  /** Queues one prompt drain unless one is queued already (so the executor's queue stays tiny). */
  private void requestTick() {
    if (tickQueued.compareAndSet(false, true)) {
      try {
        executor.execute(this::tick);
      } catch (RejectedExecutionException e) {
        tickQueued.set(false);
        throw e;
      }
    }
  }

  /**
   * From now on, callers waiting for room (and new ones) get an exception instead of waiting: the
   * runtime is closing, and the final drain must not race new cells. Idempotent.
   */
  void refuseNewCells() {
    refusing = true;
    wakeWaiters();
  }

  private void wakeWaiters() {
    synchronized (room) {
      room.notifyAll();
    }
  }

  /**
   * Blocks {@code increment()} until the buffer has room, or throws per policy. Called only when a
   * new cell would be created and the buffer is at its bound.
   */
  void awaitRoom() {
    checkAccepting();
    OverflowPolicy policy = config.overflowPolicy();
    if (policy == OverflowPolicy.FAIL) {
      throw new BufferFullException(
          "local buffer holds "
              + buffer.size()
              + " cells not yet acknowledged by Redis (client.max-pending-cells="
              + config.maxPendingCells()
              + ", client.overflow=FAIL); Redis "
              + (redisFailing ? "is failing" : "is behind")
              + "; the increment was not recorded");
    }
    if (policy == OverflowPolicy.DIRECT) {
      directRequested = true;
      try {
        requestTick();
      } catch (RejectedExecutionException e) {
        throw new SpillwayException(
            "the Spillway runtime is closed; the increment was not recorded");
      }
    }
    long deadline = System.nanoTime() + config.blockTimeout().toNanos();
    synchronized (room) {
      while (buffer.size() >= config.maxPendingCells()) {
        checkAccepting();
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new BufferFullException(
              "waited "
                  + Durations.format(config.blockTimeout())
                  + " (client.block-timeout) for room in the local buffer, which holds "
                  + buffer.size()
                  + " cells (client.max-pending-cells="
                  + config.maxPendingCells()
                  + ", client.overflow="
                  + policy
                  + "); the increment was not recorded");
        }
        try {
          // A blocked caller should not sit out the whole backoff (up to 5 s) once Redis is
          // back: ask for a prompt attempt, at most every 250 ms while anyone waits.
          long now = System.nanoTime();
          if (now - lastWakeNanos >= WAKE_INTERVAL_NANOS) {
            lastWakeNanos = now;
            wakeRequested = true;
            requestTick();
          }
          room.wait(Math.max(1, Math.min(250, TimeUnit.NANOSECONDS.toMillis(left))));
        } catch (RejectedExecutionException e) {
          throw new SpillwayException(
              "the Spillway runtime is closed; the increment was not recorded");
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new SpillwayException("interrupted while waiting for room in the local buffer");
        }
      }
    }
  }

  private void checkAccepting() {
    if (refusing) {
      throw new SpillwayException("the Spillway runtime is closed; the increment was not recorded");
    }
    failure.check("the increment was not recorded");
  }

  /**
   * Sends what is buffered; returns true when everything taken, and everything left from earlier
   * attempts, has been acknowledged. Drainer thread only.
   */
  private boolean drainOnce(boolean force) {
    if (!force && System.nanoTime() < nextAttemptNanos && !directRequested && !wakeRequested) {
      return false;
    }
    wakeRequested = false;
    long start = System.nanoTime();
    try {
      retryDirect();
      if (!unacknowledged.isEmpty()) {
        send(new ArrayList<>(unacknowledged));
        if (!unacknowledged.isEmpty()) {
          notAcknowledged();
          maybeDirect();
          return false;
        }
      }
      List<CellBuffer.Delta> deltas = buffer.drain();
      if (deltas.isEmpty()) {
        succeeded();
        makeRoom();
        return directPending.isEmpty();
      }
      send(pack(deltas));
      if (unacknowledged.isEmpty()) {
        succeeded();
        makeRoom();
        meters.cellsDrained(deltas.size());
        cellsAcknowledged += deltas.size();
        meters.drainTook(Duration.ofNanos(System.nanoTime() - start));
        return directPending.isEmpty();
      }
      notAcknowledged();
      maybeDirect();
      return false;
    } finally {
      unacknowledgedCells = unacknowledged.stream().mapToInt(Packet::cells).sum();
      directPendingCells = directPending.stream().mapToInt(BatchContent::size).sum();
      synchronized (room) {
        room.notifyAll();
      }
    }
  }

  private List<Packet> pack(List<CellBuffer.Delta> deltas) {
    Map<Integer, List<CellBuffer.Delta>> byStripe = new TreeMap<>();
    for (CellBuffer.Delta d : deltas) {
      byStripe.computeIfAbsent(d.stripe(), s -> new ArrayList<>()).add(d);
    }
    List<Packet> packets = new ArrayList<>(byStripe.size());
    for (var e : byStripe.entrySet()) {
      List<CellBuffer.Delta> all = e.getValue();
      for (int from = 0; from < all.size(); from += MAX_FIELDS_PER_PACKET) {
        List<CellBuffer.Delta> part =
            all.subList(from, Math.min(all.size(), from + MAX_FIELDS_PER_PACKET));
        String[] args = new String[3 + 2 * part.size()];
        long seq = ++seqs[e.getKey()];
        args[0] = clientId;
        args[1] = Long.toString(seq);
        args[2] = "0";
        int i = 3;
        for (CellBuffer.Delta d : part) {
          args[i++] = d.field();
          args[i++] = Long.toString(d.value());
        }
        packets.add(new Packet(e.getKey(), seq, args, part.size(), null));
      }
    }
    return packets;
  }

  /**
   * Sends packets in order, pipelined; whatever is not acknowledged ends up, in order, in {@link
   * #unacknowledged} (replacing what was there: the argument includes the earlier leftovers).
   */
  private void send(List<Packet> packets) {
    List<CompletableFuture<List<Object>>> futures = new ArrayList<>(packets.size());
    for (Packet p : packets) {
      futures.add(
          Scripts.DRAIN.evalsha(
              redis,
              ScriptOutputType.MULTI,
              p.sealBatchId() == null
                  ? new String[] {layout.live(p.stripe()), layout.seen(p.stripe())}
                  : new String[] {
                    layout.live(p.stripe()),
                    layout.seen(p.stripe()),
                    layout.batch(p.stripe(), p.sealBatchId()),
                    layout.batches(p.stripe()),
                    layout.epoch(p.stripe())
                  },
              p.args()));
    }
    // Durable mode: the fence and WAIT ride in the same pipeline, behind the scripts.
    ReplicationWait.Pending replicated =
        replication == null
            ? null
            : replication.queue(
                new LinkedHashSet<>(packets.stream().map(Packet::stripe).toList()), futures);
    connection.flushCommands();
    unacknowledged.clear();
    Packet[] kept = new Packet[packets.size()]; // not acknowledged (yet), in order
    boolean[] applied = new boolean[packets.size()]; // applied by Redis, awaiting WAIT
    Throwable firstError = null;
    onlySlotsMigrating = true;
    long waitMs = config.replyWaitMillis();
    Set<Integer> stripesWaiting = new HashSet<>();
    Set<Integer> stripesAcknowledged = new HashSet<>();
    for (int i = 0; i < packets.size(); i++) {
      Packet p = packets.get(i);
      try {
        List<Object> r = PipelinedReplies.await(connection, futures.get(i), waitMs);
        long code = (Long) r.get(0);
        if (code >= 0) {
          stripesAcknowledged.add(p.stripe());
          if (replication != null) {
            kept[i] = p;
            applied[i] = true;
          }
          continue;
        }
        long last = (Long) r.get(1);
        if (stripesAcknowledged.contains(p.stripe()) && !stripesWaiting.contains(p.stripe())) {
          // An earlier packet of this stripe went through in this very send, yet this one found
          // a gap: it ran first. A Redis Cluster client writes a pipeline in reverse order to a
          // node whose connection is still being opened. Nothing is lost: resent as is, it is
          // the next one now.
          log.debug(
              "event=redis_drain_reordered stripe={} seq={} redis_had={} action=resend",
              p.stripe(),
              p.seq(),
              last);
        } else if (!stripesWaiting.contains(p.stripe())) {
          // No earlier packet of this stripe is waiting here, yet Redis expects one: Redis lost
          // packets it had acknowledged (a rollback to an older AOF or replica, or a restart).
          // Waiting would block this client forever; resend this one to be accepted as is.
          log.error(
              "event=redis_lost_packets stripe={} client={} acknowledged_up_to={} redis_has={}"
                  + " detail=\"Redis rolled back, restarted or failed over (or forgot this client"
                  + " after 7 days of silence); increments it had acknowledged in packets {}..{}"
                  + " are gone\" action=resync",
              p.stripe(),
              clientId,
              p.seq() - 1,
              last,
              last + 1,
              p.seq() - 1);
          p = p.resync(newBatchId());
        }
      } catch (ExecutionException | TimeoutException e) {
        onlySlotsMigrating &= RedisErrors.isTryAgain(e) || LuaScript.isNoScript(e);
        firstError = firstError != null ? firstError : e;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        onlySlotsMigrating = false;
        firstError = e;
      }
      kept[i] = p;
      stripesWaiting.add(p.stripe());
    }
    if (replication != null) {
      firstError = keepUnreplicated(kept, applied, replicated, firstError);
    }
    for (Packet k : kept) {
      if (k != null) {
        unacknowledged.add(k);
      }
    }
    onlySlotsMigrating &= firstError != null;
    if (onlySlotsMigrating) {
      log.debug(
          "event=redis_drain_slot_migrating packets={} error=\"{}\" action=retry_next_tick",
          unacknowledged.size(),
          Errors.rootMessage(firstError));
    } else if (firstError != null && failures == 0) {
      log.warn(
          "event=redis_drain_failed packets={} cells={} error=\"{}\" action=retry_with_backoff",
          unacknowledged.size(),
          unacknowledged.stream().mapToInt(Packet::cells).sum(),
          Errors.rootMessage(firstError));
    }
  }

  /**
   * Durable mode: releases the applied packets whose stripes {@link ReplicationWait} confirmed
   * (their slot in {@code kept} cleared); the others stay, to be re-sent. Returns the error to
   * report, a WAIT shortfall if there was no other.
   */
  private Throwable keepUnreplicated(
      Packet[] kept, boolean[] applied, ReplicationWait.Pending pending, Throwable firstError) {
    Set<Integer> appliedStripes = new LinkedHashSet<>();
    for (int i = 0; i < kept.length; i++) {
      if (applied[i]) {
        appliedStripes.add(kept[i].stripe());
      }
    }
    Set<Integer> confirmed = replication.afterReplies(appliedStripes, pending);
    int unconfirmed = 0;
    for (int i = 0; i < kept.length; i++) {
      if (applied[i]
          && confirmed.contains(kept[i].stripe())
          && (pending == null || pending.covers(i))) {
        kept[i] = null;
      } else if (applied[i]) {
        unconfirmed++;
      }
    }
    if (unconfirmed == 0) {
      return firstError;
    }
    onlySlotsMigrating = false;
    return firstError != null
        ? firstError
        : new IllegalStateException(
            "WAIT did not confirm "
                + replication.replicas()
                + " replica(s) (client.durable-replicas)"
                + " for "
                + unconfirmed
                + " applied packet(s); kept and re-sent");
  }

  private void maybeDirect() {
    if (config.overflowPolicy() != OverflowPolicy.DIRECT
        || !(directRequested || buffer.size() >= config.maxPendingCells())) {
      return;
    }
    if (!directPending.isEmpty()) {
      // PostgreSQL is failing too: don't stack up more batches (memory would grow with time);
      // the buffer stays full and increment() waits as under BLOCK.
      directRequested = false;
      return;
    }
    directRequested = false;
    forceDirect();
  }

  /** Writes pending direct batches under their fixed ids; the ledger makes a retry harmless. */
  private void retryDirect() {
    while (!directPending.isEmpty()) {
      BatchContent b = directPending.peek();
      try {
        store.apply(List.of(b), "direct", null);
        directPending.poll();
        meters.directBatch();
        log.warn(
            "event=direct_write batch={} cells={} reason=redis_unavailable_and_buffer_full",
            b.batchId(),
            b.size());
      } catch (RuntimeException e) {
        log.error(
            "event=direct_write_failed batch={} cells={} error=\"{}\" action=retry",
            b.batchId(),
            b.size(),
            Errors.rootMessage(e));
        return;
      }
    }
  }

  /**
   * Redis acknowledged everything taken. Cells that now hold nothing would otherwise keep counting
   * against {@code client.max-pending-cells} for a few more drains (idle cells retire lazily, to
   * spare hot cells a reallocation), refusing or blocking new cells although nothing is pending; at
   * the bound they are retired at once.
   */
  private void makeRoom() {
    if (buffer.size() >= config.maxPendingCells()) {
      buffer.retireIdle();
    }
  }

  /**
   * A drain Redis did not fully acknowledge. When every refusal was {@code TRYAGAIN} (a cluster
   * slot is being resharded and the packet's keys are split between two masters, or missing on the
   * importing one), Redis is not failing: the slot is usable again once its keys have moved,
   * typically within milliseconds. Backing off as from an outage would escalate to 5 s while a
   * reshard goes on slot after slot, holding every stripe's cells back; so retry at the next tick.
   * (NOSCRIPT no longer reaches here: {@code LuaScript} sends the script's text for the call that
   * met it.)
   */
  private void notAcknowledged() {
    if (onlySlotsMigrating) {
      meters.drainFailed();
      nextAttemptNanos = 0;
      return;
    }
    failed();
  }

  private void failed() {
    redisFailing = true;
    meters.drainFailed();
    failures = Math.min(failures + 1, 30);
    long backoff =
        Math.min(MAX_BACKOFF_NANOS, TimeUnit.MILLISECONDS.toNanos(100) << Math.min(failures, 6));
    nextAttemptNanos = System.nanoTime() + backoff;
  }

  private void succeeded() {
    if (failures > 0) {
      log.info("event=redis_drain_recovered after_failures={}", failures);
    }
    failures = 0;
    redisFailing = false;
    nextAttemptNanos = 0;
  }

  /**
   * Delivers everything buffered before the call; returns once Redis acknowledged it.
   *
   * @throws SpillwayException when Redis did not acknowledge within {@code redis.timeout}
   */
  void flush() {
    failure.check("flush() did nothing");
    long deadline = System.nanoTime() + config.redisTimeout().toNanos();
    try {
      boolean done =
          executor
              .submit(
                  () -> {
                    while (true) {
                      if (drainOnceRecordingErrors()) {
                        return true;
                      }
                      if (System.nanoTime() > deadline) {
                        return false;
                      }
                      Thread.sleep(50);
                    }
                  })
              .get();
      if (!done) {
        throw new SpillwayException(
            "flush(): Redis did not acknowledge "
                + pendingCells()
                + " pending cell(s) within redis.timeout="
                + Durations.format(config.redisTimeout())
                + "; they stay buffered and are retried");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SpillwayException("interrupted during flush()", e);
    } catch (ExecutionException e) {
      throw new SpillwayException("flush() failed: " + Errors.rootMessage(e), e.getCause());
    } catch (RejectedExecutionException e) {
      throw new SpillwayException("flush() called after close()");
    }
  }

  /** {@link #drainOnce}{@code (true)} on the drain thread, recording an Error before it leaves. */
  private boolean drainOnceRecordingErrors() {
    failure.check("nothing more is drained");
    try {
      return drainOnce(true);
    } catch (Error e) {
      failure.record(Thread.currentThread().getName(), e);
      wakeWaiters();
      throw e;
    }
  }

  /**
   * Drains until empty or {@code client.close-timeout}; what cannot reach Redis goes straight to
   * PostgreSQL; what still cannot be delivered is reported loudly (never dropped silently). Call
   * {@link #refuseNewCells()} first, and let the callers inside {@code increment()} leave: cells
   * added after the final drain took the buffer would be lost.
   */
  @Override
  public void close() {
    refusing = true;
    // The final drain runs on the drain thread like every other drain: the packet numbers, the
    // queues and the buffer's retire rule all assume one thread.
    Future<?> last;
    try {
      last = executor.submit(this::finalDrain);
    } catch (RejectedExecutionException e) {
      return; // closed already
    }
    executor.shutdown();
    try {
      last.get(
          config.closeTimeout().toMillis() + config.redisTimeout().toMillis() + 10_000,
          TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      log.error(
          "event=close_undelivered detail=\"the final drain did not finish: {}; up to {} cells"
              + " were not delivered\"",
          Errors.rootMessage(e),
          pendingCells());
      executor.shutdownNow();
    }
  }

  /** Drains until empty or client.close-timeout, then falls back to PostgreSQL; drain thread. */
  private void finalDrain() {
    if (failure.failed()) {
      log.warn(
          "event=close_undelivered buffered_cells={} reason=\"{}\" detail=\"no final drain after"
              + " an Error; what Redis acknowledged earlier stays pending there\"",
          buffer.pending(),
          failure.reason().orElseThrow());
      return;
    }
    long deadline = System.nanoTime() + config.closeTimeout().toNanos();
    long acknowledgedBefore = cellsAcknowledged;
    boolean done = false;
    while (!done) {
      try {
        done = drainOnce(true);
      } catch (Error e) {
        failure.record(Thread.currentThread().getName(), e);
        return;
      }
      if (done || System.nanoTime() > deadline) {
        break;
      }
      sleep(100);
    }
    if (done && cellsAcknowledged > acknowledgedBefore) {
      log.info(
          "event=close_drained cells={} note=\"in Redis now; the next flush run, here or in any"
              + " other runtime or worker, applies them\"",
          cellsAcknowledged - acknowledgedBefore);
    }
    if (!done) {
      // Cells never sent can go straight to PostgreSQL through the ledger path. Packets whose
      // fate is unknown (Redis may have applied them) cannot: that could count them twice.
      if (buffer.size() > 0) {
        log.warn(
            "event=close redis_unavailable action=writing_buffer_to_postgresql cells={}",
            buffer.pending());
        forceDirect();
      } else {
        retryDirect();
      }
      int unknown = unacknowledged.stream().mapToInt(Packet::cells).sum();
      int stillBuffered = buffer.pending();
      if (unknown > 0 || stillBuffered > 0 || !directPending.isEmpty()) {
        log.error(
            "event=close_undelivered unacknowledged_cells={} buffered_cells={} direct_batches={}"
                + " detail=\"Redis did not acknowledge these before client.close-timeout; the"
                + " unacknowledged ones may or may not have been applied by Redis\"",
            unknown,
            stillBuffered,
            directPending.size());
      }
    }
  }

  private void forceDirect() {
    List<CellBuffer.Delta> deltas = buffer.drain();
    List<CellDelta> cells = new ArrayList<>();
    List<RejectedCell> rejected = new ArrayList<>();
    for (CellBuffer.Delta d : deltas) {
      Object parsed = CellField.parse(d.field(), Long.toString(d.value()));
      if (parsed instanceof CellDelta c) {
        cells.add(c);
      } else {
        rejected.add((RejectedCell) parsed);
      }
    }
    if (!cells.isEmpty() || !rejected.isEmpty()) {
      directPending.add(
          new BatchContent("direct:" + clientId + ":" + (++directCount), -1, cells, rejected));
    }
    retryDirect();
    if (directPending.isEmpty()) {
      // Committed in PostgreSQL: the drained cells hold nothing now and must free their room at
      // once, or DIRECT would still make callers wait for Redis (idle cells retire only on
      // drains, which back off to 5 s while Redis fails).
      buffer.retireIdle();
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
