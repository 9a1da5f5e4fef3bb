package dev.spillway.schedule;

import dev.spillway.ConfigException;
import dev.spillway.config.Durations;
import java.time.Duration;
import java.util.Objects;
import org.quartz.CronExpression;

/**
 * When a task runs: every fixed interval, or on a Quartz cron expression (with seconds: {@code "0
 * 17 * * * ?"} is minute 17 of every hour). Configuration text is parsed by {@link #parse}.
 */
public sealed interface Schedule {

  /**
   * Every {@code interval}, the first run {@code phase} from now. A phase spreads tasks with the
   * same interval over it (the flush groups), so that they do not all fire at the same instant.
   */
  record Every(Duration interval, Duration phase) implements Schedule {
    public Every {
      Objects.requireNonNull(interval, "interval");
      Objects.requireNonNull(phase, "phase");
      if (interval.toMillis() < 1) {
        throw new IllegalArgumentException(
            "a schedule interval must be at least 1ms but was " + Durations.format(interval));
      }
      if (phase.isNegative()) {
        throw new IllegalArgumentException("a schedule phase must not be negative");
      }
    }

    public Every(Duration interval) {
      this(interval, Duration.ZERO);
    }

    @Override
    public String toString() {
      return "every " + Durations.format(interval);
    }
  }

  /** On a Quartz cron expression, in the JVM's time zone. */
  record Cron(String expression) implements Schedule {
    public Cron {
      if (expression == null || !CronExpression.isValidExpression(expression.trim())) {
        throw new IllegalArgumentException(
            "'"
                + expression
                + "' is not a valid Quartz cron expression"
                + " (seconds minutes hours day-of-month month day-of-week, e.g. \"0 17 * * * ?\")");
      }
      expression = expression.trim();
    }

    @Override
    public String toString() {
      return "cron '" + expression + "'";
    }
  }

  static Schedule every(Duration interval) {
    return new Every(interval);
  }

  static Schedule cron(String expression) {
    return new Cron(expression);
  }

  /**
   * An interval ({@code 500ms}, {@code 1h}, {@code PT10S}) or else a cron expression.
   *
   * @throws ConfigException naming {@code key} when the text is neither
   */
  static Schedule parse(String key, String text) {
    if (text == null || text.isBlank()) {
      throw new ConfigException(key + " must be set");
    }
    try {
      return new Every(Durations.parse(key, text));
    } catch (ConfigException | IllegalArgumentException notAnInterval) {
      try {
        return new Cron(text);
      } catch (IllegalArgumentException e) {
        throw new ConfigException(
            key
                + " must be an interval like 30s or a Quartz cron expression like \"0 17 * * * ?\""
                + " but was '"
                + text
                + "'");
      }
    }
  }
}
