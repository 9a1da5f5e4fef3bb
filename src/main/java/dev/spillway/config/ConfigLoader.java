package dev.spillway.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.spillway.ConfigException;
import dev.spillway.Durability;
import dev.spillway.Granularity;
import dev.spillway.OverflowPolicy;
import dev.spillway.SpillwayConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads a YAML configuration file, then applies environment overrides, into a {@link
 * SpillwayConfig}. Strict on purpose: an unknown key is refused (a typo such as {@code
 * flush.intreval} would otherwise silently keep the default), as is a value of the wrong type, and
 * so is a key set twice in one mapping (YAML parsers otherwise keep the last one silently, so the
 * value an operator reads first is not the one in force).
 *
 * <p>Environment overrides win over the file: {@code SPILLWAY_REDIS_URI}, {@code
 * SPILLWAY_REDIS_CLUSTER}, {@code SPILLWAY_JDBC_URL}, {@code SPILLWAY_JDBC_USER}, {@code
 * SPILLWAY_JDBC_PASSWORD}, {@code SPILLWAY_KEY_PREFIX}, {@code SPILLWAY_SCHEMA}, {@code
 * SPILLWAY_STRIPES}, {@code SPILLWAY_CLIENT_DURABILITY}, {@code SPILLWAY_CLIENT_DURABLE_REPLICAS}.
 * Secrets belong in the environment, not in the file. (Under Spring Boot, {@link #fromTree} reads
 * no environment: Spring's relaxed binding maps variables onto {@code spillway.*} instead.)
 *
 * <p>The CLI and {@code Spillway.builder().configFile(path)} both load through here, so they accept
 * the same files and refuse the bad ones with the same sentences.
 */
public final class ConfigLoader {
  /** Every key the file may hold, as dotted paths; {@code counters.*} is free-form below. */
  private static final Set<String> KNOWN = CoreSettings.keys();

  /** Top-level sections parsed by their own classes. */
  private static final Set<String> DELEGATED =
      Set.of("counters", "adopt", "worker", "reporting", "cache", "api");

  /**
   * One mapper for every file: duplicate keys are an error (STRICT_DUPLICATE_DETECTION), at any
   * depth, including inside the sections other classes parse.
   */
  private static final YAMLMapper YAML =
      YAMLMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

  private ConfigLoader() {}

  /** Loads {@code file} (may be null: defaults only) and applies {@code env} overrides. */
  public static SpillwayConfig load(Path file, Map<String, String> env) {
    return read(file, env).build();
  }

  /**
   * Like {@link #load}, but unsealed: {@code Spillway.Builder} applies its explicit setters on top
   * before the combined checks run, so a setter can repair what the file alone would fail.
   */
  public static SpillwayConfig.Builder read(Path file, Map<String, String> env) {
    SpillwayConfig.Builder b = SpillwayConfig.builder();
    if (file != null) {
      applyFile(b, file);
    }
    applyEnv(b, env);
    return b;
  }

  private static void applyFile(SpillwayConfig.Builder b, Path file) {
    JsonNode root;
    try {
      root = YAML.readTree(Files.readString(file));
    } catch (NoSuchFileException e) {
      throw new ConfigException("config file " + file + " does not exist");
    } catch (JsonProcessingException e) {
      String duplicate = duplicateKey(e);
      if (duplicate != null) {
        throw new ConfigException(
            "config file "
                + file
                + " sets "
                + duplicate
                + " twice (the second time on line "
                + e.getLocation().getLineNr()
                + "); keep one");
      }
      throw new ConfigException(
          "config file " + file + " is not valid YAML: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new ConfigException("config file " + file + " cannot be read: " + e);
    }
    if (root == null || root.isNull() || root.isMissingNode()) {
      return;
    }
    if (!root.isObject()) {
      throw new ConfigException("config file " + file + " must hold a mapping at the top level");
    }
    applyTree(b, root);
  }

  /**
   * A configuration from a tree shaped like the file (what Spring Boot binds under {@code
   * spillway.*}), with the file's checks and sentences; no environment overrides.
   */
  public static SpillwayConfig fromTree(JsonNode root) {
    SpillwayConfig.Builder b = SpillwayConfig.builder();
    if (root != null && root.isObject()) {
      applyTree(b, root);
    }
    return b.build();
  }

  private static void applyTree(SpillwayConfig.Builder b, JsonNode root) {
    checkKeys(root, "");
    for (CoreSettings.Setting s : CoreSettings.ALL) {
      read(root, s).ifPresent(v -> s.apply().accept(b, v));
    }
    AdoptMapping.parseList(root.path("adopt")).forEach(b::adopt);
    b.worker(WorkerSettings.parse(root.path("worker")));
    b.reporting(ReportSettings.parse(root.path("reporting")));
    b.cache(CacheSettings.parse(root.path("cache")));
    b.api(ApiSettings.parse(root.path("api")));
    JsonNode counters = root.path("counters");
    if (!counters.isMissingNode() && !counters.isNull()) {
      if (!counters.isObject()) {
        throw new ConfigException(
            "counters must be a mapping of counter name to {buckets: [...]} but was " + counters);
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = counters.fields(); it.hasNext(); ) {
        var e = it.next();
        String key = "counters." + e.getKey();
        JsonNode spec = e.getValue();
        Set<Granularity> buckets = EnumSet.noneOf(Granularity.class);
        if (spec != null && !spec.isNull()) {
          if (!spec.isObject()) {
            throw new ConfigException(key + " must be a mapping like {buckets: [HOUR, DAY]}");
          }
          for (Iterator<String> names = spec.fieldNames(); names.hasNext(); ) {
            String n = names.next();
            if (!n.equals("buckets")) {
              throw new ConfigException(key + "." + n + " is not a known setting (known: buckets)");
            }
          }
          JsonNode list = spec.path("buckets");
          if (!list.isMissingNode()) {
            if (!list.isArray()) {
              throw new ConfigException(key + ".buckets must be a list like [HOUR, DAY]");
            }
            for (JsonNode g : list) {
              buckets.add(enumValue(key + ".buckets", g.asText(), Granularity.class));
            }
          }
        }
        b.counter(e.getKey(), buckets.toArray(Granularity[]::new));
      }
    }
  }

  /**
   * The dotted key a parser refused as a duplicate ({@code keys.stripes}, {@code adopt[1].match}),
   * or null when {@code e} is another error.
   */
  private static String duplicateKey(JsonProcessingException e) {
    if (!(e.getProcessor() instanceof JsonParser p)
        || e.getOriginalMessage() == null
        || !e.getOriginalMessage().startsWith("Duplicate field")) {
      return null;
    }
    StringBuilder path = new StringBuilder();
    for (JsonStreamContext c = p.getParsingContext(); c != null && !c.inRoot(); c = c.getParent()) {
      if (c.inObject() && c.getCurrentName() != null) {
        path.insert(0, "." + c.getCurrentName());
      } else if (c.inArray()) {
        path.insert(0, "[" + c.getCurrentIndex() + "]");
      }
    }
    return path.length() > 0 && path.charAt(0) == '.' ? path.substring(1) : path.toString();
  }

  private static void applyEnv(SpillwayConfig.Builder b, Map<String, String> env) {
    envValue(env, "SPILLWAY_REDIS_URI").ifPresent(b::redisUri);
    envValue(env, "SPILLWAY_REDIS_CLUSTER")
        .ifPresent(
            v -> {
              String t = v.trim().toLowerCase(Locale.ROOT);
              if (!t.equals("true") && !t.equals("false")) {
                throw new ConfigException(
                    "SPILLWAY_REDIS_CLUSTER must be true or false but was '" + v + "'");
              }
              b.redisCluster(t.equals("true"));
            });
    envValue(env, "SPILLWAY_JDBC_URL").ifPresent(b::jdbcUrl);
    envValue(env, "SPILLWAY_JDBC_USER").ifPresent(b::jdbcUser);
    envValue(env, "SPILLWAY_JDBC_PASSWORD").ifPresent(b::jdbcPassword);
    envValue(env, "SPILLWAY_KEY_PREFIX").ifPresent(b::keyPrefix);
    envValue(env, "SPILLWAY_SCHEMA").ifPresent(b::schema);
    envValue(env, "SPILLWAY_CLIENT_DURABILITY")
        .ifPresent(v -> b.durability(enumValue("SPILLWAY_CLIENT_DURABILITY", v, Durability.class)));
    envValue(env, "SPILLWAY_CLIENT_DURABLE_REPLICAS")
        .ifPresent(
            v -> {
              try {
                b.durableReplicas(Integer.parseInt(v.trim()));
              } catch (NumberFormatException e) {
                throw new ConfigException(
                    "SPILLWAY_CLIENT_DURABLE_REPLICAS must be a whole number but was '" + v + "'");
              }
            });
    envValue(env, "SPILLWAY_STRIPES")
        .ifPresent(
            v -> {
              try {
                b.stripes(Integer.parseInt(v.trim()));
              } catch (NumberFormatException e) {
                throw new ConfigException(
                    "SPILLWAY_STRIPES must be a whole number but was '" + v + "'");
              }
            });
  }

  /** The value of {@code s} in the file, by its kind; empty when the file does not set it. */
  private static Optional<Object> read(JsonNode root, CoreSettings.Setting s) {
    String key = s.key();
    return switch (s.kind()) {
      case TEXT, URI, SECRET -> str(root, key).map(v -> v);
      case DURATION -> str(root, key).map(v -> Durations.parse(key, v));
      case INT -> {
        OptionalInt n = integer(root, key);
        yield n.isPresent() ? Optional.of(n.getAsInt()) : Optional.empty();
      }
      case BOOL -> bool(root, key).map(v -> v);
      case OVERFLOW -> str(root, key).map(v -> enumValue(key, v, OverflowPolicy.class));
      case DURABILITY -> str(root, key).map(v -> enumValue(key, v, Durability.class));
    };
  }

  private static Optional<Boolean> bool(JsonNode root, String path) {
    JsonNode n = at(root, path);
    if (n.isMissingNode()) {
      return Optional.empty();
    }
    if (!n.isBoolean()) {
      throw new ConfigException(path + " must be true or false but was '" + n + "'");
    }
    return Optional.of(n.booleanValue());
  }

  private static Optional<String> envValue(Map<String, String> env, String name) {
    String v = env.get(name);
    return v == null || v.isEmpty() ? Optional.empty() : Optional.of(v);
  }

  private static void checkKeys(JsonNode node, String path) {
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String name = it.next();
      String full = path.isEmpty() ? name : path + "." + name;
      if (DELEGATED.contains(full)) {
        continue; // each of these sections checks its own keys
      }
      JsonNode child = node.get(name);
      boolean isSection = KNOWN.stream().anyMatch(k -> k.startsWith(full + "."));
      if (isSection) {
        if (!child.isObject()) {
          throw new ConfigException(full + " must be a mapping but was '" + child + "'");
        }
        checkKeys(child, full);
      } else if (!KNOWN.contains(full)) {
        throw new ConfigException(
            full
                + " is not a known setting (known: "
                + new TreeSet<>(KNOWN)
                + ", "
                + DELEGATED
                + ")");
      }
    }
  }

  private static JsonNode at(JsonNode root, String dotted) {
    JsonNode n = root;
    for (String part : dotted.split("\\.")) {
      n = n.path(part);
      if (n.isMissingNode()) {
        return MissingNode.getInstance();
      }
    }
    return n;
  }

  private static Optional<String> str(JsonNode root, String key) {
    JsonNode n = at(root, key);
    if (n.isMissingNode() || n.isNull()) {
      return Optional.empty();
    }
    if (!n.isValueNode()) {
      throw new ConfigException(key + " must be a single value but was '" + n + "'");
    }
    return Optional.of(n.asText());
  }

  private static OptionalInt integer(JsonNode root, String key) {
    JsonNode n = at(root, key);
    if (n.isMissingNode() || n.isNull()) {
      return OptionalInt.empty();
    }
    if (!n.isIntegralNumber() || !n.canConvertToInt()) {
      throw new ConfigException(key + " must be a whole number but was '" + n.asText() + "'");
    }
    return OptionalInt.of(n.intValue());
  }

  private static <E extends Enum<E>> E enumValue(String key, String value, Class<E> type) {
    try {
      return Enum.valueOf(type, value.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ConfigException(
          key
              + " must be one of "
              + Arrays.toString(type.getEnumConstants())
              + " but was '"
              + value
              + "'");
    }
  }
}
