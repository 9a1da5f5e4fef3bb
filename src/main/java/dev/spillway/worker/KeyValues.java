package dev.spillway.worker;

import dev.spillway.config.Logfmt;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads Spillway's log messages, which are {@code key=value} pairs ({@code event=flush batches=3
 * error="PSQLException: ..."}), and writes values so that they read back the same. Values with
 * spaces, quotes, {@code =} or control characters are double-quoted with backslash escapes.
 */
final class KeyValues {
  private KeyValues() {}

  /**
   * The pairs of {@code message}, in order. Text that is not a pair (a plain sentence, a stray
   * word) ends the parse; it and everything after it is returned under the key {@code msg}.
   */
  static Map<String, String> parse(String message) {
    Map<String, String> out = new LinkedHashMap<>();
    int i = 0;
    int n = message.length();
    while (i < n) {
      while (i < n && message.charAt(i) == ' ') {
        i++;
      }
      if (i >= n) {
        break;
      }
      int keyStart = i;
      while (i < n && isKeyChar(message.charAt(i), i == keyStart)) {
        i++;
      }
      if (i == keyStart || i >= n || message.charAt(i) != '=') {
        out.merge("msg", message.substring(keyStart).strip(), (a, b) -> a + " " + b);
        break;
      }
      String key = message.substring(keyStart, i);
      i++; // '='
      StringBuilder value = new StringBuilder();
      if (i < n && message.charAt(i) == '"') {
        i++;
        while (i < n && message.charAt(i) != '"') {
          char c = message.charAt(i);
          if (c == '\\' && i + 1 < n) {
            char e = message.charAt(++i);
            value.append(
                switch (e) {
                  case 'n' -> '\n';
                  case 't' -> '\t';
                  case 'r' -> '\r';
                  default -> e;
                });
          } else {
            value.append(c);
          }
          i++;
        }
        i++; // closing quote (or past the end)
      } else {
        while (i < n && message.charAt(i) != ' ') {
          value.append(message.charAt(i++));
        }
      }
      out.put(key, value.toString());
    }
    return out;
  }

  /** {@code value} as it must appear after {@code key=}: {@link Logfmt#quote}. */
  static String quote(String value) {
    return Logfmt.quote(value);
  }

  private static boolean isKeyChar(char c, boolean first) {
    if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      return true;
    }
    return !first && ((c >= '0' && c <= '9') || c == '.' || c == '-');
  }
}
