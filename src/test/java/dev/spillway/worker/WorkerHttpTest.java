package dev.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.spillway.Spillway;
import dev.spillway.counter.Counters;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * The worker as an operator runs it: a child JVM loading {@code ops/spillway.yaml} as is (servers,
 * schema and prefix from the environment, as in production), then traffic from an embedded client
 * in this JVM, flushed by the worker; {@code /metrics} must agree with what PostgreSQL holds, and
 * every metric the ops/ alert rules and dashboard use must be there.
 */
@ExtendWith(ServicesExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@ResourceLock(WorkerProcess.CHILD_JVMS)
class WorkerHttpTest {
  static final Path EXAMPLE = Path.of("ops/spillway.yaml");
  static final int KEYS = 2_000;
  static final int ROUNDS = 50;

  private WorkerProcess worker;
  private TestEnv env;

  @BeforeAll
  void start(TestEnv env) {
    this.env = env;
    Map<String, String> vars = WorkerProcess.env(env);
    vars.put("SPILLWAY_STRIPES", "64");
    long t0 = System.nanoTime();
    worker =
        WorkerProcess.start(vars, "worker", "--config", EXAMPLE.toString(), "--http-port", "0");
    worker.awaitPort(WorkerProcess.START_TIMEOUT);
    worker.awaitStatus("/health/ready", 200, WorkerProcess.START_TIMEOUT);
    System.out.printf(
        "WorkerHttpTest: worker (%s) ready %d ms after launch%n",
        System.getProperty("spillway.jar") == null
            ? "test class path"
            : System.getProperty("spillway.jar"),
        (System.nanoTime() - t0) / 1_000_000);
  }

  @AfterAll
  void stop() {
    if (worker != null) {
      worker.terminate();
      worker.awaitExit(Duration.ofSeconds(40));
      worker.close();
    }
  }

  @Test
  @Order(1)
  void healthReady_allChecksUp() throws Exception {
    WorkerProcess.HttpResult r = worker.get("/health/ready");

    assertThat(r.status()).isEqualTo(200);
    JsonNode json = new ObjectMapper().readTree(r.body());
    assertThat(json.path("status").asText()).isEqualTo("UP");
    for (String check : new String[] {"redis", "postgres", "scheduler"}) {
      assertThat(json.path("checks").path(check).path("status").asText()).as(check).isEqualTo("UP");
    }
    assertThat(worker.get("/health/live").status()).isEqualTo(200);
    assertThat(worker.get("/nope").status()).isEqualTo(404);
    assertThat(worker.output())
        .as("effective configuration logged once, secrets masked")
        .containsOnlyOnce("event=started client=spillway")
        .contains("postgres.password=");
    String started =
        worker
            .output()
            .lines()
            .filter(l -> l.contains(" event=started "))
            .findFirst()
            .orElseThrow();
    assertThat(StartupLineTest.parseLogfmt(started))
        .as("the start-up line reads back as logfmt")
        .containsEntry("worker.ledger.prune-schedule", "1h")
        .containsEntry("keys.stripes", "64");
    if (env.jdbcPassword() != null && !env.jdbcPassword().isEmpty()) {
      assertThat(worker.output()).doesNotContain(env.jdbcPassword());
    }
  }

  @Test
  @Order(2)
  void metrics_afterTraffic_matchWhatPostgresHolds() {
    long sent = 0;
    try (Spillway app = Spillways.builder(env).build()) {
      Counters c = app.counters();
      for (int round = 0; round < ROUNDS; round++) {
        for (int k = 0; k < KEYS; k++) {
          c.increment("page_views", Integer.toString(k), 1 + (k % 3));
          sent += 1 + (k % 3);
        }
      }
      c.flush();
    }
    long expected = sent;
    awaitTrue(
        () -> env.queryLong("SELECT coalesce(sum(total), 0) FROM counter_totals") == expected,
        Duration.ofSeconds(30),
        "PostgreSQL totals reach " + expected);
    assertThat(env.queryLong("SELECT count(*) FROM counter_totals")).isEqualTo(KEYS);

    long ledgerBatches = env.queryLong("SELECT count(*) FROM flush_ledger");
    long ledgerCells = env.queryLong("SELECT coalesce(sum(cells), 0) FROM flush_ledger");
    awaitTrue(
        () -> metrics().sum("spillway_flush_batches_total", "outcome=\"applied\"") == ledgerBatches,
        Duration.ofSeconds(10),
        "applied batches in /metrics equal flush_ledger rows " + ledgerBatches);
    PrometheusText m = metrics();
    assertThat(m.sum("spillway_flush_batches_total", "outcome=\"failed\"")).isZero();
    assertThat(m.sum("spillway_flush_batches_total", "outcome=\"claimed\""))
        .isGreaterThanOrEqualTo(ledgerBatches);
    // One upserted row per distinct (counter, key) in each transaction; batches of one stripe
    // applied together merge their cells, so rows lie between the keys and the ledger's cells.
    assertThat(m.sum("spillway_flush_rows_upserted_total", ""))
        .isBetween((double) KEYS, (double) ledgerCells);
    assertThat(m.sum("spillway_flush_dead_letters_total", "")).isZero();
    assertThat(m.sum("spillway_flush_duration_seconds_count", "")).isPositive();
    assertThat(m.sum("spillway_flush_oldest_batch_age_seconds", "")).isLessThan(60);
    assertThat(m.sum("spillway_dead_letters_waiting", "")).isZero();
    assertThat(m.sum("spillway_job_runs_total", "outcome=\"ok\",task=\"flush-0-16\"")).isPositive();
    // The worker's own embedded client sends nothing: its meters exist and read zero.
    assertThat(m.sum("spillway_client_increments_accepted_total", "")).isZero();
    assertThat(m.sum("spillway_client_cells_drained_total", "")).isZero();
    assertThat(m.sum("spillway_redis_memory_used_bytes", "")).isPositive();
    assertThat(m.names())
        .contains(
            "jvm_memory_used_bytes",
            "process_cpu_usage",
            "hikaricp_connections_active",
            "lettuce_command_completion_seconds_count");
    System.out.printf(
        "WorkerHttpTest: sent %,d in %,d increments; ledger %d batches / %d cells; rows upserted"
            + " %.0f%n",
        sent,
        (long) KEYS * ROUNDS,
        ledgerBatches,
        ledgerCells,
        m.sum("spillway_flush_rows_upserted_total", ""));
  }

  @Test
  @Order(3)
  void opsFiles_nameOnlyMetricsTheWorkerExposes() throws Exception {
    Set<String> exposed = metrics().names();
    Set<String> used = new TreeSet<>();
    JsonNode alerts =
        new YAMLMapper().readTree(Files.readString(Path.of("ops/prometheus/spillway-alerts.yml")));
    for (JsonNode group : alerts.path("groups")) {
      for (JsonNode rule : group.path("rules")) {
        used.addAll(metricNames(rule.path("expr").asText()));
      }
    }
    JsonNode dashboard =
        new ObjectMapper()
            .readTree(Files.readString(Path.of("ops/grafana/spillway-dashboard.json")));
    for (JsonNode panel : dashboard.path("panels")) {
      for (JsonNode target : panel.path("targets")) {
        used.addAll(metricNames(target.path("expr").asText()));
      }
    }
    used.addAll(
        metricNames(dashboard.path("templating").path("list").get(0).path("query").asText()));
    used.remove("up"); // recorded by Prometheus for every target, not exposed by one

    assertThat(used).hasSizeGreaterThan(15);
    assertThat(exposed).containsAll(used);
  }

  @Test
  @Order(4)
  void metrics_passPromtoolCheckMetrics() throws Exception {
    Path promtool = ExternalTool.find("promtool").orElse(null);
    assumeTrue(promtool != null, "promtool is not installed (Debian: apt-get install prometheus)");
    WorkerProcess.HttpResult r = worker.get("/metrics");
    assertThat(r.status()).isEqualTo(200);

    ExternalTool.Result check =
        ExternalTool.run(
            Duration.ofSeconds(30),
            Map.of(),
            r.body(),
            List.of(promtool.toString(), "check", "metrics"));

    assertThat(check.exitCode()).as("promtool check metrics said:%n%s", check.output()).isZero();
    assertThat(r.body())
        .as("no meter tag that Prometheus would rename to exported_job or exported_instance")
        .doesNotContainPattern("[{,](job|instance)=\"");
  }

  private static final Pattern METRIC =
      Pattern.compile("\\b((?:spillway|hikaricp|lettuce|jvm|process|up)[a-z0-9_]*)\\b(?![\"(])");

  /** Metric names in a PromQL expression (label values and function names excluded). */
  static Set<String> metricNames(String promql) {
    String withoutStrings = promql.replaceAll("\"[^\"]*\"", "\"\"");
    Set<String> out = new TreeSet<>();
    Matcher m = METRIC.matcher(withoutStrings);
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }

  private PrometheusText metrics() {
    WorkerProcess.HttpResult r = worker.get("/metrics");
    assertThat(r.status()).isEqualTo(200);
    return PrometheusText.parse(r.body());
  }

  static void awaitTrue(BooleanSupplier condition, Duration timeout, String what) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + timeout + " waiting until " + what);
      }
      WorkerProcess.sleep(100);
    }
  }
}
