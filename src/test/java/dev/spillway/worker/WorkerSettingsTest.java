package dev.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.spillway.ConfigException;
import dev.spillway.config.WorkerSettings;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The worker: section of the YAML file. */
class WorkerSettingsTest {

  private static WorkerSettings parse(String yaml) throws Exception {
    return WorkerSettings.parse(new YAMLMapper().readTree(yaml));
  }

  @Test
  void parse_everyKey() throws Exception {
    WorkerSettings w =
        parse(
            """
            http: {bind: 0.0.0.0, port: 9500}
            cluster: true
            cluster-checkin-interval: 2s
            instance-id: worker-a
            threads: 6
            shutdown-timeout: 45s
            flush: {groups: 8, schedule: "*/2 * * * * ?"}
            ledger: {retention: 14d, prune-schedule: "0 17 * * * ?"}
            dead-letters: {check-schedule: 5m}
            log: {format: json, level: debug}
            """);

    assertThat(w.httpBind()).isEqualTo("0.0.0.0");
    assertThat(w.httpPort()).isEqualTo(9500);
    assertThat(w.cluster()).isTrue();
    assertThat(w.clusterCheckinInterval()).isEqualTo(Duration.ofSeconds(2));
    assertThat(w.instanceId()).isEqualTo("worker-a");
    assertThat(w.threads()).isEqualTo(6);
    assertThat(w.shutdownTimeout()).isEqualTo(Duration.ofSeconds(45));
    assertThat(w.flushGroups()).isEqualTo(8);
    assertThat(w.flushSchedule()).isEqualTo("*/2 * * * * ?");
    assertThat(w.ledgerRetention()).isEqualTo(Duration.ofDays(14));
    assertThat(w.ledgerPruneSchedule()).isEqualTo("0 17 * * * ?");
    assertThat(w.deadLetterCheckSchedule()).isEqualTo("5m");
    assertThat(w.logFormat()).isEqualTo(WorkerSettings.LogFormat.JSON);
    assertThat(w.logLevel()).isEqualTo("DEBUG");
    assertThat(StartupLineTest.parseLogfmt(w.toString()))
        .containsEntry("ledger.prune-schedule", "0 17 * * * ?")
        .containsEntry("flush.schedule", "*/2 * * * * ?")
        .containsEntry("log.format", "json");
  }

  @Test
  void parse_missing_givesDefaults() throws Exception {
    WorkerSettings w = parse("{}");

    assertThat(w).isEqualTo(WorkerSettings.defaults());
    assertThat(w.httpBind()).isEqualTo("127.0.0.1");
    assertThat(w.httpPort()).isEqualTo(9464);
    assertThat(w.ledgerRetention()).isEqualTo(Duration.ofDays(7));
    assertThat(w.flushSchedule()).isNull();
  }

  @Test
  void parse_unknownKey_isRefusedNamingIt() {
    assertThatThrownBy(() -> parse("ledger: {retension: 7d}"))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("worker.ledger.retension is not a known setting");
  }

  @Test
  void parse_retentionBelowAnHour_isRefused() {
    assertThatThrownBy(() -> parse("ledger: {retention: 10m}"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("worker.ledger.retention must be at least 1h but was 10m");
  }

  @Test
  void parse_badSchedule_isRefusedWithAnExample() {
    assertThatThrownBy(() -> parse("dead-letters: {check-schedule: every minute}"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(
            "worker.dead-letters.check-schedule must be an interval like 30s or 1h,"
                + " or a Quartz cron expression like \"0 17 * * * ?\"")
        .hasMessageEndingWith("but was 'every minute'");
  }

  @Test
  void parse_badValues_areRefusedNamingTheKey() {
    assertThatThrownBy(() -> parse("http: {port: 70000}"))
        .hasMessage("worker.http.port must be between 0 and 65535 but was 70000");
    assertThatThrownBy(() -> parse("threads: 0"))
        .hasMessage("worker.threads must be between 1 and 64 but was 0");
    assertThatThrownBy(() -> parse("log: {format: xml}"))
        .hasMessage("worker.log.format must be one of [KEYVALUE, JSON] but was 'xml'");
    assertThatThrownBy(() -> parse("log: {level: chatty}"))
        .hasMessage(
            "worker.log.level must be one of [TRACE, DEBUG, INFO, WARN, ERROR] but was 'CHATTY'");
    assertThatThrownBy(() -> parse("instance-id: 'a b'"))
        .hasMessageStartingWith("worker.instance-id must match");
    assertThatThrownBy(() -> parse("cluster: yes please"))
        .hasMessageStartingWith("worker.cluster must be true or false");
  }
}
