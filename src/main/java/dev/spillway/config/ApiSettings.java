package dev.spillway.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.spillway.ConfigException;
import dev.spillway.layout.CounterNames;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Settings of the public HTTP API (section {@code api:} of the YAML file), served by the worker on
 * its own listener when {@code api.enabled}. Tokens are not here: they come from the environment
 * ({@link ApiTokens}, {@code SPILLWAY_API_TOKEN}).
 *
 * @param enabled whether the worker serves the API
 * @param bind address of the listener; loopback unless you mean it (a CDN or reverse proxy in front
 *     is the usual way out)
 * @param port its port; 0 picks a free one (the worker logs which)
 * @param maxAge {@code Cache-Control: max-age} of cacheable answers (whole seconds)
 * @param staleWhileRevalidate {@code stale-while-revalidate} of cacheable answers (whole seconds)
 * @param publicIncrements counters open to anonymous increments (beacons), each by 1 at most
 * @param anonymousRate anonymous increments per second one client address may send (a burst of as
 *     many is allowed); beyond it {@code 429}
 * @param corsOrigins origins allowed to call the API from a browser ({@code *}: any origin)
 */
public record ApiSettings(
    boolean enabled,
    String bind,
    int port,
    Duration maxAge,
    Duration staleWhileRevalidate,
    List<String> publicIncrements,
    int anonymousRate,
    List<String> corsOrigins) {

  public static final String DEFAULT_BIND = "127.0.0.1";
  public static final int DEFAULT_PORT = 8080;
  public static final Duration DEFAULT_MAX_AGE = Duration.ofSeconds(5);
  public static final Duration DEFAULT_STALE_WHILE_REVALIDATE = Duration.ofSeconds(60);
  public static final int DEFAULT_ANONYMOUS_RATE = 10;

  /** A year: the longest {@code max-age} RFC 9111 suggests a cache honour. */
  static final Duration MAX_CACHE_SECONDS = Duration.ofDays(365);

  public ApiSettings {
    if (bind == null || bind.isBlank()) {
      throw new ConfigException(
          "api.bind must be an address like 127.0.0.1 but was '" + bind + "'");
    }
    if (port < 0 || port > 65535) {
      throw new ConfigException("api.port must be between 0 and 65535 but was " + port);
    }
    wholeSeconds("api.max-age", maxAge, Duration.ZERO);
    wholeSeconds("api.stale-while-revalidate", staleWhileRevalidate, Duration.ZERO);
    publicIncrements = List.copyOf(publicIncrements == null ? List.of() : publicIncrements);
    for (String c : publicIncrements) {
      try {
        CounterNames.checkCounter(c);
      } catch (IllegalArgumentException e) {
        throw new ConfigException("api.public-increments: " + e.getMessage());
      }
    }
    if (anonymousRate < 1 || anonymousRate > 1_000_000) {
      throw new ConfigException(
          "api.anonymous-rate must be between 1 and 1000000 (per second per client) but was "
              + anonymousRate);
    }
    corsOrigins = List.copyOf(corsOrigins == null ? List.of() : corsOrigins);
    for (String o : corsOrigins) {
      checkOrigin(o);
    }
  }

  /** Every default: disabled, 127.0.0.1:8080, max-age 5s, stale-while-revalidate 60s. */
  public static ApiSettings defaults() {
    return new ApiSettings(
        false,
        DEFAULT_BIND,
        DEFAULT_PORT,
        DEFAULT_MAX_AGE,
        DEFAULT_STALE_WHILE_REVALIDATE,
        List.of(),
        DEFAULT_ANONYMOUS_RATE,
        List.of());
  }

  /** Parses the {@code api:} section (may be missing: {@link #defaults()}). */
  public static ApiSettings parse(JsonNode node) {
    ApiSettings d = defaults();
    if (node == null || node.isMissingNode() || node.isNull()) {
      return d;
    }
    ConfigNodes.checkKeys(
        node,
        "api",
        Set.of(
            "enabled",
            "bind",
            "port",
            "max-age",
            "stale-while-revalidate",
            "public-increments",
            "anonymous-rate",
            "cors-origins"));
    return new ApiSettings(
        ConfigNodes.bool(node, "enabled", "api.enabled").orElse(d.enabled()),
        ConfigNodes.str(node, "bind", "api.bind").orElse(d.bind()),
        ConfigNodes.integer(node, "port", "api.port").orElse(d.port()),
        ConfigNodes.duration(node, "max-age", "api.max-age").orElse(d.maxAge()),
        ConfigNodes.duration(node, "stale-while-revalidate", "api.stale-while-revalidate")
            .orElse(d.staleWhileRevalidate()),
        list(node, "public-increments", "[page_views]"),
        ConfigNodes.integer(node, "anonymous-rate", "api.anonymous-rate").orElse(d.anonymousRate()),
        list(node, "cors-origins", "[\"https://example.com\"]"));
  }

  /** A copy listening on {@code port} (0: any free one). */
  public ApiSettings withPort(int port) {
    return new ApiSettings(
        enabled,
        bind,
        port,
        maxAge,
        staleWhileRevalidate,
        publicIncrements,
        anonymousRate,
        corsOrigins);
  }

  /** The value of {@code Cache-Control} on cacheable answers. */
  public String cacheControl() {
    return "public, max-age="
        + maxAge.toSeconds()
        + ", stale-while-revalidate="
        + staleWhileRevalidate.toSeconds();
  }

  /** Whether anonymous clients may increment {@code counter}. */
  public boolean isPublic(String counter) {
    return publicIncrements.contains(counter);
  }

  /** The {@code Access-Control-Allow-Origin} value for a request from {@code origin}, or null. */
  public String allowedOrigin(String origin) {
    if (origin == null || corsOrigins.isEmpty()) {
      return null;
    }
    if (corsOrigins.contains("*")) {
      return "*";
    }
    return corsOrigins.contains(origin) ? origin : null;
  }

  /** The section's effective values, for the start-up line. */
  public Map<String, Object> effective() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("enabled", enabled);
    m.put("bind", bind);
    m.put("port", port);
    m.put("max-age", Durations.format(maxAge));
    m.put("stale-while-revalidate", Durations.format(staleWhileRevalidate));
    m.put("public-increments", publicIncrements);
    m.put("anonymous-rate", anonymousRate);
    m.put("cors-origins", corsOrigins);
    return m;
  }

  private static void wholeSeconds(String key, Duration d, Duration min) {
    if (d == null) {
      throw new ConfigException(key + " must be set");
    }
    if (d.compareTo(min) < 0 || d.compareTo(MAX_CACHE_SECONDS) > 0) {
      throw new ConfigException(
          key
              + " must be between "
              + Durations.format(min)
              + " and "
              + Durations.format(MAX_CACHE_SECONDS)
              + " but was "
              + Durations.format(d));
    }
    if (d.toMillis() % 1000 != 0) {
      throw new ConfigException(
          key
              + " must be whole seconds (HTTP caches count in seconds) but was "
              + Durations.format(d));
    }
  }

  private static void checkOrigin(String o) {
    if (o == null) {
      throw new ConfigException("api.cors-origins must not hold an empty entry");
    }
    if (o.equals("*")) {
      return;
    }
    URI u;
    try {
      u = new URI(o);
    } catch (Exception e) {
      u = null;
    }
    if (u == null
        || !("http".equals(u.getScheme()) || "https".equals(u.getScheme()))
        || u.getHost() == null
        || (u.getRawPath() != null && !u.getRawPath().isEmpty())
        || u.getRawQuery() != null
        || u.getRawFragment() != null
        || u.getRawUserInfo() != null) {
      throw new ConfigException(
          "api.cors-origins entries must be an origin like https://example.com (scheme, host,"
              + " optional port, no path) or * but was '"
              + o
              + "'");
    }
  }

  private static List<String> list(JsonNode node, String field, String example) {
    JsonNode n = node.path(field);
    if (n.isMissingNode() || n.isNull()) {
      return List.of();
    }
    if (!n.isArray()) {
      throw new ConfigException(
          "api." + field + " must be a list like " + example + " but was '" + n + "'");
    }
    List<String> out = new ArrayList<>();
    for (JsonNode e : n) {
      if (!e.isTextual()) {
        throw new ConfigException(
            "api."
                + field
                + " must be a list of strings like "
                + example
                + " but holds '"
                + e
                + "'");
      }
      out.add(e.asText());
    }
    return out;
  }
}
