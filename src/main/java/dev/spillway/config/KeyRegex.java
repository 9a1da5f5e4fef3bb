package dev.spillway.config;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The key regex of an adopt mapping, with named groups that become SQL parameters. Java's regex
 * engine only allows letters and digits in group names, but SQL parameters are usually written
 * {@code :page_id}; so group names may also contain underscores here, and are renamed to legal Java
 * names internally. {@link #match} returns the values by the names the user wrote.
 */
public final class KeyRegex {
  private static final Pattern GROUP_NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_]{0,62}");

  private final String text;
  private final Pattern pattern;

  /** user name -> Java group name */
  private final Map<String, String> names;

  private KeyRegex(String text, Pattern pattern, Map<String, String> names) {
    this.text = text;
    this.pattern = pattern;
    this.names = names;
  }

  /**
   * Compiles {@code text}.
   *
   * @throws IllegalArgumentException saying why it does not compile
   */
  public static KeyRegex compile(String text) {
    StringBuilder out = new StringBuilder(text.length());
    Map<String, String> names = new LinkedHashMap<>();
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\\' && i + 1 < text.length()) {
        out.append(c).append(text.charAt(++i)); // escaped character, never a group opener
        continue;
      }
      if (text.startsWith("(?<", i)
          && i + 3 < text.length()
          && Character.isLetter(text.charAt(i + 3))) {
        int end = text.indexOf('>', i + 3);
        String name = end < 0 ? "" : text.substring(i + 3, end);
        if (!GROUP_NAME.matcher(name).matches()) {
          throw new IllegalArgumentException(
              "group name '" + name + "' must match " + GROUP_NAME.pattern());
        }
        String javaName = "g" + names.size() + "x" + name.replace("_", "");
        if (names.put(name, javaName) != null) {
          throw new IllegalArgumentException("group name '" + name + "' is used twice");
        }
        out.append("(?<").append(javaName).append('>');
        i = end;
        continue;
      }
      out.append(c);
    }
    try {
      return new KeyRegex(
          text, Pattern.compile(out.toString()), Collections.unmodifiableMap(names));
    } catch (PatternSyntaxException e) {
      throw new IllegalArgumentException(e.getDescription() + " near index " + e.getIndex(), e);
    }
  }

  /** Group names as written by the user. */
  public Set<String> groupNames() {
    return names.keySet();
  }

  /** Whether {@code key} matches (the whole key, as {@link #match} requires). */
  public boolean matches(String key) {
    return pattern.matcher(key).matches();
  }

  /** The group values of {@code key} by user name (a group that did not take part maps to null). */
  public Optional<Map<String, String>> match(String key) {
    Matcher m = pattern.matcher(key);
    if (!m.matches()) {
      return Optional.empty();
    }
    Map<String, String> values = new LinkedHashMap<>();
    names.forEach((user, java) -> values.put(user, m.group(java)));
    return Optional.of(values);
  }

  public String text() {
    return text;
  }

  @Override
  public String toString() {
    return text;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof KeyRegex k && k.text.equals(text);
  }

  @Override
  public int hashCode() {
    return text.hashCode();
  }
}
