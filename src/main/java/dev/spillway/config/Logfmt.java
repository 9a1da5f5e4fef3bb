package dev.spillway.config;

import java.util.Collection;
import java.util.Map;

/**
 * Writes {@code key=value} pairs as logfmt, the format of Spillway's log lines: a value with a
 * space, a quote, {@code =}, a backslash or a control character (or an empty one) is double-quoted,
 * with {@code \"}, {@code \\}, {@code \n}, {@code \r} and {@code \t} escaped, so that every line
 * reads back into the same pairs. Nested maps become dotted keys ({@code worker.http.port=9464});
 * the worker's JSON log format turns them back into nested objects.
 */
public final class Logfmt {
  private Logfmt() {}

  /** {@code value} as it must appear after {@code key=}. */
  public static String quote(String value) {
    boolean plain = !value.isEmpty();
    for (int i = 0; i < value.length() && plain; i++) {
      char c = value.charAt(i);
      plain = c > ' ' && c != '"' && c != '=' && c != '\\' && c != 0x7f;
    }
    if (plain) {
      return value;
    }
    StringBuilder b = new StringBuilder(value.length() + 8).append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> b.append(c < ' ' ? ' ' : c);
      }
    }
    return b.append('"').toString();
  }

  /**
   * The pairs of {@code tree}, in its order, separated by spaces: a nested map's entries under
   * {@code key.}, a collection as its elements joined by commas, anything else as its {@code
   * toString()}. An empty map or collection is written as {@code key=""}, so the key stays visible.
   */
  public static String pairs(Map<String, ?> tree) {
    StringBuilder b = new StringBuilder(1024);
    append(b, "", tree);
    return b.toString();
  }

  private static void append(StringBuilder b, String prefix, Map<String, ?> tree) {
    for (var e : tree.entrySet()) {
      String key = prefix + e.getKey();
      if (e.getValue() instanceof Map<?, ?> m && !m.isEmpty()) {
        @SuppressWarnings("unchecked")
        Map<String, ?> nested = (Map<String, ?>) m;
        append(b, key + ".", nested);
        continue;
      }
      String value =
          switch (e.getValue()) {
            case Map<?, ?> m -> "";
            case Collection<?> c -> String.join(",", c.stream().map(String::valueOf).toList());
            case null -> "";
            case Object o -> o.toString();
          };
      b.append(b.isEmpty() ? "" : " ").append(key).append('=').append(quote(value));
    }
  }
}
