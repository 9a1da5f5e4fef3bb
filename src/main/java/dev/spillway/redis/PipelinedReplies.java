package dev.spillway.redis;

import dev.spillway.runtime.Errors;
import io.lettuce.core.api.StatefulConnection;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Waits for a reply on a connection whose commands are flushed by hand ({@code
 * setAutoFlushCommands(false)}, as the drainer and the flusher pipeline them).
 *
 * <p>Why not just {@code get(timeout)} after {@code flushCommands()}: on a Redis Cluster, Lettuce
 * follows a {@code MOVED} or {@code ASK} reply by writing the command again, to the node the reply
 * names, and with auto-flush off that write only lands in the node connection's buffer. It would
 * sit there until the next {@code flushCommands()}, which the caller makes only after its wait:
 * every command redirected while a slot migrates (or after a failover, before the topology refresh)
 * would time out. So the wait flushes again every {@value #FLUSH_EVERY_MS} ms until the reply is
 * in. A flush with nothing buffered costs nothing; on a single Redis there is never anything.
 */
public final class PipelinedReplies {
  static final long FLUSH_EVERY_MS = 5;

  private PipelinedReplies() {}

  /**
   * The reply of {@code future}, waiting at most {@code timeoutMillis}, flushing {@code connection}
   * while it waits.
   *
   * @throws TimeoutException when no reply came in time
   */
  public static <T> T await(
      StatefulConnection<?, ?> connection, Future<T> future, long timeoutMillis)
      throws InterruptedException, ExecutionException, TimeoutException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    while (true) {
      long left = deadline - System.nanoTime();
      try {
        return future.get(
            Math.max(0, Math.min(left, TimeUnit.MILLISECONDS.toNanos(FLUSH_EVERY_MS))),
            TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        if (deadline - System.nanoTime() <= 0) {
          throw e;
        }
        connection.flushCommands(); // pushes out commands Lettuce re-wrote after a redirect
      }
    }
  }

  /**
   * {@link #await}, with failures as one unchecked exception naming Redis's reply, for callers that
   * fail their whole step when Redis does.
   *
   * @throws IllegalStateException when Redis failed, did not answer in time, or the wait was
   *     interrupted (the interrupt flag is restored)
   */
  public static <T> T reply(
      StatefulConnection<?, ?> connection, Future<T> future, long timeoutMillis) {
    try {
      return await(connection, future, timeoutMillis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("Redis failed: " + Errors.rootMessage(e), e);
    }
  }
}
