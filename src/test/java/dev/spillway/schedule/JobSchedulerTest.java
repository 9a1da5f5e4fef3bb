package dev.spillway.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.ConfigException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.quartz.Scheduler;

/** The in-memory scheduler: no overlap, no pile-up, bounded shutdown. */
class JobSchedulerTest {

  @Test
  void run_slowTask_neverOverlapsAndDoesNotPileUp() throws Exception {
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger maxInside = new AtomicInteger();
    List<Long> starts = new CopyOnWriteArrayList<>();
    ScheduledTask slow =
        new ScheduledTask(
            "slow",
            Schedule.every(Duration.ofMillis(20)),
            () -> {
              starts.add(System.nanoTime());
              maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
              sleep(250);
              inside.decrementAndGet();
            });
    JobScheduler s = JobScheduler.builder().threads(4).task(slow).build();
    s.start();
    Thread.sleep(1_600);
    assertThat(s.shutdown(Duration.ofSeconds(2))).isEmpty();

    assertThat(maxInside.get()).isEqualTo(1);
    // Back to back at most: 1.6 s / 250 ms, not one run per 20 ms tick that passed meanwhile.
    assertThat(starts.size()).isBetween(3, 8);
    for (int i = 1; i < starts.size(); i++) {
      assertThat(starts.get(i) - starts.get(i - 1))
          .isGreaterThanOrEqualTo(Duration.ofMillis(240).toNanos());
    }
  }

  @Test
  void start_afterAPause_skipsMissedRunsInsteadOfReplayingThem() throws Exception {
    List<Long> starts = new CopyOnWriteArrayList<>();
    ScheduledTask tick =
        new ScheduledTask(
            "tick", Schedule.every(Duration.ofMillis(100)), () -> starts.add(System.nanoTime()));
    JobScheduler s = JobScheduler.builder().task(tick).build();
    s.start();
    Thread.sleep(300);
    pause(s, Duration.ofMillis(2_000)); // 20 ticks missed
    long resumed = System.nanoTime();
    Thread.sleep(350);
    s.shutdown(Duration.ofSeconds(1));

    long afterResume = starts.stream().filter(t -> t >= resumed).count();
    assertThat(afterResume).as("runs in the 350 ms after the pause").isBetween(1L, 5L);
  }

  @Test
  void shutdown_waitsForARunningTaskWithinTheTimeout() throws Exception {
    AtomicInteger done = new AtomicInteger();
    JobScheduler s =
        JobScheduler.builder()
            .task(
                new ScheduledTask(
                    "t",
                    Schedule.every(Duration.ofHours(1)),
                    () -> {
                      sleep(400);
                      done.incrementAndGet();
                    }))
            .build();
    s.start();
    awaitRunning(s, "t");

    assertThat(s.shutdown(Duration.ofSeconds(5))).isEmpty();
    assertThat(done.get()).isEqualTo(1);
    assertThat(s.isRunning()).isFalse();
  }

  @Test
  void shutdown_pastTheTimeout_namesTheTaskStillRunning() throws Exception {
    JobScheduler s =
        JobScheduler.builder()
            .task(
                new ScheduledTask("stuck", Schedule.every(Duration.ofHours(1)), () -> sleep(3_000)))
            .build();
    s.start();
    awaitRunning(s, "stuck");
    long t0 = System.nanoTime();

    assertThat(s.shutdown(Duration.ofMillis(200))).containsExactly("stuck");
    assertThat(System.nanoTime() - t0).isLessThan(Duration.ofSeconds(2).toNanos());
  }

  @Test
  void run_failingTask_isCountedAndRunsAgain() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    AtomicInteger calls = new AtomicInteger();
    JobScheduler s =
        JobScheduler.builder()
            .meterRegistry(registry)
            .task(
                new ScheduledTask(
                    "boom",
                    Schedule.every(Duration.ofMillis(50)),
                    () -> {
                      calls.incrementAndGet();
                      throw new IllegalStateException("expected in this test");
                    }))
            .build();
    s.start();
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (calls.get() < 3 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    s.shutdown(Duration.ofSeconds(1));

    assertThat(calls.get()).isGreaterThanOrEqualTo(3);
    assertThat(
            registry
                .get("spillway.job.runs")
                .tag("task", "boom")
                .tag("outcome", "error")
                .counter()
                .count())
        .isGreaterThanOrEqualTo(3);
  }

  @Test
  void builder_sameTaskNameTwice_isRefused() {
    ScheduledTask t = new ScheduledTask("a", Schedule.every(Duration.ofSeconds(1)), () -> {});
    assertThatThrownBy(() -> JobScheduler.builder().task(t).task(t))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("task name 'a' is used twice");
  }

  @Test
  void scheduledTask_badName_isRefusedNamingTheRule() {
    assertThatThrownBy(
            () -> new ScheduledTask("Flush Now", Schedule.every(Duration.ofSeconds(1)), () -> {}))
        .hasMessage("task name 'Flush Now' must match [a-z][a-z0-9_.-]{0,79}");
  }

  @Test
  void schedule_parse_intervalOrCron() {
    assertThat(Schedule.parse("k", "500ms")).isEqualTo(Schedule.every(Duration.ofMillis(500)));
    assertThat(Schedule.parse("k", "PT2S")).isEqualTo(Schedule.every(Duration.ofSeconds(2)));
    assertThat(Schedule.parse("k", " 0 17 * * * ? ")).isEqualTo(Schedule.cron("0 17 * * * ?"));
    assertThatThrownBy(() -> Schedule.parse("worker.ledger.prune-schedule", "hourly"))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("worker.ledger.prune-schedule must be an interval like 30s")
        .hasMessageEndingWith("but was 'hourly'");
  }

  @Test
  void flushGroups_ranges_coverEveryStripeOnce() {
    assertThat(FlushGroups.ranges(1024, 4))
        .containsExactly(
            new FlushGroups.Range(0, 256), new FlushGroups.Range(256, 512),
            new FlushGroups.Range(512, 768), new FlushGroups.Range(768, 1024));
    assertThat(FlushGroups.ranges(10, 3))
        .containsExactly(
            new FlushGroups.Range(0, 3), new FlushGroups.Range(3, 6), new FlushGroups.Range(6, 10));
    assertThat(FlushGroups.ranges(2, 8)).hasSize(2);
    assertThat(FlushGroups.ranges(64, 4).get(1).taskName()).isEqualTo("flush-16-32");
  }

  @Test
  void pendingBatches_claimedAt_readsBothIdShapes() {
    long t = 1_790_000_000_000L;
    String b36 = Long.toString(t, 36);
    assertThat(PendingBatches.claimedAtMillis(b36 + "-9f3a").getAsLong()).isEqualTo(t);
    assertThat(PendingBatches.claimedAtMillis("a.legacy-views." + b36 + "-9f3a").getAsLong())
        .isEqualTo(t);
    assertThat(PendingBatches.claimedAtMillis("garbage")).isEmpty();
  }

  private static void pause(JobScheduler s, Duration d) throws Exception {
    // standby() and start() are what a stop-the-world pause looks like to Quartz.
    var field = JobScheduler.class.getDeclaredField("scheduler");
    field.setAccessible(true);
    Scheduler q = (Scheduler) field.get(s);
    q.standby();
    Thread.sleep(d.toMillis());
    q.start();
  }

  private static void awaitRunning(JobScheduler s, String task) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (!s.running().contains(task)) {
      assertThat(System.nanoTime()).isLessThan(deadline);
      Thread.sleep(5);
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
