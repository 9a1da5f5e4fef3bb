package dev.spillway.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.counter.Counters;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import dev.spillway.worker.WorkerProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * Three workers in cluster mode on one schema, one of them SIGKILLed while traffic flows: the
 * totals end exact, no flush job ever ran on two workers at once (from the workers' own {@code
 * event=job_start} / {@code event=job_end} lines), and the survivors ran every flush job after the
 * kill.
 */
@ExtendWith(ServicesExtension.class)
@ResourceLock(WorkerProcess.CHILD_JVMS)
class ClusteredWorkersTest {
  static final int KEYS = 5_000;
  static final Pattern JOB_EVENT =
      Pattern.compile("ts=(\\S+) .*event=job_(start|end) job=(\\S+) instance=(\\S+)");

  /** One run of one job on one worker; {@code end} is null while it runs. */
  record Run(String job, String instance, Instant start, Instant end) {}

  @Test
  void threeWorkers_oneKilled_exactAndNoJobOverlaps(TestEnv env) throws Exception {
    Path config =
        WorkerProcess.config(
            """
            keys: {stripes: 64}
            flush: {interval: 200ms}
            postgres: {pool-size: 6}
            worker:
              http: {port: 0}
              cluster: true
              cluster-checkin-interval: 1s
              threads: 2
              flush: {groups: 4}
              shutdown-timeout: 10s
              log: {level: DEBUG}
            """);
    // Migrate once first, so that three workers starting together do not race on Flyway.
    try (Spillway migrate = Spillways.builder(env).build()) {
      assertThat(migrate.config().schema()).isEqualTo(env.schema());
    }
    List<WorkerProcess> workers = new ArrayList<>();
    try (Spillway app = Spillways.builder(env).build()) {
      for (int i = 0; i < 3; i++) {
        Map<String, String> vars = WorkerProcess.env(env);
        workers.add(WorkerProcess.start(vars, "worker", "--config", config.toString()));
      }
      for (WorkerProcess w : workers) {
        w.awaitPort(WorkerProcess.START_TIMEOUT);
        w.awaitStatus("/health/ready", 200, WorkerProcess.START_TIMEOUT);
      }

      // doctor sees the cluster: three members checked in.
      WorkerProcess.Result doctor =
          WorkerProcess.run(
              WorkerProcess.START_TIMEOUT,
              WorkerProcess.env(env),
              "doctor",
              "--config",
              config.toString());
      assertThat(
              doctor
                  .output()
                  .lines()
                  .filter(l -> l.contains("quartz.cluster"))
                  .findFirst()
                  .orElse(""))
          .as(doctor.output())
          .startsWith("OK")
          .contains("3 member(s) checked in");

      Counters c = app.counters();
      SplittableRandom rnd = new SplittableRandom(7);
      long sent = 0;
      long start = System.nanoTime();
      Instant killedAt = null;
      WorkerProcess victim = workers.get(1);
      while (System.nanoTime() - start < Duration.ofSeconds(8).toNanos() || killedAt == null) {
        assertThat(System.nanoTime() - start)
            .as("worker 1 ran no job in 30 s, so there is nothing to kill it in the middle of")
            .isLessThan(Duration.ofSeconds(30).toNanos());
        for (int i = 0; i < 2_000; i++) {
          c.increment("hits", Integer.toString(rnd.nextInt(KEYS)));
        }
        sent += 2_000;
        // Killed once it has run a job (the test is about a worker dying with work behind it),
        // and not before 3 s; which jobs Quartz gives it first is up to Quartz.
        if (killedAt == null
            && System.nanoTime() - start > Duration.ofSeconds(3).toNanos()
            && JOB_EVENT.matcher(victim.output()).find()) {
          victim.kill();
          killedAt = Instant.now();
        }
        Thread.sleep(5);
      }
      c.flush();
      long expected = sent;
      long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
      while (env.queryLong("SELECT coalesce(sum(total), 0) FROM counter_totals") != expected) {
        assertThat(System.nanoTime()).as("survivors flush everything in time").isLessThan(deadline);
        Thread.sleep(200);
      }
      // Give every flush job a chance to have run after the takeover window.
      Thread.sleep(1_000);

      assertThat(env.queryLong("SELECT coalesce(sum(total), 0) FROM counter_totals"))
          .isEqualTo(sent);
      assertThat(env.queryLong("SELECT count(*) FROM counter_totals WHERE counter = 'hits'"))
          .isLessThanOrEqualTo(KEYS);

      Map<String, List<Run>> runs = new TreeMap<>();
      Map<String, String> instanceOf = new HashMap<>();
      for (WorkerProcess w : workers) {
        Instant openEnd = w == victim ? killedAt : null;
        parse(w.output(), openEnd, runs, instanceOf, w == victim ? "victim" : "survivor");
      }
      Set<String> flushJobs = new TreeSet<>();
      for (var e : runs.entrySet()) {
        if (e.getKey().startsWith("flush-")) {
          flushJobs.add(e.getKey());
        }
        assertNoOverlap(e.getKey(), e.getValue());
      }
      assertThat(flushJobs)
          .containsExactly("flush-0-16", "flush-16-32", "flush-32-48", "flush-48-64");
      Set<String> instancesThatFlushed = new TreeSet<>();
      for (String job : flushJobs) {
        runs.get(job).forEach(r -> instancesThatFlushed.add(r.instance()));
      }
      assertThat(instancesThatFlushed).as("the work spread over the cluster").hasSizeGreaterThan(1);
      for (String job : flushJobs) {
        Instant k = killedAt;
        assertThat(runs.get(job))
            .as("%s ran on a survivor after the kill", job)
            .anyMatch(r -> "survivor".equals(instanceOf.get(r.instance())) && r.start().isAfter(k));
      }
      long victimRuns =
          runs.values().stream()
              .flatMap(List::stream)
              .filter(r -> "victim".equals(instanceOf.get(r.instance())))
              .count();
      assertThat(victimRuns).as("the killed worker had run jobs").isPositive();

      for (WorkerProcess w : workers) {
        if (w != victim) {
          w.terminate();
          assertThat(w.awaitExit(Duration.ofSeconds(20))).isZero();
        }
      }
      System.out.printf(
          "ClusteredWorkersTest: sent %,d; job runs per instance %s; killed at %s%n",
          sent, countByInstance(runs), killedAt);
    } finally {
      workers.forEach(WorkerProcess::close);
    }
  }

  private static void parse(
      String log,
      Instant openEnd,
      Map<String, List<Run>> runs,
      Map<String, String> instanceOf,
      String role) {
    Map<String, Instant> open = new HashMap<>();
    String instance = null;
    for (String line : log.lines().toList()) {
      Matcher m = JOB_EVENT.matcher(line);
      if (!m.find()) {
        continue;
      }
      Instant ts = Instant.parse(m.group(1));
      String job = m.group(3);
      instance = m.group(4);
      instanceOf.put(instance, role);
      if (m.group(2).equals("start")) {
        assertThat(open.put(job, ts)).as("%s started twice on %s", job, instance).isNull();
      } else {
        Instant s = open.remove(job);
        assertThat(s).as("%s ended on %s without a start", job, instance).isNotNull();
        runs.computeIfAbsent(job, k -> new ArrayList<>()).add(new Run(job, instance, s, ts));
      }
    }
    for (var e : open.entrySet()) {
      // Still running when the log ends: on the killed worker it ran until the kill.
      Instant end = openEnd != null ? openEnd : Instant.now();
      runs.computeIfAbsent(e.getKey(), k -> new ArrayList<>())
          .add(new Run(e.getKey(), instance, e.getValue(), end));
    }
  }

  private static void assertNoOverlap(String job, List<Run> list) {
    List<Run> sorted = new ArrayList<>(list);
    sorted.sort((a, b) -> a.start().compareTo(b.start()));
    for (int i = 1; i < sorted.size(); i++) {
      Run prev = sorted.get(i - 1);
      Run next = sorted.get(i);
      assertThat(next.start())
          .as(
              "%s: run on %s starting %s overlaps run on %s ending %s",
              job, next.instance(), next.start(), prev.instance(), prev.end())
          .isAfterOrEqualTo(prev.end());
    }
  }

  private static Map<String, Long> countByInstance(Map<String, List<Run>> runs) {
    Map<String, Long> out = new TreeMap<>();
    runs.values().stream()
        .flatMap(List::stream)
        .forEach(r -> out.merge(r.instance(), 1L, Long::sum));
    return out;
  }
}
