package dev.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.counter.Counters;
import dev.spillway.flush.FlushReport;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * SIGTERM while the worker flushes under load: it exits 0 within worker.shutdown-timeout, and after
 * one more flush PostgreSQL holds exactly what was sent (whatever the worker left claimed was
 * applied once by that flush).
 */
@ExtendWith(ServicesExtension.class)
@ResourceLock(WorkerProcess.CHILD_JVMS)
class WorkerShutdownTest {
  static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(10);
  static final int KEYS = 50_000;

  private static boolean flushInProgress(String log) {
    int start = log.lastIndexOf("event=job_start job=flush-");
    return start >= 0 && log.indexOf("event=job_end job=flush-", start) < 0;
  }

  @Test
  void sigterm_duringHeavyFlushing_exitsZeroWithinTimeoutAndTotalsStayExact(TestEnv env)
      throws Exception {
    var config =
        WorkerProcess.config(
            """
            keys: {stripes: 64}
            flush: {interval: 100ms}
            worker:
              http: {port: 0}
              flush: {groups: 4}
              shutdown-timeout: %s
              log: {level: DEBUG}
            """
                .formatted(SHUTDOWN_TIMEOUT.toSeconds() + "s"));
    try (WorkerProcess worker =
            WorkerProcess.start(WorkerProcess.env(env), "worker", "--config", config.toString());
        Spillway app = Spillways.builder(env).build()) {
      worker.awaitPort(WorkerProcess.START_TIMEOUT);
      worker.awaitStatus("/health/ready", 200, WorkerProcess.START_TIMEOUT);

      Counters c = app.counters();
      LongAdder sent = new LongAdder();
      AtomicBoolean stop = new AtomicBoolean();
      List<Thread> senders = new ArrayList<>();
      for (int t = 0; t < 2; t++) {
        long seed = t;
        senders.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      SplittableRandom rnd = new SplittableRandom(seed);
                      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                      while (!stop.get() && System.nanoTime() < deadline) {
                        for (int i = 0; i < 1000; i++) {
                          c.increment("hits", Integer.toString(rnd.nextInt(KEYS)));
                        }
                        sent.add(1000);
                      }
                    }));
      }
      // Let the worker flush for a while, then SIGTERM it while it has work in hand.
      WorkerHttpTest.awaitTrue(
          () -> env.queryLong("SELECT count(*) FROM flush_ledger") > 20,
          Duration.ofSeconds(20),
          "the worker has applied some batches");
      // Aim the signal at a flush in progress: the worker's last job event is a flush start.
      long aimUntil = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (!flushInProgress(worker.output()) && System.nanoTime() < aimUntil) {
        WorkerProcess.sleep(2);
      }
      long t0 = System.nanoTime();
      worker.terminate();
      Integer code = worker.awaitExit(SHUTDOWN_TIMEOUT.plusSeconds(10));
      long tookMs = (System.nanoTime() - t0) / 1_000_000;

      stop.set(true);
      for (Thread t : senders) {
        t.join();
      }
      c.flush();
      String log = worker.output();
      assertThat(code).as("exit code; output:\n%s", WorkerProcess.tail(log, 3000)).isZero();
      assertThat(tookMs).isLessThan(SHUTDOWN_TIMEOUT.toMillis());
      assertThat(log).contains("event=shutdown_begin signal=TERM").contains("event=stopped");
      // No ERROR from anyone while stopping under load (Netty refusing listener notifications
      // after its event loops stopped used to log one line per command still in flight).
      assertThat(log.lines().filter(l -> l.contains("level=ERROR")).toList()).isEmpty();

      FlushReport last = app.flushOnce(); // the "one more flush", by the app's own runtime
      assertThat(last.ok()).as(last.toString()).isTrue();
      assertThat(env.queryLong("SELECT coalesce(sum(total), 0) FROM counter_totals"))
          .isEqualTo(sent.sum());
      assertThat(env.queryLong("SELECT count(*) FROM flush_ledger"))
          .isEqualTo(env.queryLong("SELECT count(DISTINCT batch_id) FROM flush_ledger"));
      System.out.printf(
          "WorkerShutdownTest: sent %,d; SIGTERM to exit %d ms; %s; final flush %s%n",
          sent.sum(),
          tookMs,
          log.lines()
              .filter(l -> l.contains("event=shutdown_begin") || l.contains("event=stopped"))
              .map(l -> l.substring(l.indexOf("event=")))
              .toList(),
          last);
    }
  }
}
