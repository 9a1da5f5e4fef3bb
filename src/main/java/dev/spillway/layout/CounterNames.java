package dev.spillway.layout;

import java.util.regex.Pattern;

/**
 * The rules for counter names and keys, checked at {@code increment()} so that bad input is refused
 * where it is written, with a message that names the rule (DESIGN.md, "Redis layout").
 */
public final class CounterNames {
  /** Counter names: lowercase, start with a letter, at most 64 characters. */
  public static final Pattern COUNTER = Pattern.compile("[a-z][a-z0-9_.-]{0,63}");

  public static final int MAX_KEY_BYTES = 512;

  private CounterNames() {}

  /**
   * @throws IllegalArgumentException naming the rule when {@code name} breaks it
   */
  public static void checkCounter(String name) {
    if (name == null || !COUNTER.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "counter name " + quote(name) + " must match " + COUNTER.pattern());
    }
  }

  /**
   * Keys are 1 to 512 bytes of UTF-8 with no control characters (they end up in Redis field names,
   * SQL rows, logs and terminals, where a control character does harm and never means anything).
   *
   * @throws IllegalArgumentException naming the rule when {@code key} breaks it
   */
  public static void checkKey(String key) {
    if (key == null || key.isEmpty()) {
      throw new IllegalArgumentException(
          "counter key must be 1 to "
              + MAX_KEY_BYTES
              + " bytes of UTF-8 but was "
              + (key == null ? "null" : "empty"));
    }
    int bytes = 0;
    for (int i = 0, n = key.length(); i < n; i++) {
      char c = key.charAt(i);
      if (c < 0x80) {
        if (c < 0x20 || c == 0x7f) {
          throw invalidKey(key, "a control character (U+" + hex(c) + ") at index " + i);
        }
        bytes += 1;
      } else if (c < 0x800) {
        if (c < 0xa0) {
          throw invalidKey(key, "a control character (U+" + hex(c) + ") at index " + i);
        }
        bytes += 2;
      } else if (Character.isHighSurrogate(c)) {
        if (i + 1 >= n || !Character.isLowSurrogate(key.charAt(i + 1))) {
          throw invalidKey(key, "an unpaired surrogate at index " + i + " (not valid UTF-8)");
        }
        bytes += 4;
        i++;
      } else if (Character.isLowSurrogate(c)) {
        throw invalidKey(key, "an unpaired surrogate at index " + i + " (not valid UTF-8)");
      } else {
        bytes += 3;
      }
      if (bytes > MAX_KEY_BYTES) {
        throw new IllegalArgumentException(
            "counter key must be 1 to "
                + MAX_KEY_BYTES
                + " bytes of UTF-8 but "
                + quote(key.substring(0, 32) + "...")
                + " is longer");
      }
    }
  }

  private static IllegalArgumentException invalidKey(String key, String what) {
    return new IllegalArgumentException(
        "counter key must be 1 to "
            + MAX_KEY_BYTES
            + " bytes of UTF-8 without control characters but "
            + quote(key.length() > 40 ? key.substring(0, 40) + "..." : key)
            + " has "
            + what);
  }

  private static String hex(char c) {
    return String.format("%04X", (int) c);
  }

  private static String quote(String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder b = new StringBuilder("'");
    for (char c : s.toCharArray()) {
      b.append(Character.isISOControl(c) ? String.format("\\u%04x", (int) c) : String.valueOf(c));
    }
    return b.append('\'').toString();
  }
}
