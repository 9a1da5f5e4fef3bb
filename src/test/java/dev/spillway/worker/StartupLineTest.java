package dev.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ConfigLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The line that logs the effective configuration at start ({@code event=started client=spillway
 * ...}, as {@code Spillway} logs it) reads back with any logfmt parser, and with {@code log.format:
 * json} is one JSON object with the configuration nested in YAML's shape. The configuration here
 * has what used to break the line: schedules with spaces, a password in the Redis URI, per-counter
 * levels and retention.
 */
class StartupLineTest {
  private static final ch.qos.logback.classic.Logger LOGGER =
      new LoggerContext().getLogger("dev.spillway.Spillway");

  private static final String YAML =
      """
      redis:
        uri: redis://:s3cr3t-pw@127.0.0.1:6379/0
      postgres:
        password: "pg pass=word"
      counters:
        page_views: {buckets: [MINUTE, HOUR]}
        api-calls: {}
      worker:
        cluster: true
        flush:
          schedule: "0/2 * * * * ?"
        ledger:
          prune-schedule: "0 17 * * * ?"
      reporting:
        retention:
          page_views: {minute: 1d, hour: 30d, day: forever}
      """;

  private static SpillwayConfig config() throws Exception {
    Path p = Files.createTempFile("spillway-startup-", ".yaml");
    try {
      Files.writeString(p, YAML);
      return ConfigLoader.load(p, Map.of());
    } finally {
      Files.delete(p);
    }
  }

  /** The event exactly as {@code Spillway} logs it. */
  private static LoggingEvent startedEvent(SpillwayConfig config) {
    return new LoggingEvent(
        "x",
        LOGGER,
        Level.INFO,
        "event=started client={} {}",
        null,
        new Object[] {"spillway", config});
  }

  @Test
  void startedLine_keyValueFormat_parsesAsLogfmt() throws Exception {
    String line = new LogSetup.KeyValueLayout().doLayout(startedEvent(config())).strip();

    Map<String, String> pairs = parseLogfmt(line);

    assertThat(pairs)
        .containsEntry("level", "INFO")
        .containsEntry("logger", "Spillway")
        .containsEntry("event", "started")
        .containsEntry("client", "spillway")
        .containsEntry("redis.timeout", "5s")
        .containsEntry("postgres.password", "<masked>")
        .containsEntry("counters.page_views", "minute,hour")
        .containsEntry("worker.cluster", "true")
        .containsEntry("worker.flush.schedule", "0/2 * * * * ?")
        .containsEntry("worker.ledger.prune-schedule", "0 17 * * * ?")
        .containsEntry("reporting.retention.page_views.day", "forever")
        .containsEntry("reporting.schedule.rollup", "0 15 * * * ?")
        .containsKeys("redis.uri", "worker.http.port", "cache.l1.max-size")
        .doesNotContainKey("msg");
    assertThat(pairs.get("redis.uri")).doesNotContain("s3cr3t-pw");
    assertThat(line).doesNotContain("s3cr3t-pw", "pg pass");
  }

  @Test
  void startedLine_jsonFormat_isOneObjectWithTheConfigurationNested() throws Exception {
    String line = new LogSetup.JsonLayout().doLayout(startedEvent(config()));

    assertThat(line).endsWith("\n");
    assertThat(line.strip()).doesNotContain("\n");
    JsonNode json = new ObjectMapper().readTree(line);

    assertThat(json.path("event").asText()).isEqualTo("started");
    assertThat(json.path("client").asText()).isEqualTo("spillway");
    assertThat(json.path("redis").path("timeout").asText()).isEqualTo("5s");
    assertThat(json.path("postgres").path("password").asText()).isEqualTo("<masked>");
    assertThat(json.path("worker").path("http").path("port").asInt()).isEqualTo(9464);
    assertThat(json.path("worker").path("ledger").path("prune-schedule").asText())
        .isEqualTo("0 17 * * * ?");
    assertThat(json.path("worker").path("flush").path("schedule").asText())
        .isEqualTo("0/2 * * * * ?");
    assertThat(json.path("counters").path("page_views").asText()).isEqualTo("minute,hour");
    assertThat(json.path("reporting").path("retention").path("page_views").path("hour").asText())
        .isEqualTo("30d");
    assertThat(json.path("cache").path("l1").path("max-size").isNumber()).isTrue();
    assertThat(line).doesNotContain("s3cr3t-pw", "pg pass");
  }

  @Test
  void jsonLayout_dottedKeyUnderAValue_staysFlat() {
    Map<String, Object> tree = new LinkedHashMap<>();

    LogSetup.JsonLayout.put(tree, "a", "1");
    LogSetup.JsonLayout.put(tree, "a.b", "2");
    LogSetup.JsonLayout.put(tree, "c.d", "3");
    LogSetup.JsonLayout.put(tree, "c", "4");
    LogSetup.JsonLayout.put(tree, "e..f", "5");

    assertThat(tree)
        .containsEntry("a", "1")
        .containsEntry("a.b", "2")
        .containsEntry("c", Map.of("d", "3"))
        .containsEntry("msg_c", "4")
        .containsEntry("e..f", "5")
        .hasSize(5);
  }

  @Test
  void parseLogfmt_strayText_isRejected() {
    assertThatThrownBy(() -> parseLogfmt("event=started schedule=0 17 * * * ?"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * A strict logfmt reader, independent of the worker's own: pairs separated by one space, keys
   * {@code [A-Za-z_][A-Za-z0-9_.-]*}, values bare (no space, quote, {@code =} or backslash) or
   * double-quoted with {@code \" \\ \n \r \t} escapes. Anything else, or a repeated key, throws.
   */
  static Map<String, String> parseLogfmt(String line) {
    Map<String, String> out = new LinkedHashMap<>();
    int i = 0;
    int n = line.length();
    while (i < n) {
      int keyStart = i;
      while (i < n
          && (Character.isLetterOrDigit(line.charAt(i)) || "_.-".indexOf(line.charAt(i)) >= 0)) {
        i++;
      }
      String key = line.substring(keyStart, i);
      if (!key.matches("[A-Za-z_][A-Za-z0-9_.-]*") || i >= n || line.charAt(i) != '=') {
        throw new IllegalArgumentException("no key=value at column " + keyStart + ": " + line);
      }
      i++;
      StringBuilder value = new StringBuilder();
      if (i < n && line.charAt(i) == '"') {
        for (i++; ; i++) {
          if (i >= n) {
            throw new IllegalArgumentException("unterminated quote for " + key);
          }
          char c = line.charAt(i);
          if (c == '"') {
            i++;
            break;
          }
          if (c == '\\') {
            char e = ++i < n ? line.charAt(i) : '?';
            value.append(
                switch (e) {
                  case '"', '\\' -> e;
                  case 'n' -> '\n';
                  case 'r' -> '\r';
                  case 't' -> '\t';
                  default -> throw new IllegalArgumentException("bad escape \\" + e + " in " + key);
                });
          } else {
            value.append(c);
          }
        }
      } else {
        while (i < n && line.charAt(i) != ' ') {
          char c = line.charAt(i++);
          if (c == '"' || c == '=' || c == '\\' || c < ' ') {
            throw new IllegalArgumentException("unquoted " + c + " in the value of " + key);
          }
          value.append(c);
        }
      }
      if (out.put(key, value.toString()) != null) {
        throw new IllegalArgumentException("key " + key + " twice");
      }
      if (i < n) {
        if (line.charAt(i) != ' ' || i + 1 >= n) {
          throw new IllegalArgumentException(
              "pairs must be separated by one space, at column " + i);
        }
        i++;
      }
    }
    return out;
  }
}
