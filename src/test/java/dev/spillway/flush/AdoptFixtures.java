package dev.spillway.flush;

import dev.spillway.config.AdoptMapping;
import dev.spillway.config.KeyRegex;
import dev.spillway.testing.TestEnv;
import java.util.Map;
import java.util.regex.Pattern;

/** The two mappings of issue 3's example, pointed at a test's own tables and key namespace. */
final class AdoptFixtures {
  private AdoptFixtures() {}

  static void createTables(TestEnv env, int pages) {
    env.exec(
        "CREATE TABLE "
            + env.schema()
            + ".pages (id bigint PRIMARY KEY, view_count bigint NOT NULL DEFAULT 0)");
    env.exec(
        "INSERT INTO " + env.schema() + ".pages (id) SELECT g FROM generate_series(0, ?) g",
        pages - 1);
    env.exec(
        "CREATE TABLE "
            + env.schema()
            + ".daily_stats (day date NOT NULL, metric text NOT NULL,"
            + " value bigint NOT NULL, PRIMARY KEY (day, metric))");
  }

  static AdoptMapping pageViews(TestEnv env, String ns) {
    return pageViews(env, ns, "pages");
  }

  static AdoptMapping pageViews(TestEnv env, String ns, String table) {
    return new AdoptMapping(
        "page-views",
        ns + "views:*",
        KeyRegex.compile(Pattern.quote(ns) + "views:(?<page_id>[0-9]+)"),
        AdoptMapping.Type.STRING,
        "UPDATE "
            + env.schema()
            + "."
            + table
            + " SET view_count = view_count + :delta"
            + " WHERE id = CAST(:page_id AS bigint)",
        null,
        null,
        null,
        "*/10 * * * * ?",
        1000);
  }

  static AdoptMapping dailyStats(TestEnv env, String ns) {
    return new AdoptMapping(
        "daily-stats",
        ns + "stats:*",
        KeyRegex.compile(Pattern.quote(ns) + "stats:(?<day>[0-9-]{10})"),
        AdoptMapping.Type.HASH,
        null,
        env.schema() + ".daily_stats",
        Map.of("day", "day", "field", "metric"),
        "value",
        null,
        1000);
  }
}
