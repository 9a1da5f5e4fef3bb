package dev.spillway.report;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Granularity;
import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ExportSettings.Format;
import dev.spillway.config.ExportSettings.Kind;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.io.StringReader;
import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.xml.parsers.DocumentBuilderFactory;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.InputSource;

/**
 * Increments at fixed event times go through the real client, Redis and the flusher into partitions
 * made by upkeep; then every report, in every format, gives the exact expected numbers (table, CSV
 * and JSON pinned by golden files, the HTML parsed and its numbers checked).
 */
@ExtendWith(ServicesExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReportGoldenTest {
  static final ZoneId BERLIN = ZoneId.of("Europe/Berlin");
  private final ReportFixtures.TestClock clock =
      new ReportFixtures.TestClock("2026-03-27T00:00:00Z");
  private SpillwayConfig config;
  private Reports reports;
  private Spillway sw;

  @BeforeAll
  void flushKnownEvents(TestEnv env) {
    config =
        ReportFixtures.config(
            env,
            b -> b.counter("page_views", Granularity.HOUR, Granularity.DAY).counter("signups"));
    sw = Spillway.builder().config(config).clock(clock).build();
    // Partitions first, as the worker does on its schedule: from Mar 27 to Apr 3.
    PartitionUpkeep.Result upkeep = PartitionUpkeep.run(sw.dataSource(), config, clock);
    assertThat(upkeep.created()).hasSize(7);
    var c = sw.counters();
    c.increment("page_views", "p1", 5, t("2026-03-28T08:15:00Z"));
    c.increment("page_views", "p1", 3, t("2026-03-28T09:40:00Z"));
    c.increment("page_views", "p1", 2, t("2026-03-28T23:30:00Z")); // Berlin: Mar 29, 00:30
    c.increment("page_views", "p1", 7, t("2026-03-29T10:00:00Z"));
    c.increment("page_views", "p2", 4, t("2026-03-28T08:59:59Z"));
    c.increment("page_views", "p2", 1, t("2026-03-29T00:05:00Z"));
    c.increment("page_views", "p3", 10, t("2026-03-28T12:00:00Z"));
    c.increment("page_views", "p3", -1, t("2026-03-28T12:30:00Z"));
    c.increment("page_views", "a,b \"c\"", 6, t("2026-03-28T15:00:00Z"));
    c.increment("signups", "acme", 1_234_567, t("2026-03-28T15:00:00Z"));
    c.flush();
    ReportFixtures.drain(sw);
    clock.set("2026-03-30T06:00:00Z");
    reports = new Reports(sw.dataSource(), config, clock);
  }

  @AfterAll
  void close() {
    sw.close();
  }

  private static Instant t(String iso) {
    return Instant.parse(iso);
  }

  private Report run(Kind kind, String counter, String key, Granularity g, Window w, ZoneId z) {
    return reports.run(
        new ReportRequest(
            kind, counter, Optional.ofNullable(key), Optional.ofNullable(g), w, z, 10));
  }

  @Test
  void flush_normalOperation_nothingInDefaultPartition() {
    assertThat(new PartitionUpkeep(sw.dataSource(), config, clock).defaultPartitionRows()).isZero();
  }

  @Test
  void top_utcDay_goldenInEveryFormat() {
    Report r =
        run(
            Kind.TOP,
            "page_views",
            null,
            null,
            new Window.Between(t("2026-03-28T00:00:00Z"), t("2026-03-29T00:00:00Z")),
            ZoneOffset.UTC);
    assertThat(values(r)).containsExactly(10L, 9L, 6L, 4L);
    ReportFixtures.golden("top-utc-day.txt", ReportRenderer.render(r, Format.TABLE));
    ReportFixtures.golden("top-utc-day.csv", ReportRenderer.render(r, Format.CSV));
    ReportFixtures.golden("top-utc-day.json", ReportRenderer.render(r, Format.JSON));
    checkHtml(r, List.of(10L, 9L, 6L, 4L));
  }

  @Test
  void series_oneKeyHourly_goldenInEveryFormat() {
    Report r =
        run(
            Kind.SERIES,
            "page_views",
            "p1",
            Granularity.HOUR,
            new Window.Between(t("2026-03-28T06:00:00Z"), t("2026-03-28T12:00:00Z")),
            ZoneOffset.UTC);
    assertThat(values(r)).containsExactly(0L, 0L, 5L, 3L, 0L, 0L);
    ReportFixtures.golden("series-p1-hourly.txt", ReportRenderer.render(r, Format.TABLE));
    ReportFixtures.golden("series-p1-hourly.csv", ReportRenderer.render(r, Format.CSV));
    ReportFixtures.golden("series-p1-hourly.json", ReportRenderer.render(r, Format.JSON));
    checkHtml(r, List.of(0L, 0L, 5L, 3L, 0L, 0L));
  }

  @Test
  void series_allKeysDailyInBerlin_readsHoursAndGolden() {
    Report r =
        run(
            Kind.SERIES,
            "page_views",
            null,
            Granularity.DAY,
            new Window.Between(t("2026-03-27T23:00:00Z"), t("2026-03-30T22:00:00Z")),
            BERLIN);
    // Berlin Mar 28 = [27 23:00Z, 28 23:00Z): 5+3+4+10-1+6; Mar 29 (23 h): 2+7+1; Mar 30: 0
    assertThat(values(r)).containsExactly(27L, 10L, 0L);
    assertThat(r.parameters()).containsEntry("source", "hour rows");
    ReportFixtures.golden("series-daily-berlin.txt", ReportRenderer.render(r, Format.TABLE));
    ReportFixtures.golden("series-daily-berlin.csv", ReportRenderer.render(r, Format.CSV));
    ReportFixtures.golden("series-daily-berlin.json", ReportRenderer.render(r, Format.JSON));
    checkHtml(r, List.of(27L, 10L, 0L));
  }

  @Test
  void series_dailyInUtc_readsDayRows() {
    Report r =
        run(
            Kind.SERIES,
            "page_views",
            null,
            Granularity.DAY,
            new Window.Between(t("2026-03-28T00:00:00Z"), t("2026-03-30T00:00:00Z")),
            ZoneOffset.UTC);
    assertThat(r.parameters()).containsEntry("source", "day rows");
    assertThat(values(r)).containsExactly(29L, 8L);
  }

  @Test
  void total_allTimeAndWindow_goldenAndExact() {
    Report all = run(Kind.TOTAL, "page_views", null, null, new Window.AllTime(), ZoneOffset.UTC);
    assertThat(values(all)).containsExactly(37L);
    ReportFixtures.golden("total-all-time.txt", ReportRenderer.render(all, Format.TABLE));
    ReportFixtures.golden("total-all-time.json", ReportRenderer.render(all, Format.JSON));
    checkHtml(all, List.of(37L));
    Report big = run(Kind.TOTAL, "signups", "acme", null, new Window.AllTime(), ZoneOffset.UTC);
    assertThat(ReportRenderer.render(big, Format.TABLE)).contains("1,234,567");
    assertThat(ReportRenderer.render(big, Format.CSV))
        .isEqualTo("counter,key,value\nsignups,acme,1234567\n");
    Report p1 =
        run(
            Kind.TOTAL,
            "page_views",
            "p1",
            null,
            new Window.Since(Duration.ofDays(2)),
            ZoneOffset.UTC);
    // since Mar 28 06:00 (hour rows): all of p1's 17
    assertThat(values(p1)).containsExactly(17L);
  }

  @Test
  void top_since24h_widenedToWholeHoursWithNote() {
    clock.set("2026-03-29T10:30:00Z");
    try {
      Report r =
          run(
              Kind.TOP,
              "page_views",
              null,
              null,
              new Window.Since(Duration.ofHours(24)),
              ZoneOffset.UTC);
      // from 2026-03-28T10:00Z: p3 9, p1 2+7, a,b 6, p2 1
      assertThat(values(r)).containsExactly(9L, 9L, 6L, 1L);
      assertThat(r.rows().get(0).get(1)).isEqualTo("p1"); // ties ordered by key
      assertThat(r.notes()).anyMatch(n -> n.startsWith("window widened to whole hours"));
    } finally {
      clock.set("2026-03-30T06:00:00Z");
    }
  }

  @Test
  void series_counterWithTotalOnly_refusedWithReason() {
    Assertions.assertThatThrownBy(
            () ->
                run(
                    Kind.SERIES,
                    "signups",
                    null,
                    Granularity.HOUR,
                    new Window.Since(Duration.ofHours(3)),
                    ZoneOffset.UTC))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("signups keeps []");
  }

  static List<Long> values(Report r) {
    int vi = r.column("value");
    List<Long> out = new ArrayList<>();
    for (List<Object> row : r.rows()) {
      out.add(((BigInteger) row.get(vi)).longValueExact());
    }
    return out;
  }

  /** Parses the HTML as XML; the table's and the chart's numbers must be the expected ones. */
  static void checkHtml(Report r, List<Long> expected) {
    String html = ReportRenderer.render(r, Format.HTML);
    // Self-contained: nothing fetched (the SVG namespace URI is a name, never fetched).
    assertThat(html.replace("xmlns=\"http://www.w3.org/2000/svg\"", ""))
        .doesNotContain("<script")
        .doesNotContain("http:")
        .doesNotContain("https:")
        .doesNotContain(" src=")
        .doesNotContain(" href=")
        .doesNotContain("<link")
        .doesNotContain("@import")
        .doesNotContain("url(");
    Document doc;
    try {
      var f = DocumentBuilderFactory.newInstance();
      f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", false);
      doc = f.newDocumentBuilder().parse(new InputSource(new StringReader(html)));
    } catch (Exception e) {
      throw new AssertionError(
          "HTML report is not well-formed: " + e.getMessage() + "\n" + html, e);
    }
    NodeList cells = doc.getElementsByTagName("td");
    List<Long> table = new ArrayList<>();
    int perRow = r.columns().size();
    for (int i = 0; i < cells.getLength(); i++) {
      if (i % perRow == r.column("value")) {
        table.add(Long.parseLong(((Element) cells.item(i)).getAttribute("data-value")));
      }
    }
    assertThat(table).as("table values").isEqualTo(expected);
    List<Long> chart = new ArrayList<>();
    NodeList rects = doc.getElementsByTagName("rect");
    for (int i = 0; i < rects.getLength(); i++) {
      chart.add(Long.parseLong(((Element) rects.item(i)).getAttribute("data-value")));
    }
    NodeList texts = doc.getElementsByTagName("text");
    for (int i = 0; i < texts.getLength(); i++) {
      Element e = (Element) texts.item(i);
      if (e.hasAttribute("data-value")) {
        chart.add(Long.parseLong(e.getAttribute("data-value")));
      }
    }
    assertThat(chart).as("chart values").isEqualTo(expected);
    assertThat(doc.getElementsByTagName("svg").getLength()).isEqualTo(1);
  }
}
