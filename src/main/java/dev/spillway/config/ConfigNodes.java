package dev.spillway.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import dev.spillway.ConfigException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;

/**
 * Strict readers for one section of the YAML configuration. Every failure is a {@link
 * ConfigException} whose message starts with the dotted key ({@code worker.http.port}) and names
 * the value and the rule. Each config section parses itself with these, so a section owner never
 * edits {@link ConfigLoader}.
 */
public final class ConfigNodes {
  private ConfigNodes() {}

  /** Refuses any field of {@code node} not in {@code known}; {@code path} prefixes the message. */
  public static void checkKeys(JsonNode node, String path, Set<String> known) {
    if (node == null || node.isMissingNode() || node.isNull()) {
      return;
    }
    if (!node.isObject()) {
      throw new ConfigException(path + " must be a mapping but was '" + node + "'");
    }
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String name = it.next();
      if (!known.contains(name)) {
        throw new ConfigException(
            path + "." + name + " is not a known setting (known: " + new TreeSet<>(known) + ")");
      }
    }
  }

  /** The node at a dotted path below {@code node}, or a missing node. */
  public static JsonNode at(JsonNode node, String dotted) {
    JsonNode n = node;
    for (String part : dotted.split("\\.")) {
      n = n == null ? null : n.path(part);
      if (n == null || n.isMissingNode()) {
        return MissingNode.getInstance();
      }
    }
    return n;
  }

  public static Optional<String> str(JsonNode node, String key, String fullKey) {
    JsonNode n = at(node, key);
    if (n.isMissingNode() || n.isNull()) {
      return Optional.empty();
    }
    if (!n.isValueNode()) {
      throw new ConfigException(fullKey + " must be a single value but was '" + n + "'");
    }
    return Optional.of(n.asText());
  }

  public static OptionalInt integer(JsonNode node, String key, String fullKey) {
    JsonNode n = at(node, key);
    if (n.isMissingNode() || n.isNull()) {
      return OptionalInt.empty();
    }
    if (!n.isIntegralNumber() || !n.canConvertToInt()) {
      throw new ConfigException(fullKey + " must be a whole number but was '" + n.asText() + "'");
    }
    return OptionalInt.of(n.intValue());
  }

  public static Optional<Boolean> bool(JsonNode node, String key, String fullKey) {
    JsonNode n = at(node, key);
    if (n.isMissingNode() || n.isNull()) {
      return Optional.empty();
    }
    if (!n.isBoolean()) {
      throw new ConfigException(fullKey + " must be true or false but was '" + n.asText() + "'");
    }
    return Optional.of(n.booleanValue());
  }

  public static Optional<Duration> duration(JsonNode node, String key, String fullKey) {
    return str(node, key, fullKey).map(v -> Durations.parse(fullKey, v));
  }

  public static <E extends Enum<E>> E enumValue(String fullKey, String value, Class<E> type) {
    try {
      return Enum.valueOf(type, value.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(
          fullKey
              + " must be one of "
              + Arrays.toString(type.getEnumConstants())
              + " but was '"
              + value
              + "'");
    }
  }
}
