package dev.spillway.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.ConfigException;
import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ConfigLoader;
import dev.spillway.config.ExportSettings;
import dev.spillway.config.ReportSettings;
import dev.spillway.config.RetentionPeriod;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneId;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code reporting:} section: every key parsed, every mistake refused with key, rule, value.
 */
class ReportSettingsTest {
  @TempDir Path dir;

  private SpillwayConfig load(String yaml) throws IOException {
    Path p = dir.resolve("spillway.yaml");
    Files.writeString(p, yaml);
    return ConfigLoader.load(p, Map.of());
  }

  @Test
  void parse_missingSection_defaults() throws IOException {
    ReportSettings r = load("counters:\n  page_views: {buckets: [HOUR]}\n").reporting();
    assertThat(r.defaultRetention())
        .containsEntry(Granularity.MINUTE, RetentionPeriod.of(Duration.ofDays(2)))
        .containsEntry(Granularity.HOUR, RetentionPeriod.of(Duration.ofDays(90)))
        .containsEntry(Granularity.DAY, RetentionPeriod.FOREVER);
    assertThat(r.partitionInterval()).isEqualTo(ReportSettings.PartitionInterval.DAY);
    assertThat(r.partitionsAhead()).isEqualTo(Duration.ofDays(7));
    assertThat(r.upkeepCron()).contains("0 5 * * * ?");
    assertThat(r.rollupCron()).contains("0 15 * * * ?");
    assertThat(r.retentionCron()).contains("0 30 3 * * ?");
    assertThat(r.exports()).isEmpty();
  }

  @Test
  void parse_fullSection() throws IOException {
    ReportSettings r =
        load("""
        counters:
          page_views: {buckets: [MINUTE]}
        reporting:
          lock-timeout: 2s
          partitions: {interval: month, ahead: 40d}
          schedule:
            partition-upkeep: "0 0 * * * ?"
            rollup: "0 10 * * * ?"
            retention: off
          default-retention: {minute: 1d, hour: 30d, day: 1825d}
          retention:
            page_views: {minute: 3h, hour: 7d, day: forever}
          exports:
            top-daily:
              cron: "0 5 0 * * ?"
              report: top
              counter: page_views
              limit: 100
              period: day
              tz: Europe/Berlin
              format: csv
              directory: /tmp/exports
        """)
            .reporting();
    assertThat(r.lockTimeout()).isEqualTo(Duration.ofSeconds(2));
    assertThat(r.partitionInterval()).isEqualTo(ReportSettings.PartitionInterval.MONTH);
    assertThat(r.partitionsAhead()).isEqualTo(Duration.ofDays(40));
    assertThat(r.retentionCron()).isEmpty();
    assertThat(r.retentionOf("page_views", Granularity.MINUTE))
        .isEqualTo(RetentionPeriod.of(Duration.ofHours(3)));
    assertThat(r.retentionOf("page_views", Granularity.DAY)).isEqualTo(RetentionPeriod.FOREVER);
    assertThat(r.retentionOf("other", Granularity.DAY))
        .isEqualTo(RetentionPeriod.of(Duration.ofDays(1825)));
    ExportSettings e = r.exports().get("top-daily");
    assertThat(e.kind()).isEqualTo(ExportSettings.Kind.TOP);
    assertThat(e.limit()).isEqualTo(100);
    assertThat(e.zone()).isEqualTo(ZoneId.of("Europe/Berlin"));
    assertThat(e.format()).isEqualTo(ExportSettings.Format.CSV);
    assertThat(e.directory()).isEqualTo(Path.of("/tmp/exports"));
  }

  @Test
  void parse_mistakes_refusedNamingKeyRuleAndValue() {
    assertRefused("reporting:\n  retension: {}\n", "reporting.retension is not a known setting");
    assertRefused(
        "reporting:\n  schedule: {rollup: \"every hour\"}\n",
        "reporting.schedule.rollup must be a Quartz cron expression");
    assertRefused(
        "reporting:\n  default-retention: {minute: 2 days}\n",
        "reporting.default-retention.minute must be a duration like 2d, 90d, 1825d or the word"
            + " forever but was '2 days'");
    assertRefused(
        "reporting:\n  default-retention: {minute: 10m}\n",
        "reporting.default-retention.minute must be at least 1h");
    assertRefused(
        "reporting:\n  retention: {pv: {minute: 10d, hour: 2d}}\n",
        "reporting.retention.pv.hour (2d) must be at least as long as reporting.retention.pv.minute"
            + " (10d)");
    assertRefused(
        "reporting:\n  partitions: {interval: week}\n",
        "reporting.partitions.interval must be one of [DAY, MONTH] but was 'week'");
    assertRefused(
        "reporting:\n  exports:\n    x: {cron: \"0 0 0 * * ?\", report: top, counter: pv,"
            + " tz: \"+02:00\", directory: /tmp}\n",
        "reporting.exports.x.tz must be a time zone name like Europe/Berlin or UTC, not a fixed"
            + " offset");
    assertRefused(
        "reporting:\n  exports:\n    x: {cron: \"0 0 0 * * ?\", report: series, counter: pv,"
            + " directory: /tmp}\n",
        "reporting.exports.x.granularity must be set for report: series");
    assertRefused(
        "reporting:\n  exports:\n    Bad: {cron: \"0 0 0 * * ?\", report: top, counter: pv,"
            + " directory: /tmp}\n",
        "export name 'Bad' must match");
  }

  @Test
  void policy_retentionOfUnknownCounter_refused() throws IOException {
    SpillwayConfig c = load("reporting:\n  retention: {pv: {hour: 30d}}\n");
    assertThatThrownBy(() -> BucketPolicy.of(c))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(
            "reporting.retention.pv names a counter that counters: does not define");
  }

  @Test
  void policy_rolledUpLevelFinerThanWritten_refused() throws IOException {
    SpillwayConfig c =
        load("counters:\n  pv: {buckets: [HOUR]}\nreporting:\n  retention: {pv: {minute: 1d}}\n");
    assertThatThrownBy(() -> BucketPolicy.of(c))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("pv does not write MINUTE buckets")
        .hasMessageContaining("a rolled-up level must be coarser than one the counter writes");
  }

  @Test
  void policy_defaultsMakeCoarserExpireFirst_refused() throws IOException {
    // hour falls back to the default 90d, shorter than the minute retention given here
    SpillwayConfig c =
        load(
            "counters:\n"
                + "  pv: {buckets: [MINUTE, HOUR]}\n"
                + "reporting:\n"
                + "  retention: {pv: {minute: 100d}}\n");
    assertThatThrownBy(() -> BucketPolicy.of(c))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("reporting.retention.pv.hour (90d")
        .hasMessageContaining("must be at least as long as minute (100d)");
  }

  private void assertRefused(String yaml, String message) {
    assertThatThrownBy(() -> load(yaml))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(message);
  }
}
