package dev.spillway.config;

import dev.spillway.ConfigException;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses and prints the durations used in configuration: {@code 250ms}, {@code 5s}, {@code 2m}. */
public final class Durations {
  private static final Pattern SIMPLE = Pattern.compile("(\\d{1,12})\\s*(ms|s|m|h|d)");

  private Durations() {}

  /**
   * Parses {@code <number><unit>} with unit ms, s, m, h or d, or an ISO-8601 duration ({@code
   * PT1.5S}).
   *
   * @throws ConfigException naming {@code key} when the text is neither
   */
  public static Duration parse(String key, String text) {
    String t = text.trim();
    Matcher m = SIMPLE.matcher(t);
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        default -> Duration.ofDays(n);
      };
    }
    try {
      return Duration.parse(t);
    } catch (DateTimeParseException e) {
      throw new ConfigException(
          key + " must be a duration like 250ms, 5s, 2m, 1h, 7d or PT1S but was '" + text + "'");
    }
  }

  /**
   * The shortest exact rendering in the units above ({@code 1500ms}, {@code 5s}, {@code
   * 999999999999d}); ISO-8601 ({@code PT0.0005S}) when the value is not a whole number of
   * milliseconds. Never overflows: a value too large for {@link Duration#toMillis()} is rendered
   * from its seconds, so an error message can always show what was configured.
   */
  public static String format(Duration d) {
    if (d.isNegative()) {
      return d.equals(MIN) ? d.toString() : "-" + format(d.negated());
    }
    long s = d.getSeconds();
    int nanos = d.getNano();
    if (nanos % 1_000_000 != 0) {
      return d.toString();
    }
    if (nanos == 0 && s != 0) {
      if (s % 86_400 == 0) {
        return s / 86_400 + "d";
      }
      if (s % 3_600 == 0) {
        return s / 3_600 + "h";
      }
      if (s % 60 == 0) {
        return s / 60 + "m";
      }
      return s + "s";
    }
    if (s > Long.MAX_VALUE / 1000 - 1) {
      return d.toString();
    }
    return s * 1000 + nanos / 1_000_000 + "ms";
  }

  private static final Duration MIN = Duration.ofSeconds(Long.MIN_VALUE);
}
