package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import dev.spillway.Spillway;
import dev.spillway.SpillwayException;
import dev.spillway.testing.LogCapture;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * An {@link Error} on one of the runtime's own threads (here: the apply thread of a scheduled
 * flush, through the test hook {@link FlushListener#afterCommit}) stops the runtime: said once at
 * ERROR, reported by {@link Spillway#failed()}, no more flushing, increments refused; what was
 * committed but not acknowledged stays pending in Redis and a new runtime finishes it exactly once.
 */
@ExtendWith(ServicesExtension.class)
@Isolated // it asserts on every log line of the JVM
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ErrorOnRuntimeThreadTest {

  @Test
  void scheduledFlush_errorOnApplyThread_stopsRuntimeAndReportsOnce(TestEnv env) {
    AtomicInteger commits = new AtomicInteger();
    FlushListener failing =
        new FlushListener() {
          @Override
          public void afterCommit(Set<String> batchIds) {
            commits.incrementAndGet();
            throw new StackOverflowError("injected by the test");
          }
        };
    try (LogCapture logs = new LogCapture()) {
      try (Spillway sw =
          Spillways.builder(env)
              .flushEvery(Duration.ofMillis(100))
              .flushListener(failing)
              .build()) {
        for (int i = 0; i < 100; i++) {
          sw.counters().increment("views", "k" + (i % 10));
        }
        sw.counters().flush();
        await().atMost(Duration.ofSeconds(30)).until(() -> sw.failed().isPresent());

        assertThat(sw.failed().orElseThrow())
            .contains("java.lang.StackOverflowError")
            .contains("spillway-apply")
            .contains("injected by the test");
        FlushReport r = sw.flushOnce();
        assertThat(r.ok()).isFalse();
        assertThat(r.batchesClaimed()).isZero();
        assertThat(r.errors().get(0)).startsWith("not flushed: java.lang.StackOverflowError");
        assertThatThrownBy(() -> sw.counters().increment("views", "k0"))
            .isInstanceOf(SpillwayException.class)
            .hasMessageContaining("stopped after java.lang.StackOverflowError")
            .hasMessageContaining("the increment was not recorded");
        assertThatThrownBy(() -> sw.counters().flush()).isInstanceOf(SpillwayException.class);
        assertThat(commits.get()).as("no flush ran after the Error").isEqualTo(1);
      }
      assertThat(logs.containing("event=runtime_failed")).as("said once").hasSize(1);
      assertThat(logs.atLeast(Level.ERROR)).as("and nothing else at ERROR").hasSize(1);
    }

    // The batch was committed, not acknowledged: pending in Redis, counted once by a new runtime.
    try (Spillway next = Spillways.builder(env).build()) {
      FlushReport r = next.flushOnce();
      assertThat(r.batchesDuplicate()).isPositive();
      assertThat(next.failed()).isEmpty();
    }
    assertThat(
            env.queryLong(
                "SELECT coalesce(sum(total), 0) FROM "
                    + env.schema()
                    + ".counter_totals WHERE counter = 'views'"))
        .isEqualTo(100);
  }
}
