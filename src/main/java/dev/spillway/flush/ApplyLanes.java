package dev.spillway.flush;

import dev.spillway.runtime.Closeables;
import java.util.ArrayDeque;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The PostgreSQL side of a run, on up to {@code flush.apply-connections} threads: a run hands a
 * transaction's worth to a free lane and goes on reading Redis; it waits for the oldest lane only
 * when every lane is busy, and at the end. Applies touch no Redis; what each one committed is
 * acknowledged by the run's thread when it takes the result ({@link #awaitOldest}), so each batch
 * still goes claim, read, apply, ack, in that order.
 *
 * <p>Used by {@link Flusher} and {@link AdoptPipeline}, on the run's thread only (runs are
 * serialized per flusher). Idle threads end after 30 s; a run starts them again.
 *
 * @param <T> what an apply yields to its acknowledgement
 */
final class ApplyLanes<T> implements AutoCloseable {
  private final int lanes;
  private final ThreadPoolExecutor threads;
  private final ArrayDeque<Future<T>> running = new ArrayDeque<>();

  ApplyLanes(String threadName, int lanes) {
    this.lanes = lanes;
    // Bounded by construction: a run hands over at most `lanes` applies before it waits for the
    // oldest, so that many queue slots suffice.
    this.threads =
        new ThreadPoolExecutor(
            lanes,
            lanes,
            30,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(lanes),
            Thread.ofPlatform().name(threadName, 0).daemon().factory());
    threads.allowCoreThreadTimeOut(true);
  }

  /** Whether a lane has nothing to do (or is done and waits for its acknowledgement). */
  boolean idle() {
    return running.size() < lanes || running.peekFirst().isDone();
  }

  /** Whether every lane is taken: {@link #awaitOldest} before the next {@link #submit}. */
  boolean full() {
    return running.size() >= lanes;
  }

  boolean isEmpty() {
    return running.isEmpty();
  }

  void submit(Callable<T> apply) {
    if (full()) {
      throw new IllegalStateException("every apply lane is taken");
    }
    running.addLast(threads.submit(apply));
  }

  /** Waits for the oldest apply and returns what it yielded; rethrows what it threw. */
  T awaitOldest() {
    Future<T> f = running.removeFirst();
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while applying", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Error error) {
        throw error;
      }
      throw e.getCause() instanceof RuntimeException r
          ? r
          : new IllegalStateException(e.getCause());
    }
  }

  /** Stops the threads, after what they are running (the caller has awaited every apply). */
  @Override
  public void close() throws InterruptedException {
    Closeables.stop(threads, 30, TimeUnit.SECONDS);
  }
}
