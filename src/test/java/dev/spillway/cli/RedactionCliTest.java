package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.testing.JvmProcess;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Every CLI command, run against URLs that carry a known password (in the config file, in the
 * environment, on the command line), must print that password nowhere: not on stdout, not on
 * stderr, not in a log line. One child JVM per scenario runs every command in turn ({@link Probe}),
 * with {@code -v} so that INFO logs (the start-up line) are written too.
 */
@ExtendWith(ServicesExtension.class)
class RedactionCliTest {
  /** Every character that breaks a URL written without percent-encoding. */
  static final String HARD = "S3cr/t,p@ss:w%rd";

  static final String SIMPLE = "hunter2pw";

  /** Every scenario fails each command fast; a worker that started would run until this. */
  static final Duration TIMEOUT = Duration.ofSeconds(120);

  /** Arguments a command needs besides the configuration; a new command must be added here. */
  static final Map<String, List<String>> ARGS =
      Map.ofEntries(
          Map.entry("migrate", List.of()),
          Map.entry("flush", List.of("--once")),
          Map.entry("incr", List.of("page_views", "k1")),
          Map.entry("get", List.of("page_views", "k1")),
          Map.entry("demo", List.of("--duration", "1s")),
          Map.entry("report top", List.of("--counter", "page_views")),
          Map.entry("report series", List.of("--counter", "page_views", "--since", "1h")),
          Map.entry("report total", List.of("--counter", "page_views")),
          Map.entry("report maintain", List.of()),
          Map.entry("dead-letter list", List.of()),
          Map.entry("dead-letter replay", List.of()),
          Map.entry("dead-letter show", List.of("--id", "1")),
          Map.entry("dead-letter discard", List.of("--id", "1", "--reason", "redaction test")),
          Map.entry("worker", List.of("--http-port", "0")),
          Map.entry("doctor", List.of()));

  @TempDir static Path dir;
  static TestEnv env;

  @BeforeAll
  static void services(TestEnv testEnv) {
    env = testEnv;
  }

  @Test
  void everyCommand_isCovered() {
    assertThat(leafCommands()).containsExactlyInAnyOrderElementsOf(ARGS.keySet());
  }

  @Test
  void everyCommand_unparseableRedisUriInConfigFile() throws IOException {
    Path cfg = config("redis://:" + HARD + "@127.0.0.1:6379", env.jdbcUrl(), "password: " + SIMPLE);
    String out = probe(Map.of(), Set.of(), "-c", cfg.toString());
    assertNoSecret(out);
    assertEveryCommandSays(out, "a password holding / , @ : or % must be percent-encoded");
    assertThat(out).contains("'redis://<masked>@127.0.0.1:6379'");
  }

  @Test
  void everyCommand_passwordWithCommaInRedisUriFromEnvironment() throws IOException {
    Path cfg = config(env.redisUri(), env.jdbcUrl(), "");
    String out =
        probe(
            Map.of("SPILLWAY_REDIS_URI", "redis://u:" + SIMPLE + ",x@127.0.0.1:6379"),
            Set.of(),
            "-c",
            cfg.toString());
    assertNoSecret(out);
    assertEveryCommandSays(out, "redis.uri lists 2 nodes");
  }

  @Test
  void everyCommand_libpqUrlAsJdbcUrlFromEnvironment() throws IOException {
    Path cfg = config(env.redisUri(), env.jdbcUrl(), "");
    String out =
        probe(
            Map.of(
                "SPILLWAY_JDBC_URL",
                "postgresql://app:" + HARD + "@127.0.0.1:5432/test",
                "SPILLWAY_JDBC_PASSWORD",
                SIMPLE),
            Set.of(),
            "-c",
            cfg.toString());
    assertNoSecret(out);
    assertEveryCommandSays(out, "postgres.jdbc-url must start with jdbc:postgresql:");
    assertThat(out).contains("postgresql://<masked>@127.0.0.1:5432/test");
  }

  @Test
  void everyCommand_jdbcUrlPasswordParameterWithBadPort() throws IOException {
    // Redis answers, PostgreSQL's URL does not parse: the pool, doctor's connection and the
    // worker fail on it, and their drivers' messages repeat the URL.
    Path cfg =
        config(
            env.redisUri(),
            "jdbc:postgresql://127.0.0.1:99999/test?user=" + env.jdbcUser() + "&password=" + HARD,
            "");
    String out =
        probe(
            Map.of("SPILLWAY_JDBC_PASSWORD", SIMPLE, "SPILLWAY_DEBUG", "1"),
            Set.of("demo"), // would start an embedded PostgreSQL in place of the broken one
            "-c",
            cfg.toString());
    assertNoSecret(out);
    assertThat(out)
        .contains("cannot create the PostgreSQL pool for jdbc:postgresql://127.0.0.1:99999/test")
        .contains("password=<masked>");
  }

  @Test
  void everyCommand_wrongEncodedRedisPasswordFromEnvironment() throws IOException {
    // A well-formed URI whose credentials Redis refuses (an unknown user: the default user of a
    // Redis without requirepass takes any password): Lettuce's failure reaches the terminal, the
    // logs, doctor's lines.
    Path cfg = config(env.redisUri(), env.jdbcUrl(), "");
    String encoded = URLEncoder.encode(HARD, StandardCharsets.UTF_8);
    String out =
        probe(
            Map.of(
                "SPILLWAY_REDIS_URI",
                "redis://nosuchuser:" + encoded + "@127.0.0.1:6379",
                "SPILLWAY_JDBC_PASSWORD",
                SIMPLE),
            Set.of("demo"), // would start an embedded Redis in place of the refusing one
            "-c",
            cfg.toString());
    assertNoSecret(out);
    assertThat(out).contains("redis://<masked>@127.0.0.1:6379").contains("WRONGPASS");
  }

  @Test
  void everyCommand_secretInUnknownOption() throws IOException {
    Path cfg = config(env.redisUri(), env.jdbcUrl(), "");
    String out =
        probe(
            Map.of(),
            Set.of(),
            "-c",
            cfg.toString(),
            "--redis-uri=redis://:" + HARD + "@127.0.0.1:6379",
            "--jdbc-url=jdbc:postgresql://h/db?password=" + SIMPLE);
    assertNoSecret(out);
    assertEveryCommandSays(out, "Unknown option");
  }

  // ------------------------------------------------------------------ harness

  /** Runs {@link Probe} with {@code vars} over the inherited environment (SPILLWAY_* cleared). */
  private static String probe(Map<String, String> vars, Set<String> skip, String... args) {
    Map<String, String> childEnv = new HashMap<>();
    System.getenv().keySet().stream()
        .filter(k -> k.startsWith("SPILLWAY_") && !k.startsWith("SPILLWAY_TEST_"))
        .forEach(k -> childEnv.put(k, null));
    childEnv.putAll(vars);
    childEnv.put(Probe.SKIP, String.join(",", skip));
    JvmProcess.Result r = JvmProcess.run(Probe.class, TIMEOUT, childEnv, args);
    assertThat(r.timedOut()).as(r.output()).isFalse();
    Map<String, Integer> exits = exitCodes(r.output());
    Set<String> expected = new HashSet<>(ARGS.keySet());
    expected.removeAll(skip);
    assertThat(exits.keySet()).as(r.output()).containsExactlyInAnyOrderElementsOf(expected);
    return r.output();
  }

  private static Path config(String redisUri, String jdbcUrl, String passwordLine)
      throws IOException {
    Path cfg = Files.createTempFile(dir, "spillway-", ".yaml");
    Files.writeString(
        cfg,
        """
        redis:
          uri: '%s'
        postgres:
          jdbc-url: '%s'
          user: %s
          schema: %s
          %s
        keys:
          prefix: "%s"
          stripes: 8
        worker:
          shutdown-timeout: 1s
        """
            .formatted(
                redisUri, jdbcUrl, env.jdbcUser(), env.schema(), passwordLine, env.keyPrefix()));
    return cfg;
  }

  /** The password appears nowhere: raw, percent-encoded (either hex case), or in pieces. */
  private static void assertNoSecret(String output) {
    for (String secret : List.of(HARD, SIMPLE)) {
      String encoded = URLEncoder.encode(secret, StandardCharsets.UTF_8);
      assertThat(output)
          .as(output)
          .doesNotContain(secret)
          .doesNotContain(encoded)
          .doesNotContain(encoded.toLowerCase(Locale.ROOT))
          .doesNotContain(encoded.replace("+", "%20"));
    }
    assertThat(output)
        .as(output)
        .doesNotContain("S3cr")
        .doesNotContain("w%rd")
        .doesNotContain("hunter2");
  }

  /** Each command's section of the output says {@code text}: no command got by another way. */
  private static void assertEveryCommandSays(String output, String text) {
    for (Map.Entry<String, String> section : sections(output).entrySet()) {
      assertThat(section.getValue())
          .as(section.getKey() + ":\n" + section.getValue())
          .contains(text);
    }
  }

  private static final Pattern SECTION =
      Pattern.compile("(?s)### run (.+?)\\n(.*?)### exit \\1 (-?\\d+)");

  private static Map<String, String> sections(String output) {
    Map<String, String> out = new LinkedHashMap<>();
    Matcher m = SECTION.matcher(output);
    while (m.find()) {
      out.put(m.group(1), m.group(2));
    }
    return out;
  }

  private static Map<String, Integer> exitCodes(String output) {
    Map<String, Integer> out = new LinkedHashMap<>();
    Matcher m = SECTION.matcher(output);
    while (m.find()) {
      out.put(m.group(1), Integer.parseInt(m.group(3)));
    }
    return out;
  }

  /** Every runnable command of {@link Main}, as its words ({@code report top}). */
  static List<String> leafCommands() {
    List<String> out = new ArrayList<>();
    collect(new CommandLine(new Main()), "", out);
    return out;
  }

  private static void collect(CommandLine cl, String prefix, List<String> out) {
    for (Map.Entry<String, CommandLine> e : cl.getSubcommands().entrySet()) {
      if (e.getKey().equals("help")) {
        continue;
      }
      String name = prefix.isEmpty() ? e.getKey() : prefix + " " + e.getKey();
      if (e.getValue().getSubcommands().isEmpty()) {
        out.add(name);
      } else {
        collect(e.getValue(), name, out);
      }
    }
  }

  /**
   * Runs every command of {@link Main} in this JVM, one after another, each with its {@link #ARGS},
   * {@code -v} and the probe's own arguments; brackets each with {@code ### run NAME} and {@code
   * ### exit NAME CODE}. Commands named in {@code $REDACTION_PROBE_SKIP} are left out.
   */
  static final class Probe {
    static final String SKIP = "REDACTION_PROBE_SKIP";

    public static void main(String[] args) {
      Set<String> skip = Set.of(String.valueOf(System.getenv(SKIP)).split(","));
      for (String command : leafCommands()) {
        if (skip.contains(command)) {
          continue;
        }
        List<String> argv = new ArrayList<>(Arrays.asList(command.split(" ")));
        argv.addAll(ARGS.getOrDefault(command, List.of()));
        argv.add("-v");
        argv.addAll(Arrays.asList(args));
        System.out.println("### run " + command);
        System.out.flush();
        int code = Main.execute(argv.toArray(String[]::new));
        System.out.flush();
        System.err.flush();
        System.out.println("### exit " + command + " " + code);
        System.out.flush();
      }
      System.exit(0);
    }
  }
}
