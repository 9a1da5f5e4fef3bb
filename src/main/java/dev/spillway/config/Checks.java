package dev.spillway.config;

import dev.spillway.ConfigException;
import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The checks every setting goes through, with one sentence each (setting, rule, actual value with
 * its unit), and the tree shape of the effective configuration. Used by {@code SpillwayConfig} and
 * every settings section, so a rule is spelled once.
 */
public final class Checks {
  /** Counter names, in configuration and in the API. */
  public static final Pattern COUNTER_PATTERN = Pattern.compile("[a-z][a-z0-9_.-]{0,63}");

  private Checks() {}

  /** An ordered map of alternating keys and values. */
  public static Map<String, Object> tree(Object... keysAndValues) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      m.put((String) keysAndValues[i], keysAndValues[i + 1]);
    }
    return m;
  }

  /** The first entry of {@code value} (a seed list) has one of {@code schemes}. */
  public static void requireUri(String key, String value, String... schemes) {
    if (value == null || value.isBlank()) {
      throw new ConfigException(key + " must be set");
    }
    try {
      URI uri = URI.create(value.split(",")[0].trim());
      for (String s : schemes) {
        if (s.equals(uri.getScheme())) {
          return;
        }
      }
    } catch (IllegalArgumentException e) {
      // fall through to the message below
    }
    throw new ConfigException(
        key
            + " must be a URI like redis://host:6379 (scheme "
            + String.join(" or ", schemes)
            + ") but was '"
            + Redactor.maskUri(value) // the whole value: an entry may be a piece of a password
            + "'");
  }

  public static void requireAtLeast(String key, Duration value, Duration min) {
    if (value == null) {
      throw new ConfigException(key + " must be set");
    }
    if (value.compareTo(min) < 0) {
      throw new ConfigException(
          key
              + " must be at least "
              + Durations.format(min)
              + " but was "
              + Durations.format(value));
    }
  }

  /**
   * Refuses a duration outside {@code [min, max]}, naming the setting, the bound and the value with
   * its unit. Every duration setting has an upper bound, so that no later arithmetic ({@link
   * Duration#toMillis()}, a deadline {@code now + d}) can overflow and no typo such as {@code
   * 30000d} for {@code 30000ms} passes unnoticed.
   */
  public static void requireBetween(String key, Duration value, Duration min, Duration max) {
    requireAtLeast(key, value, min);
    if (value.compareTo(max) > 0) {
      throw new ConfigException(
          key
              + " must be at most "
              + Durations.format(max)
              + " but was "
              + Durations.format(value));
    }
  }

  public static void requireRange(String key, long value, long min, long max) {
    if (value < min || value > max) {
      throw new ConfigException(
          key + " must be between " + min + " and " + max + " but was " + value);
    }
  }
}
