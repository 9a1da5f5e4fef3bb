package dev.spillway.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.spillway.ConfigException;
import dev.spillway.SpillwayConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.quartz.CronExpression;

/**
 * One "adopted" family of Redis keys that existing code already writes ({@code INCR views:123},
 * {@code HINCRBY stats:2026-11-26 signups 1}), and where its counts go in PostgreSQL: either a
 * parameterized statement ({@code sql}) or an upsert-increment into a table ({@code table}).
 *
 * <p>Checked when the configuration loads: the name, the SCAN pattern (here, and against Spillway's
 * own prefixes in {@link SpillwayConfig}: {@link #checkMatch}), that the key regex compiles, that
 * every {@code :param} in the SQL is a named group of the regex (or {@code delta}, or {@code field}
 * for hash keys), that the table and column names are plain identifiers, and that the schedule is a
 * valid Quartz cron expression. Checks that need the database (the statement prepares, the table
 * and columns exist) run when the runtime starts.
 */
public record AdoptMapping(
    String name,
    String match,
    KeyRegex keyRegex,
    Type type,
    String sql,
    String table,
    Map<String, String> keyColumns,
    String valueColumn,
    String schedule,
    int scanCount) {

  /** How the adopted keys are written: INCR (string) or HINCRBY (hash, field = parameter). */
  public enum Type {
    STRING,
    HASH
  }

  public static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_-]{0,63}");

  /** A table or column: a plain lowercase identifier, optionally schema-qualified for tables. */
  public static final Pattern IDENTIFIER = Pattern.compile("[a-z_][a-z0-9_]{0,62}");

  public static final Pattern TABLE =
      Pattern.compile("([a-z_][a-z0-9_]{0,62}\\.)?[a-z_][a-z0-9_]{0,62}");
  private static final Pattern PARAM = Pattern.compile("(?<![:\\w]):([A-Za-z_][A-Za-z0-9_]*)");
  public static final int DEFAULT_SCAN_COUNT = 1000;

  public AdoptMapping {
    String where = "adopt mapping '" + name + "'";
    if (name == null || !NAME.matcher(name).matches()) {
      throw new ConfigException("adopt mapping name '" + name + "' must match " + NAME);
    }
    if (match == null || match.isBlank()) {
      throw new ConfigException(where + ": match (a SCAN MATCH pattern like views:*) must be set");
    }
    if (keyRegex == null) {
      throw new ConfigException(where + ": key-regex must be set");
    }
    if (type == null) {
      throw new ConfigException(where + ": type must be string or hash");
    }
    if ((sql == null) == (table == null)) {
      throw new ConfigException(where + ": set exactly one of sql or table");
    }
    Set<String> groups = keyRegex.groupNames();
    if (sql != null) {
      for (String p : params(sql)) {
        boolean ok =
            p.equals("delta") || (p.equals("field") && type == Type.HASH) || groups.contains(p);
        if (!ok) {
          throw new ConfigException(
              where
                  + ": sql parameter :"
                  + p
                  + " is not a named group of key-regex "
                  + groups
                  + (type == Type.HASH ? ", :field" : "")
                  + " or :delta");
        }
      }
      if (!params(sql).contains("delta")) {
        throw new ConfigException(where + ": sql must use :delta (the count to add)");
      }
      keyColumns = Map.of();
      valueColumn = null;
    } else {
      if (!TABLE.matcher(table).matches()) {
        throw new ConfigException(where + ": table '" + table + "' must match " + TABLE);
      }
      if (keyColumns == null || keyColumns.isEmpty()) {
        throw new ConfigException(where + ": key-columns must map named groups to columns");
      }
      for (var e : keyColumns.entrySet()) {
        boolean ok =
            groups.contains(e.getKey()) || (e.getKey().equals("field") && type == Type.HASH);
        if (!ok) {
          throw new ConfigException(
              where
                  + ": key-columns entry '"
                  + e.getKey()
                  + "' is not a named group of key-regex "
                  + groups
                  + (type == Type.HASH ? " or field" : ""));
        }
        if (!IDENTIFIER.matcher(e.getValue()).matches()) {
          throw new ConfigException(
              where + ": column '" + e.getValue() + "' must match " + IDENTIFIER);
        }
      }
      if (valueColumn == null || !IDENTIFIER.matcher(valueColumn).matches()) {
        throw new ConfigException(
            where + ": value-column '" + valueColumn + "' must match " + IDENTIFIER);
      }
      keyColumns = Collections.unmodifiableMap(new LinkedHashMap<>(keyColumns));
    }
    if (schedule != null && !CronExpression.isValidExpression(schedule)) {
      throw new ConfigException(
          where
              + ": schedule '"
              + schedule
              + "' is not a valid Quartz cron expression"
              + " (seconds minutes hours day-of-month month day-of-week, e.g. \"*/10 * * * * ?\")");
    }
    Checks.requireRange("adopt." + name + ".scan-count", scanCount, 10, 100_000);
  }

  /**
   * The literal leading part of a Redis glob: everything before its first unescaped {@code *},
   * {@code ?} or {@code [}, with {@code \\x} escapes resolved. Empty when the glob starts with a
   * wildcard.
   */
  public static String literalPrefix(String glob) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < glob.length(); i++) {
      char c = glob.charAt(i);
      if (c == '*' || c == '?' || c == '[') {
        break;
      }
      if (c == '\\') {
        if (i + 1 == glob.length()) {
          break; // a trailing backslash: Redis's matcher treats it loosely; stop to be safe
        }
        c = glob.charAt(++i);
      }
      out.append(c);
    }
    return out.toString();
  }

  /**
   * Refuses a {@code match} that could SCAN up Spillway's own keys or any key at all: it must start
   * with a literal part, and neither that part nor {@code keys.prefix} or the cache prefix may be a
   * prefix of the other. Decided on the glob's text alone, conservatively: {@code s*} is refused
   * under {@code keys.prefix "sw:"} though it might only ever find {@code stats:} keys.
   *
   * @param index the mapping's position in {@code adopt}, for the message
   * @throws ConfigException naming the setting and the rule
   */
  public void checkMatch(int index, String keysPrefix, String cachePrefix) {
    String literal = literalPrefix(match);
    String why = null;
    if (literal.isEmpty()) {
      why = "it starts with a wildcard, so it could match any key";
    } else {
      for (String[] own :
          new String[][] {{"keys.prefix", keysPrefix}, {"cache prefix", cachePrefix}}) {
        if (literal.startsWith(own[1]) || own[1].startsWith(literal)) {
          why = "its literal part \"" + literal + "\" overlaps " + own[0] + " \"" + own[1] + "\"";
          break;
        }
      }
    }
    if (why != null) {
      throw new ConfigException(
          "adopt["
              + index
              + "].match \""
              + match
              + "\" (mapping '"
              + name
              + "') must start with a"
              + " literal part that cannot match Spillway's own keys (keys.prefix \""
              + keysPrefix
              + "\", cache prefix \""
              + cachePrefix
              + "\"): "
              + why);
    }
  }

  /** The {@code :name} parameters of {@code sql}, in order of appearance (repeats kept). */
  public static List<String> params(String sql) {
    List<String> out = new ArrayList<>();
    Matcher m = PARAM.matcher(sql);
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }

  /** {@code sql} with every {@code :name} replaced by a JDBC {@code ?}. */
  public String jdbcSql() {
    return PARAM.matcher(sql).replaceAll("?");
  }

  /** Parses the {@code adopt:} list (may be missing). */
  public static List<AdoptMapping> parseList(JsonNode node) {
    if (node == null || node.isMissingNode() || node.isNull()) {
      return List.of();
    }
    if (!node.isArray()) {
      throw new ConfigException("adopt must be a list of mappings (- name: ...)");
    }
    List<AdoptMapping> out = new ArrayList<>();
    Set<String> names = new HashSet<>();
    int i = 0;
    for (JsonNode m : node) {
      String path = "adopt[" + i++ + "]";
      ConfigNodes.checkKeys(
          m,
          path,
          Set.of(
              "name",
              "match",
              "key-regex",
              "type",
              "sql",
              "table",
              "key-columns",
              "value-column",
              "schedule",
              "scan-count"));
      String name = ConfigNodes.str(m, "name", path + ".name").orElse(null);
      if (!names.add(String.valueOf(name))) {
        throw new ConfigException("adopt mapping name '" + name + "' is used twice");
      }
      String regex = ConfigNodes.str(m, "key-regex", path + ".key-regex").orElse(null);
      KeyRegex compiled = null;
      if (regex != null) {
        try {
          compiled = KeyRegex.compile(regex);
        } catch (IllegalArgumentException e) {
          throw new ConfigException(
              "adopt mapping '"
                  + name
                  + "': key-regex "
                  + regex
                  + " does not compile: "
                  + e.getMessage());
        }
      }
      Map<String, String> cols = new LinkedHashMap<>();
      JsonNode kc = m.path("key-columns");
      if (!kc.isMissingNode()) {
        if (!kc.isObject()) {
          throw new ConfigException(path + ".key-columns must be a mapping {group: column}");
        }
        kc.fields().forEachRemaining(e -> cols.put(e.getKey(), e.getValue().asText()));
      }
      Type type =
          ConfigNodes.enumValue(
              path + ".type",
              ConfigNodes.str(m, "type", path + ".type").orElse("string"),
              Type.class);
      out.add(
          new AdoptMapping(
              name,
              ConfigNodes.str(m, "match", path + ".match").orElse(null),
              compiled,
              type,
              ConfigNodes.str(m, "sql", path + ".sql").orElse(null),
              ConfigNodes.str(m, "table", path + ".table").orElse(null),
              cols,
              ConfigNodes.str(m, "value-column", path + ".value-column").orElse(null),
              ConfigNodes.str(m, "schedule", path + ".schedule").orElse(null),
              ConfigNodes.integer(m, "scan-count", path + ".scan-count")
                  .orElse(DEFAULT_SCAN_COUNT)));
    }
    return List.copyOf(out);
  }

  /** Default schedule of a mapping without one: every 10 seconds. */
  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(10);
}
