package dev.spillway.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ExportSettings;
import dev.spillway.config.ReportSettings;
import dev.spillway.config.RetentionPeriod;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The rules that decide what each level's expired rows become and which rows a report reads. */
class BucketPolicyTest {
  private static final Instant NOW = Instant.parse("2026-03-30T06:17:00Z");

  private static BucketPolicy policy() {
    ReportSettings r =
        ReportSettings.defaults()
            // minute-only counter with hour and day filled by the rollup
            .withRetention("rolled", Granularity.MINUTE, RetentionPeriod.of(Duration.ofDays(1)))
            .withRetention("rolled", Granularity.HOUR, RetentionPeriod.of(Duration.ofDays(30)))
            .withRetention("rolled", Granularity.DAY, RetentionPeriod.FOREVER)
            // minute and day written, hour in between rolled up
            .withRetention("gap", Granularity.HOUR, RetentionPeriod.of(Duration.ofDays(10)));
    SpillwayConfig c =
        SpillwayConfig.builder()
            .counter("written", Granularity.MINUTE, Granularity.HOUR, Granularity.DAY)
            .counter("rolled", Granularity.MINUTE)
            .counter("gap", Granularity.MINUTE, Granularity.DAY)
            .counter("totals")
            .reporting(r)
            .build();
    return BucketPolicy.of(c);
  }

  @Test
  void fate_flusherWritesCoarser_discardNotMove() {
    CounterLevels w = policy().configured("written").orElseThrow();
    assertThat(w.fate(Granularity.MINUTE)).isEqualTo(CounterLevels.Fate.DISCARD);
    assertThat(w.fate(Granularity.HOUR)).isEqualTo(CounterLevels.Fate.DISCARD);
    assertThat(w.fate(Granularity.DAY)).isEqualTo(CounterLevels.Fate.KEEP);
    assertThat(w.describe())
        .isEqualTo("writes [MINUTE, HOUR, DAY]; keeps minute 2d, hour 90d, day forever");
  }

  @Test
  void fate_rolledUpCoarser_move() {
    CounterLevels r = policy().configured("rolled").orElseThrow();
    assertThat(r.fate(Granularity.MINUTE)).isEqualTo(CounterLevels.Fate.MOVE_UP);
    assertThat(r.fate(Granularity.HOUR)).isEqualTo(CounterLevels.Fate.MOVE_UP);
    assertThat(r.fate(Granularity.DAY)).isEqualTo(CounterLevels.Fate.KEEP);
    assertThat(r.describe()).startsWith("writes [MINUTE]; rolls up into [HOUR, DAY]");
    CounterLevels g = policy().configured("gap").orElseThrow();
    assertThat(g.fate(Granularity.MINUTE)).isEqualTo(CounterLevels.Fate.MOVE_UP);
    assertThat(g.fate(Granularity.HOUR)).isEqualTo(CounterLevels.Fate.DISCARD);
  }

  @Test
  void horizon_roundedDownToTargetBucket() {
    CounterLevels r = policy().configured("rolled").orElseThrow();
    // minute rows move into hours: whole hours only
    assertThat(r.horizon(Granularity.MINUTE, NOW)).contains(Instant.parse("2026-03-29T06:00:00Z"));
    // hour rows move into days: whole UTC days only
    assertThat(r.horizon(Granularity.HOUR, NOW)).contains(Instant.parse("2026-02-28T00:00:00Z"));
    assertThat(r.horizon(Granularity.DAY, NOW)).isEmpty();
  }

  @Test
  void sources_writtenLevelAlone_rolledLevelWithFinerDownToWritten() {
    BucketPolicy p = policy();
    assertThat(p.configured("written").orElseThrow().sources(Granularity.DAY))
        .containsExactly(Granularity.DAY);
    assertThat(p.configured("rolled").orElseThrow().sources(Granularity.DAY))
        .containsExactly(Granularity.DAY, Granularity.HOUR, Granularity.MINUTE);
    assertThat(p.configured("gap").orElseThrow().sources(Granularity.HOUR))
        .containsExactly(Granularity.HOUR, Granularity.MINUTE);
    assertThat(p.configured("gap").orElseThrow().sources(Granularity.DAY))
        .containsExactly(Granularity.DAY);
    assertThatThrownBy(() -> p.configured("totals").orElseThrow().sources(Granularity.DAY))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("counter totals keeps [] buckets, none as fine as DAY");
  }

  @Test
  void assumed_unknownCounter_flushLevelsWithDefaults() {
    CounterLevels a = policy().assumed("legacy", Set.of(Granularity.HOUR));
    assertThat(a.configured()).isFalse();
    assertThat(a.levels())
        .extracting(CounterLevels.Level::source)
        .containsOnly(CounterLevels.Source.FLUSH);
    assertThat(a.level(Granularity.HOUR).orElseThrow().retention())
        .isEqualTo(RetentionPeriod.of(Duration.ofDays(90)));
  }

  @Test
  void aligned_berlinDaysOnHours_kolkataOnMinutes() {
    ZoneId berlin = ZoneId.of("Europe/Berlin");
    List<ZonedDateTime> days =
        Buckets.of(
            Granularity.DAY,
            berlin,
            Instant.parse("2026-03-28T12:00:00Z"),
            Instant.parse("2026-03-30T12:00:00Z"));
    assertThat(days).hasSize(4);
    assertThat(Buckets.aligned(Granularity.DAY, days)).isEqualTo(Granularity.HOUR);
    List<ZonedDateTime> utc =
        Buckets.of(
            Granularity.DAY,
            ZoneOffset.UTC,
            Instant.parse("2026-03-28T12:00:00Z"),
            Instant.parse("2026-03-30T12:00:00Z"));
    assertThat(Buckets.aligned(Granularity.DAY, utc)).isEqualTo(Granularity.DAY);
    List<ZonedDateTime> kolkata =
        Buckets.of(
            Granularity.HOUR,
            ZoneId.of("Asia/Kolkata"),
            Instant.parse("2026-03-28T12:00:00Z"),
            Instant.parse("2026-03-28T15:00:00Z"));
    assertThat(Buckets.aligned(Granularity.HOUR, kolkata)).isEqualTo(Granularity.MINUTE);
  }

  @Test
  void auto_granularityFromWindowLength() {
    assertThat(Buckets.auto(Duration.ofHours(2))).isEqualTo(Granularity.MINUTE);
    assertThat(Buckets.auto(Duration.ofHours(24))).isEqualTo(Granularity.HOUR);
    assertThat(Buckets.auto(Duration.ofDays(7))).isEqualTo(Granularity.HOUR);
    assertThat(Buckets.auto(Duration.ofDays(30))).isEqualTo(Granularity.DAY);
  }

  @Test
  void previousPeriod_dstDayInBerlin_23Hours() {
    var w =
        Window.previous(
            ExportSettings.Period.DAY,
            ZoneId.of("Europe/Berlin"),
            Instant.parse("2026-03-30T05:00:00Z"));
    assertThat(w.from()).isEqualTo(Instant.parse("2026-03-28T23:00:00Z"));
    assertThat(w.to()).isEqualTo(Instant.parse("2026-03-29T22:00:00Z"));
    assertThat(
            ReportExport.label(
                ExportSettings.Period.DAY, w.from().atZone(ZoneId.of("Europe/Berlin"))))
        .isEqualTo("2026-03-29");
    var week =
        Window.previous(
            ExportSettings.Period.WEEK,
            ZoneId.of("Europe/Berlin"),
            Instant.parse("2026-03-30T05:00:00Z"));
    assertThat(
            ReportExport.label(
                ExportSettings.Period.WEEK, week.from().atZone(ZoneId.of("Europe/Berlin"))))
        .isEqualTo("2026-W13");
  }
}
