package dev.spillway.cli;

import dev.spillway.ConfigException;
import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.Durations;
import dev.spillway.config.ExportSettings.Format;
import dev.spillway.config.ExportSettings.Kind;
import dev.spillway.config.ReportSettings;
import dev.spillway.report.PartitionUpkeep;
import dev.spillway.report.Report;
import dev.spillway.report.ReportExport;
import dev.spillway.report.ReportRenderer;
import dev.spillway.report.ReportRequest;
import dev.spillway.report.Reports;
import dev.spillway.report.Retention;
import dev.spillway.report.Rollup;
import dev.spillway.report.Window;
import dev.spillway.store.Database;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.time.ZoneId;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code spillway report}: top keys, a time series or a total from PostgreSQL, as a table, CSV,
 * JSON or a self-contained HTML page; plus {@code maintain}, one run of partition upkeep, rollup
 * and retention. Reads PostgreSQL only (no Redis): what is still pending in Redis is not counted.
 */
@Command(
    name = "report",
    mixinStandardHelpOptions = true,
    description = {
      "Report on the counts flushed to PostgreSQL (pending increments in Redis are not included).",
      ""
    },
    footer = {
      "",
      "Examples:",
      "  spillway report top --counter page_views --since 24h --limit 10",
      "  spillway report series --counter page_views --key 42 \\",
      "      --granularity hour --since 7d",
      "  spillway report series --counter page_views --granularity day \\",
      "      --from 2026-03-01 --to 2026-04-01 --tz Europe/Berlin \\",
      "      --format html --output march.html",
      "  spillway report total --counter page_views",
      "  spillway report maintain --config spillway.yaml"
    },
    subcommands = {
      ReportCommand.Top.class,
      ReportCommand.Series.class,
      ReportCommand.Total.class,
      ReportCommand.Maintain.class
    })
final class ReportCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Options shared by top, series and total. */
  abstract static class Base implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Mixin ConfigOptions options;

    @Option(names = "--counter", required = true, paramLabel = "NAME", description = "Counter name")
    String counter;

    @Option(
        names = "--since",
        paramLabel = "DURATION",
        description = "Window: the last 30m, 24h, 7d ... up to now (widened to a whole bucket)")
    String since;

    @Option(
        names = "--from",
        paramLabel = "TIME",
        description =
            "Window start: 2026-03-29 (local midnight in --tz), 2026-03-29T06:00, or"
                + " 2026-03-29T04:00:00Z")
    String from;

    @Option(
        names = "--to",
        paramLabel = "TIME",
        description = "Window end, excluded (default: now); same forms as --from")
    String to;

    @Option(
        names = "--tz",
        paramLabel = "ZONE",
        defaultValue = "UTC",
        description = "Time zone for day boundaries and printed times (default: ${DEFAULT-VALUE})")
    String tz;

    @Option(
        names = "--granularity",
        paramLabel = "minute|hour|day",
        description =
            "series: bucket size; top/total: bucket level to read (default: from the" + " window)")
    String granularity;

    @Option(
        names = "--format",
        paramLabel = "table|csv|json|html",
        defaultValue = "table",
        description = "Output format (default: ${DEFAULT-VALUE})")
    String format;

    @Option(
        names = {"-o", "--output"},
        paramLabel = "FILE",
        description = "Write to FILE (atomically) instead of standard output")
    Path output;

    abstract Kind kind();

    Optional<String> key() {
      return Optional.empty();
    }

    int limit() {
      return 10;
    }

    @Override
    public Integer call() {
      ZoneId zone;
      try {
        zone = ReportSettings.zone("--tz", tz);
      } catch (ConfigException e) {
        throw new IllegalArgumentException(e.getMessage());
      }
      Format f = parseEnum("--format", format, Format.class);
      Optional<Granularity> g =
          Optional.ofNullable(granularity)
              .map(v -> parseEnum("--granularity", v, Granularity.class));
      Window window = window(zone);
      ReportRequest request = new ReportRequest(kind(), counter, key(), g, window, zone, limit());
      SpillwayConfig c = options.loadOneShot();
      Database.requireReachable(c);
      Report report;
      try (Database db = Database.open(c)) {
        report = new Reports(db.dataSource(), c, InstantSource.system()).run(request);
      }
      String text = ReportRenderer.render(report, f);
      if (output != null) {
        ReportExport.writeAtomically(output, text);
        spec.commandLine()
            .getErr()
            .println("wrote " + report.rows().size() + " row(s) to " + output);
      } else {
        PrintWriter out = spec.commandLine().getOut();
        out.print(text);
        out.flush();
      }
      return 0;
    }

    private Window window(ZoneId zone) {
      if (since != null && (from != null || to != null)) {
        throw new IllegalArgumentException("use either --since or --from/--to, not both");
      }
      if (since != null) {
        try {
          Duration d = Durations.parse("--since", since);
          // 100 years, like the longest retention: further back than any row, and no overflow.
          if (d.isNegative() || d.isZero() || d.compareTo(Duration.ofDays(36_525)) > 0) {
            throw new IllegalArgumentException(
                "--since must be between 1ms and 36525d but was " + Durations.format(d));
          }
          return new Window.Since(d);
        } catch (ConfigException e) {
          throw new IllegalArgumentException(e.getMessage());
        }
      }
      if (to != null && from == null) {
        throw new IllegalArgumentException("--to needs --from");
      }
      if (from != null) {
        return new Window.Between(
            Window.parseBound("--from", from, zone),
            to == null ? InstantSource.system().instant() : Window.parseBound("--to", to, zone));
      }
      return new Window.AllTime();
    }
  }

  @Command(
      name = "top",
      mixinStandardHelpOptions = true,
      description = {
        "The keys with the largest counts: over a window (from time buckets), or all-time (from"
            + " counter_totals) when no window is given."
      },
      footer = {
        "",
        "Examples:",
        "  spillway report top --counter page_views --since 24h --limit 10",
        "  spillway report top --counter page_views --from 2026-03-28 --to 2026-03-29 \\",
        "      --tz Europe/Berlin --format csv",
        "  spillway report top --counter page_views     (all-time, from counter_totals)"
      })
  static final class Top extends Base {
    @Option(
        names = "--limit",
        paramLabel = "N",
        defaultValue = "10",
        description = "How many keys (default: ${DEFAULT-VALUE})")
    int limit;

    @Override
    Kind kind() {
      return Kind.TOP;
    }

    @Override
    int limit() {
      return limit;
    }
  }

  @Command(
      name = "series",
      mixinStandardHelpOptions = true,
      description = {
        "Counts per time bucket, every bucket listed (0 when empty). Day buckets follow --tz:"
            + " a DST change day has 23 or 25 hours."
      },
      footer = {
        "",
        "Examples:",
        "  spillway report series --counter page_views --key 42 \\",
        "      --granularity hour --since 7d",
        "  spillway report series --counter page_views --granularity day \\",
        "      --from 2026-03-01 --to 2026-04-01 --tz Europe/Berlin \\",
        "      --format html -o march.html"
      })
  static final class Series extends Base {
    @Option(names = "--key", paramLabel = "KEY", description = "One key (default: all keys summed)")
    String key;

    @Override
    Kind kind() {
      return Kind.SERIES;
    }

    @Override
    Optional<String> key() {
      return Optional.ofNullable(key);
    }
  }

  @Command(
      name = "total",
      mixinStandardHelpOptions = true,
      description = {
        "A counter's total (all keys, or one): all-time from counter_totals, or over a window"
            + " from time buckets."
      },
      footer = {
        "",
        "Examples:",
        "  spillway report total --counter page_views",
        "  spillway report total --counter page_views --key 42 --since 24h \\",
        "      --format json"
      })
  static final class Total extends Base {
    @Option(names = "--key", paramLabel = "KEY", description = "One key (default: all keys)")
    String key;

    @Override
    Kind kind() {
      return Kind.TOTAL;
    }

    @Override
    Optional<String> key() {
      return Optional.ofNullable(key);
    }
  }

  @Command(
      name = "maintain",
      mixinStandardHelpOptions = true,
      description = {
        "Run partition upkeep, rollup and retention once, as the worker does on its schedule"
            + " (reporting.schedule.*). Safe while a worker runs them too."
      },
      footer = {"", "Example:", "  spillway report maintain --config spillway.yaml"})
  static final class Maintain implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Mixin ConfigOptions options;

    @Override
    public Integer call() {
      SpillwayConfig c = options.loadOneShot();
      Database.requireReachable(c);
      PrintWriter out = spec.commandLine().getOut();
      try (Database db = Database.open(c)) {
        InstantSource clock = InstantSource.system();
        out.println("partition upkeep: " + PartitionUpkeep.run(db.dataSource(), c, clock));
        out.println("rollup: " + Rollup.run(db.dataSource(), c, clock));
        out.println("retention: " + Retention.run(db.dataSource(), c, clock));
      }
      out.flush();
      return 0;
    }
  }

  static <E extends Enum<E>> E parseEnum(String option, String value, Class<E> type) {
    try {
      return Enum.valueOf(type, value.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      StringBuilder allowed = new StringBuilder();
      for (E c : type.getEnumConstants()) {
        allowed.append(allowed.length() == 0 ? "" : ", ").append(c.name().toLowerCase(Locale.ROOT));
      }
      throw new IllegalArgumentException(
          option + " must be one of " + allowed + " but was '" + value + "'");
    }
  }
}
