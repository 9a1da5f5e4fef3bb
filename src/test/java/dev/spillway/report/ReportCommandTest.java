package dev.spillway.report;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.cli.Main;
import dev.spillway.testing.JvmProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code spillway report} as an operator types it: outputs in the chosen format (in process), bad
 * arguments exit 2 with one sentence and no stack trace (in a child JVM, as in production).
 */
@ExtendWith(ServicesExtension.class)
class ReportCommandTest {
  @TempDir static Path dir;
  static Path config;

  @BeforeAll
  static void data(TestEnv env) throws IOException {
    config = dir.resolve("spillway.yaml");
    Files.writeString(
        config,
        """
        redis:
          uri: %s
        postgres:
          jdbc-url: %s
          user: %s
          schema: %s
        keys:
          prefix: "%s"
        counters:
          page_views: {buckets: [HOUR, DAY]}
        reporting:
          partitions: {ahead: 2d}
          retention: {page_views: {hour: forever}}   # the data is from March; maintain runs now
        """
            .formatted(
                env.redisUri(), env.jdbcUrl(), env.jdbcUser(), env.schema(), env.keyPrefix()));
    assertThat(cli("migrate", "--config", config.toString(), "--verbose").exit).isZero();
    for (String[] row :
        new String[][] {
          {"p1", "2026-03-28T08:00:00Z", "5"}, {"p1", "2026-03-28T23:00:00Z", "2"},
          {"p2", "2026-03-28T09:00:00Z", "4"}, {"p3", "2026-03-28T12:00:00Z", "9"}
        }) {
      env.exec(
          "INSERT INTO counter_buckets VALUES ('page_views', ?, 'h', ?::timestamptz, ?)",
          row[0],
          row[1],
          Long.parseLong(row[2]));
      env.exec(
          "INSERT INTO counter_buckets VALUES ('page_views', ?, 'd', date_trunc('day',"
              + " ?::timestamptz, 'UTC'), ?) ON CONFLICT (counter, key, granularity, bucket_start)"
              + " DO UPDATE SET value = counter_buckets.value + excluded.value",
          row[0],
          row[1],
          Long.parseLong(row[2]));
      env.exec(
          "INSERT INTO counter_totals (counter, key, total) VALUES ('page_views', ?, ?) ON CONFLICT"
              + " (counter, key) DO UPDATE SET total = counter_totals.total + excluded.total",
          row[0],
          Long.parseLong(row[2]));
    }
  }

  record Run(int exit, String out, String err) {}

  static Run cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int exit = cl.execute(args);
    return new Run(exit, out.toString(), err.toString());
  }

  private static Run report(String... args) {
    String[] all = new String[args.length + 4];
    all[0] = "report";
    System.arraycopy(args, 0, all, 1, args.length);
    all[args.length + 1] = "--config";
    all[args.length + 2] = config.toString();
    all[args.length + 3] = "--verbose"; // keeps the shared JVM's log level as it is
    return cli(all);
  }

  @Test
  void top_csvForABerlinDay() {
    Run r =
        report(
            "top",
            "--counter",
            "page_views",
            "--from",
            "2026-03-28",
            "--to",
            "2026-03-29",
            "--tz",
            "Europe/Berlin",
            "--format",
            "csv");
    assertThat(r.exit).as(r.err).isZero();
    // Berlin Mar 28 = [Mar 27 23:00Z, Mar 28 23:00Z): p1's 23:00Z row is Mar 29 there
    assertThat(r.out).isEqualTo("rank,key,value\n1,p3,9\n2,p1,5\n3,p2,4\n");
  }

  @Test
  void series_jsonAndTable_sameNumbers() {
    // Berlin days come from hour rows: p1's 23:00Z hour belongs to Mar 29 there
    Run json =
        report(
            "series",
            "--counter",
            "page_views",
            "--key",
            "p1",
            "--granularity",
            "day",
            "--from",
            "2026-03-28",
            "--to",
            "2026-03-30",
            "--tz",
            "Europe/Berlin",
            "--format",
            "json");
    assertThat(json.exit).as(json.err).isZero();
    assertThat(json.out)
        .contains("\"value\" : 5")
        .contains("\"value\" : 2")
        .contains("\"source\" : \"hour rows\"");
    Run table =
        report(
            "series",
            "--counter",
            "page_views",
            "--key",
            "p1",
            "--granularity",
            "day",
            "--from",
            "2026-03-28",
            "--to",
            "2026-03-30",
            "--tz",
            "Europe/Berlin");
    assertThat(table.out)
        .contains("2026-03-28T00:00:00+01:00  2026-03-29T00:00:00+01:00      5")
        .contains("2026-03-29T00:00:00+01:00  2026-03-30T00:00:00+02:00      2");
    // in UTC, the day rows: all 7 on Mar 28
    Run utc =
        report(
            "series",
            "--counter",
            "page_views",
            "--key",
            "p1",
            "--granularity",
            "day",
            "--from",
            "2026-03-28",
            "--to",
            "2026-03-30",
            "--format",
            "csv");
    assertThat(utc.out)
        .isEqualTo(
            "bucket_start,bucket_end,value\n"
                + "2026-03-28T00:00:00Z,2026-03-29T00:00:00Z,7\n"
                + "2026-03-29T00:00:00Z,2026-03-30T00:00:00Z,0\n");
  }

  @Test
  void total_allTime_andHtmlToFile() throws IOException {
    Run t = report("total", "--counter", "page_views", "--format", "csv");
    assertThat(t.out).isEqualTo("counter,keys,value\npage_views,3,20\n");
    Path html = dir.resolve("out/top.html");
    Run h =
        report("top", "--counter", "page_views", "--format", "html", "--output", html.toString());
    assertThat(h.exit).as(h.err).isZero();
    assertThat(h.err).contains("wrote 3 row(s) to " + html);
    assertThat(Files.readString(html)).contains("<svg").contains("data-value=\"9\"");
    assertThat(Files.list(html.getParent())).hasSize(1); // no temporary file left behind
  }

  @Test
  void maintain_runsUpkeepRollupRetention() {
    Run m = cli("report", "maintain", "--config", config.toString(), "--verbose");
    assertThat(m.exit).as(m.err).isZero();
    assertThat(m.out)
        .contains("partition upkeep: Result[created=")
        .contains("rollup: Result[")
        .contains("retention: Result[");
  }

  @Test
  void help_listsExamples() {
    Run r = cli("report", "--help");
    assertThat(r.out)
        .contains("Examples:")
        .contains("spillway report top --counter page_views --since 24h");
    assertThat(cli("report", "series", "--help").out)
        .contains("--from 2026-03-01 --to 2026-04-01 --tz Europe/Berlin \\\n");
    for (String sub : new String[] {"top", "series", "total", "maintain"}) {
      assertThat(cli("report", sub, "--help").out.lines())
          .as("report %s --help", sub)
          .allMatch(l -> l.length() <= 80);
    }
  }

  @Test
  void badArguments_exit2WithOneSentence() {
    JvmProcess.Result tz =
        JvmProcess.run(
            Main.class,
            Duration.ofSeconds(60),
            "report",
            "top",
            "--counter",
            "page_views",
            "--since",
            "24h",
            "--tz",
            "+02:00",
            "--config",
            config.toString());
    assertThat(tz.exitCode()).as(tz.output()).isEqualTo(2);
    assertThat(tz.output())
        .contains(
            "spillway: --tz must be a time zone name like Europe/Berlin or"
                + " UTC, not a fixed offset, but was '+02:00'")
        .doesNotContain("\tat ");
    JvmProcess.Result fmt =
        JvmProcess.run(
            Main.class,
            Duration.ofSeconds(60),
            "report",
            "series",
            "--counter",
            "page_views",
            "--since",
            "2 days",
            "--format",
            "xml",
            "--config",
            config.toString());
    assertThat(fmt.exitCode()).as(fmt.output()).isEqualTo(2);
    assertThat(fmt.output())
        .contains("spillway: --format must be one of table, csv, json, html but was 'xml'");
  }
}
