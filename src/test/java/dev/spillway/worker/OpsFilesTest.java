package dev.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.spillway.ConfigLoader;
import dev.spillway.Durations;
import dev.spillway.SpillwayConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The files in ops/ are part of the product: the example configuration loads as is, the systemd
 * unit gives the worker more time to stop than the worker gives its jobs, the Redis fragment holds
 * the settings doctor checks, and the alert rules and dashboard parse. (That they name only
 * metrics the worker exposes is checked against a live /metrics in {@link WorkerHttpTest}.)
 */
class OpsFilesTest {

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
        .containsPattern("ExecStart=.*spillway\\.jar worker --config /etc/spillway/spillway\\.yaml");
    Matcher m = Pattern.compile("TimeoutStopSec=(\\S+)").matcher(unit);
    assertThat(m.find()).isTrue();
    assertThat(Durations.parse("TimeoutStopSec", m.group(1)))
        .isGreaterThan(example.worker().shutdownTimeout());
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
    JsonNode rules = new YAMLMapper().readTree(Files.readString(Path.of("ops/prometheus/spillway-alerts.yml")));
    JsonNode dashboard = new ObjectMapper().readTree(Files.readString(Path.of("ops/grafana/spillway-dashboard.json")));

    assertThat(rules.path("groups").size()).isPositive();
    for (JsonNode rule : rules.path("groups").get(0).path("rules")) {
      assertThat(rule.path("alert").asText()).startsWith("Spillway");
      assertThat(rule.path("expr").asText()).isNotBlank();
      assertThat(rule.path("labels").path("severity").asText()).isIn("page", "ticket");
      assertThat(rule.path("annotations").path("summary").asText()).isNotBlank();
    }
    assertThat(rules.toString())
        .contains("SpillwayWorkerDown", "SpillwayFlushLagging", "SpillwayDeadLettersGrowing",
            "SpillwayRedisMemoryNearMax");
    assertThat(dashboard.path("panels").size()).isGreaterThan(10);
    assertThat(dashboard.path("uid").asText()).isEqualTo("spillway-workers");
  }
}
