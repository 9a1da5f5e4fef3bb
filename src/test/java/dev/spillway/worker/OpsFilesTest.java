package dev.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ConfigLoader;
import dev.spillway.config.Durations;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The files in ops/ are part of the product: the example configuration loads as is, the systemd
 * unit gives the worker more time to stop than the worker gives its jobs, the Redis fragment holds
 * the settings doctor checks, and the alert rules and dashboard parse. Where the tools are
 * installed, the files also pass them: {@code promtool check rules} and {@code systemd-analyze
 * verify} (the tests skip elsewhere). That the rules and dashboard name only metrics the worker
 * exposes, and that its /metrics passes {@code promtool check metrics}, is checked against a live
 * worker in {@link WorkerHttpTest}.
 */
class OpsFilesTest {
  static final Path UNIT = Path.of("ops/systemd/spillway-worker.service");
  static final Path JAVA_WRAPPER = Path.of("ops/systemd/spillway-java");
  static final Path ALERTS = Path.of("ops/prometheus/spillway-alerts.yml");

  @Test
  void exampleConfig_loadsAsIs() {
    SpillwayConfig c = ConfigLoader.load(Path.of("ops/spillway.yaml"), Map.of());

    assertThat(c.worker().httpBind()).isEqualTo("127.0.0.1");
    assertThat(c.worker().httpPort()).isEqualTo(9464);
    assertThat(c.worker().ledgerRetention()).isEqualTo(Duration.ofDays(7));
    assertThat(c.poolSize()).isGreaterThanOrEqualTo(c.worker().threads() + 3);
    assertThat(c.counters()).containsKey("page_views");
  }

  @Test
  void systemdUnit_stopsWithSigtermAndWaitsLongerThanTheWorker() throws Exception {
    String unit = Files.readString(Path.of("ops/systemd/spillway-worker.service"));
    SpillwayConfig example = ConfigLoader.load(Path.of("ops/spillway.yaml"), Map.of());

    assertThat(unit)
        .contains("KillSignal=SIGTERM")
        .contains("Restart=on-failure")
        .contains("NoNewPrivileges=true")
        .contains("ProtectSystem=strict")
        .containsPattern(
            "ExecStart=.*spillway\\.jar worker --config /etc/spillway/spillway\\.yaml");
    Matcher m = Pattern.compile("TimeoutStopSec=(\\S+)").matcher(unit);
    assertThat(m.find()).isTrue();
    assertThat(Durations.parse("TimeoutStopSec", m.group(1)))
        .isGreaterThan(example.worker().shutdownTimeout());
  }

  @Test
  void systemdUnit_passesSystemdAnalyzeVerify() throws Exception {
    Path analyze = ExternalTool.find("systemd-analyze").orElse(null);
    assumeTrue(analyze != null, "systemd-analyze is not installed");
    // verify checks that ExecStart's program exists: point it at the wrapper in this tree.
    Path dir = Files.createTempDirectory("spillway-unit-");
    Path unit = dir.resolve("spillway-worker.service");
    Files.writeString(
        unit,
        Files.readString(UNIT)
            .replace("/opt/spillway/bin/spillway-java", JAVA_WRAPPER.toAbsolutePath().toString()));
    try {
      ExternalTool.Result verify =
          ExternalTool.run(
              Duration.ofSeconds(60),
              Map.of("SYSTEMD_LOG_COLOR", "0"),
              null,
              List.of(analyze.toString(), "verify", unit.toString()));

      assertThat(verify.exitCode())
          .as("systemd-analyze verify said:%n%s", verify.output())
          .isZero();
      assertThat(verify.output()).as("warnings from systemd-analyze verify").isBlank();
    } finally {
      Files.delete(unit);
      Files.delete(dir);
    }
  }

  @Test
  void systemdUnit_runsJava21WithOomExitAndAWritableStateDirectory() throws Exception {
    String unit = Files.readString(UNIT);
    String unitSection = unit.substring(unit.indexOf("[Unit]"), unit.indexOf("[Service]"));

    assertThat(unit)
        .containsPattern(
            "(?m)^ExecStart=/opt/spillway/bin/spillway-java -XX:\\+ExitOnOutOfMemoryError"
                + " \\$JAVA_OPTS -jar ")
        .containsPattern("(?m)^StateDirectory=spillway$")
        .doesNotContainPattern("(?m)^ExecStart=/usr/bin/java");
    assertThat(unitSection).contains("StartLimitIntervalSec=", "StartLimitBurst=");
  }

  @Test
  void javaWrapper_runsAJava21OrNewer() throws Exception {
    String thisJava = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    ExternalTool.Result r =
        ExternalTool.run(
            Duration.ofSeconds(60),
            Map.of("JAVA", thisJava),
            null,
            List.of(JAVA_WRAPPER.toString(), "-XX:+ExitOnOutOfMemoryError", "-version"));

    assertThat(r.exitCode()).as(r.output()).isZero();
    assertThat(r.output()).contains("version \"" + Runtime.version().feature());
  }

  @Test
  void javaWrapper_java17_refusesInOneSentence() throws Exception {
    Path dir = Files.createTempDirectory("spillway-java17-");
    Path java17 = dir.resolve("java");
    Files.writeString(java17, "#!/bin/sh\necho 'openjdk version \"17.0.15\" 2025-04-15' >&2\n");
    Files.setPosixFilePermissions(java17, PosixFilePermissions.fromString("rwx------"));
    try {
      ExternalTool.Result r =
          ExternalTool.run(
              Duration.ofSeconds(60),
              Map.of("JAVA", java17.toString()),
              null,
              List.of(JAVA_WRAPPER.toString(), "-version"));

      assertThat(r.exitCode()).isEqualTo(1);
      assertThat(r.output().strip())
          .isEqualTo(
              "spillway-java: Spillway needs Java 21 or newer; set JAVA or JAVA_HOME in"
                  + " /etc/spillway/spillway.env (found: "
                  + java17
                  + " (17))");
    } finally {
      Files.delete(java17);
      Files.delete(dir);
    }
  }

  @Test
  void alertRules_passPromtoolCheckRules() throws Exception {
    Path promtool = ExternalTool.find("promtool").orElse(null);
    assumeTrue(promtool != null, "promtool is not installed (Debian: apt-get install prometheus)");

    ExternalTool.Result check =
        ExternalTool.run(
            Duration.ofSeconds(60),
            Map.of(),
            null,
            List.of(promtool.toString(), "check", "rules", ALERTS.toString()));

    assertThat(check.exitCode()).as("promtool check rules said:%n%s", check.output()).isZero();
    assertThat(check.output()).contains("SUCCESS");
  }

  @Test
  void alertRulesAndDashboard_groupJobsByTaskNotByPrometheusLabels() throws Exception {
    JsonNode rules = new YAMLMapper().readTree(Files.readString(ALERTS));
    String dashboard = Files.readString(Path.of("ops/grafana/spillway-dashboard.json"));
    JsonNode jobFailing = null;
    for (JsonNode rule : rules.path("groups").get(0).path("rules")) {
      if (rule.path("alert").asText().equals("SpillwayJobFailing")) {
        jobFailing = rule;
      }
      // job is Prometheus's scrape job: only `up` may be selected by it.
      assertThat(rule.path("expr").asText().replace("up{job=\"spillway-worker\"}", ""))
          .as(rule.path("alert").asText())
          .doesNotContainPattern("\\bjob\\b");
    }
    assertThat(jobFailing).isNotNull();
    assertThat(jobFailing.path("annotations").path("summary").asText()).contains("$labels.task");
    assertThat(dashboard)
        .contains("sum by (task)", "{{task}}")
        .doesNotContain("{{job}}")
        .doesNotContainPattern("by \\([^)]*\\bjob\\b");
  }

  @Test
  void redisFragment_setsWhatDoctorChecks() throws Exception {
    String conf = Files.readString(Path.of("ops/redis/spillway-counters.conf"));

    assertThat(conf)
        .containsPattern("(?m)^maxmemory-policy noeviction$")
        .containsPattern("(?m)^appendonly yes$")
        .containsPattern("(?m)^appendfsync everysec$");
  }

  @Test
  void alertRulesAndDashboard_parse() throws Exception {
    JsonNode rules =
        new YAMLMapper().readTree(Files.readString(Path.of("ops/prometheus/spillway-alerts.yml")));
    JsonNode dashboard =
        new ObjectMapper()
            .readTree(Files.readString(Path.of("ops/grafana/spillway-dashboard.json")));

    assertThat(rules.path("groups").size()).isPositive();
    for (JsonNode rule : rules.path("groups").get(0).path("rules")) {
      assertThat(rule.path("alert").asText()).startsWith("Spillway");
      assertThat(rule.path("expr").asText()).isNotBlank();
      assertThat(rule.path("labels").path("severity").asText()).isIn("page", "ticket");
      assertThat(rule.path("annotations").path("summary").asText()).isNotBlank();
    }
    assertThat(rules.toString())
        .contains(
            "SpillwayWorkerDown",
            "SpillwayFlushLagging",
            "SpillwayDeadLettersGrowing",
            "SpillwayRedisMemoryNearMax");
    assertThat(dashboard.path("panels").size()).isGreaterThan(10);
    assertThat(dashboard.path("uid").asText()).isEqualTo("spillway-workers");
  }
}
