package dev.spillway.report;

import dev.spillway.config.Durations;
import dev.spillway.config.ExportSettings.Period;
import java.time.DateTimeException;
import java.time.DayOfWeek;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.time.temporal.TemporalAdjusters;
import java.util.Objects;

/** The time range a report covers. */
public sealed interface Window {

  /** Everything: top and total read {@code counter_totals}. */
  record AllTime() implements Window {}

  /** The last {@code length} up to now, widened at the start to a whole bucket. */
  record Since(Duration length) implements Window {
    public Since {
      if (length == null || length.isNegative() || length.isZero()) {
        throw new IllegalArgumentException(
            "--since must be a positive duration like 30m, 24h or 7d but was "
                + (length == null ? "missing" : Durations.format(length)));
      }
    }
  }

  /** [from, to): bounds as given, typically local midnights. */
  record Between(Instant from, Instant to) implements Window {
    public Between {
      Objects.requireNonNull(from, "from");
      Objects.requireNonNull(to, "to");
      if (!to.isAfter(from)) {
        throw new IllegalArgumentException("--to (" + to + ") must be after --from (" + from + ")");
      }
    }
  }

  /**
   * The complete {@code period} before {@code now} in {@code zone}: for DAY, yesterday from local
   * midnight to local midnight (23 or 25 hours on a DST change day); weeks start on Monday.
   */
  static Between previous(Period period, ZoneId zone, Instant now) {
    ZonedDateTime t = now.atZone(zone);
    ZonedDateTime end =
        switch (period) {
          case HOUR -> t.truncatedTo(ChronoUnit.HOURS);
          case DAY -> t.toLocalDate().atStartOfDay(zone);
          case WEEK ->
              t.toLocalDate()
                  .with(TemporalAdjusters.previousOrSame(DayOfWeek.MONDAY))
                  .atStartOfDay(zone);
          case MONTH -> t.toLocalDate().withDayOfMonth(1).atStartOfDay(zone);
        };
    ZonedDateTime start =
        switch (period) {
          case HOUR -> end.minusHours(1);
          case DAY -> end.toLocalDate().minusDays(1).atStartOfDay(zone);
          case WEEK -> end.toLocalDate().minusWeeks(1).atStartOfDay(zone);
          case MONTH -> end.toLocalDate().minusMonths(1).atStartOfDay(zone);
        };
    return new Between(start.toInstant(), end.toInstant());
  }

  /**
   * A bound given on the command line: a date ({@code 2026-03-29}, local midnight in {@code zone}),
   * a local date-time ({@code 2026-03-29T06:00}), or an instant with an offset ({@code
   * 2026-03-29T04:00:00Z}).
   *
   * @throws IllegalArgumentException naming {@code option} when the text is none of these
   */
  static Instant parseBound(String option, String text, ZoneId zone) {
    String t = text.trim();
    try {
      if (t.length() == 10) {
        return LocalDate.parse(t).atStartOfDay(zone).toInstant();
      }
      if (t.endsWith("Z") || t.matches(".*[+-]\\d\\d:\\d\\d$")) {
        return OffsetDateTime.parse(t).toInstant();
      }
      return LocalDateTime.parse(t).atZone(zone).toInstant();
    } catch (DateTimeException e) {
      throw new IllegalArgumentException(
          option
              + " must be a date (2026-03-29), a local date-time (2026-03-29T06:00) or an"
              + " instant (2026-03-29T04:00:00Z) but was '"
              + text
              + "'");
    }
  }
}
