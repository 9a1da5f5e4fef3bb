package dev.spillway.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.spillway.ConfigException;
import dev.spillway.Granularity;
import java.nio.file.Path;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One scheduled export of section {@code reporting.exports}: at each {@code cron} firing, the
 * report over the previous complete {@code period} (in {@code zone}) is written to {@code
 * directory} as {@code <name>-<period start>.<ext>}, atomically. This class owns the export's
 * checks, its parsing from YAML and the enums that name a report kind, an output format and an
 * export period, which the report package and the command line use as well.
 *
 * @param key series and total only; empty means all keys summed
 * @param granularity series only; the bucket size
 * @param limit top only
 */
public record ExportSettings(
    String name,
    String cron,
    Kind kind,
    String counter,
    Optional<String> key,
    Optional<Granularity> granularity,
    int limit,
    Period period,
    ZoneId zone,
    Format format,
    Path directory) {

  static final Pattern EXPORT_NAME = Pattern.compile("[a-z][a-z0-9_-]{0,40}");

  /** Which report an export writes. */
  public enum Kind {
    TOP,
    SERIES,
    TOTAL
  }

  /** Output formats of reports and exports. */
  public enum Format {
    TABLE("txt"),
    CSV("csv"),
    JSON("json"),
    HTML("html");

    private final String extension;

    Format(String extension) {
      this.extension = extension;
    }

    public String extension() {
      return extension;
    }
  }

  /** The complete period before the run that an export covers, in the export's time zone. */
  public enum Period {
    HOUR,
    DAY,
    WEEK,
    MONTH
  }

  public ExportSettings {
    String k = "reporting.exports." + name;
    if (name == null || !EXPORT_NAME.matcher(name).matches()) {
      throw new ConfigException(
          "reporting.exports: export name '" + name + "' must match " + EXPORT_NAME);
    }
    cron =
        ReportSettings.requireCron(k + ".cron", cron)
            .orElseThrow(
                () -> new ConfigException(k + ".cron must be a Quartz cron expression, not off"));
    Objects.requireNonNull(kind, k + ".report");
    if (counter == null || !Checks.COUNTER_PATTERN.matcher(counter).matches()) {
      throw new ConfigException(
          k + ".counter must match " + Checks.COUNTER_PATTERN + " but was '" + counter + "'");
    }
    key = key == null ? Optional.empty() : key;
    granularity = granularity == null ? Optional.empty() : granularity;
    if (kind == Kind.SERIES && granularity.isEmpty()) {
      throw new ConfigException(k + ".granularity must be set for report: series");
    }
    if (kind == Kind.TOP && key.isPresent()) {
      throw new ConfigException(k + ".key is not allowed for report: top");
    }
    Checks.requireRange(k + ".limit", limit, 1, 100_000);
    Objects.requireNonNull(period, k + ".period");
    Objects.requireNonNull(zone, k + ".tz");
    Objects.requireNonNull(format, k + ".format");
    if (directory == null) {
      throw new ConfigException(k + ".directory must be set");
    }
  }

  /** Parses the export {@code name} of {@code reporting.exports}. */
  static ExportSettings parse(String name, JsonNode node) {
    String k = "reporting.exports." + name;
    if (node == null || !node.isObject()) {
      throw new ConfigException(k + " must be a mapping like {cron: ..., report: top, ...}");
    }
    ConfigNodes.checkKeys(
        node,
        k,
        Set.of(
            "cron",
            "report",
            "counter",
            "key",
            "granularity",
            "limit",
            "period",
            "tz",
            "format",
            "directory"));
    String cron =
        ConfigNodes.str(node, "cron", k + ".cron")
            .orElseThrow(() -> new ConfigException(k + ".cron must be set"));
    Kind kind =
        ConfigNodes.str(node, "report", k + ".report")
            .map(v -> ConfigNodes.enumValue(k + ".report", v, Kind.class))
            .orElseThrow(() -> new ConfigException(k + ".report must be set (top, series, total)"));
    String counter =
        ConfigNodes.str(node, "counter", k + ".counter")
            .orElseThrow(() -> new ConfigException(k + ".counter must be set"));
    return new ExportSettings(
        name,
        cron,
        kind,
        counter,
        ConfigNodes.str(node, "key", k + ".key"),
        ConfigNodes.str(node, "granularity", k + ".granularity")
            .map(v -> ConfigNodes.enumValue(k + ".granularity", v, Granularity.class)),
        ConfigNodes.integer(node, "limit", k + ".limit").orElse(10),
        ConfigNodes.str(node, "period", k + ".period")
            .map(v -> ConfigNodes.enumValue(k + ".period", v, Period.class))
            .orElse(Period.DAY),
        ConfigNodes.str(node, "tz", k + ".tz")
            .map(v -> ReportSettings.zone(k + ".tz", v))
            .orElse(ZoneOffset.UTC),
        ConfigNodes.str(node, "format", k + ".format")
            .map(v -> ConfigNodes.enumValue(k + ".format", v, Format.class))
            .orElse(Format.CSV),
        ConfigNodes.str(node, "directory", k + ".directory").map(Path::of).orElse(null));
  }
}
