package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.Spillway;
import dev.spillway.config.AdoptMapping;
import dev.spillway.config.KeyRegex;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 12: random bytes as keys and values under two mappings' patterns (control characters,
 * invalid UTF-8, keys and values up to 64 KB, empty values), written through a raw byte-array
 * connection. After the adopt runs: every applicable value counted exactly, every value that cannot
 * be applied in dead_letter with a readable (escaped) rendering and reason, every other key
 * byte-identical, and no dead letter holding a raw control character. The seed is printed; rerun
 * one with {@code -Dadopt.fuzz.seed=N}.
 */
@ExtendWith(ServicesExtension.class)
class AdoptFuzzTest {
  private static final int PAGES = 1000;

  /** What the test expects for one key it wrote. */
  private record Written(byte[] key, String kind) {}

  @Test
  void adopt_randomBytesUnderMatch_exactDeadLetteredOrUntouched(TestEnv env) throws Exception {
    long seed = Long.getLong("adopt.fuzz.seed", 20261205L);
    System.out.println("AdoptFuzzTest seed " + seed);
    SplittableRandom r = new SplittableRandom(seed);
    String ns = "fz-" + Long.toHexString(new SplittableRandom().nextLong()) + ":";
    AdoptFixtures.createTables(env, PAGES);
    env.exec(
        "CREATE TABLE "
            + env.schema()
            + ".fuzz_stats (day text NOT NULL, metric text NOT NULL,"
            + " value bigint NOT NULL, PRIMARY KEY (day, metric))");
    KeyRegex views = KeyRegex.compile(Pattern.quote(ns) + "v:(?<page_id>[0-9]{1,3})");
    KeyRegex stats = KeyRegex.compile(Pattern.quote(ns) + "h:(?<day>[0-9]{4})");
    AdoptMapping viewsMapping =
        new AdoptMapping(
            "fz-views",
            ns + "v:*",
            views,
            AdoptMapping.Type.STRING,
            "UPDATE "
                + env.schema()
                + ".pages SET view_count = view_count + :delta WHERE id = CAST(:page_id AS bigint)",
            null,
            null,
            null,
            null,
            50);
    AdoptMapping statsMapping =
        new AdoptMapping(
            "fz-stats",
            ns + "h:*",
            stats,
            AdoptMapping.Type.HASH,
            null,
            env.schema() + ".fuzz_stats",
            Map.of("day", "day", "field", "metric"),
            "value",
            null,
            50);

    Map<Integer, Long> pageTotals = new HashMap<>();
    Map<String, Long> statTotals = new HashMap<>(); // day|metric
    List<String[]> expectedDead =
        new ArrayList<>(); // key, field (escaped) or null, raw, reason start
    List<Written> untouched = new ArrayList<>();
    Map<String, byte[]> dumps = new HashMap<>();
    Set<String> leftAloneUnderMatch = new HashSet<>(); // distinct keys, escaped

    try (RedisClient client = RedisClient.create(env.redisUri());
        StatefulRedisConnection<byte[], byte[]> conn = client.connect(ByteArrayCodec.INSTANCE)) {
      RedisCommands<byte[], byte[]> redis = conn.sync();
      // 1. string keys named like counters: integer or garbage values
      Set<Integer> usedPages = new HashSet<>();
      for (int i = 0; i < 300; i++) {
        int page = r.nextInt(PAGES);
        if (!usedPages.add(page)) {
          continue; // one value per key: SET would overwrite
        }
        byte[] key = b(ns + "v:" + page);
        if (r.nextInt(3) > 0) {
          long v = r.nextLong(-1_000_000, 1_000_000);
          redis.set(key, b(Long.toString(v)));
          pageTotals.merge(page, v, Long::sum);
        } else {
          byte[] v = garbage(r);
          redis.set(key, v);
          expectedDead.add(
              new String[] {ns + "v:" + page, null, escape(v), "value is not a 64-bit integer"});
        }
      }
      // 2. keys under the match that key-regex does not describe: random bytes, up to 64 KB
      for (int i = 0; i < 150; i++) {
        byte[] key = concat(b(ns + "v:"), randomBytes(r, r.nextInt(10) == 0 ? 65_536 : 12));
        String text = text(key);
        if (text != null && views.matches(text)) {
          continue; // by chance a counter's name: case 1 covers those
        }
        redis.set(key, r.nextBoolean() ? garbage(r) : b(Long.toString(r.nextInt(100))));
        untouched.add(new Written(key, "foreign name"));
        leftAloneUnderMatch.add(escape(key));
      }
      // 3. counter names holding other types
      for (int i = 0; i < 40; i++) {
        int page = r.nextInt(PAGES);
        if (!usedPages.add(page)) {
          continue;
        }
        byte[] key = b(ns + "v:" + page);
        switch (r.nextInt(4)) {
          case 0 -> redis.rpush(key, garbage(r));
          case 1 -> redis.sadd(key, garbage(r));
          case 2 -> redis.zadd(key, r.nextDouble(), garbage(r));
          default -> redis.hset(key, b("n"), b("1"));
        }
        if (r.nextBoolean()) {
          redis.pexpire(key, 600_000);
        }
        untouched.add(new Written(key, "wrong type"));
        leftAloneUnderMatch.add(escape(key));
      }
      // 4. keys outside every match: never even seen
      for (int i = 0; i < 50; i++) {
        byte[] key = concat(b(ns + "w:"), randomBytes(r, r.nextInt(10) == 0 ? 65_536 : 10));
        redis.set(key, garbage(r));
        untouched.add(new Written(key, "outside"));
      }
      // 5. hashes named like the stats mapping: random fields and values
      for (int d = 0; d < 40; d++) {
        String day = String.format("%04d", d);
        byte[] key = b(ns + "h:" + day);
        int fields = 1 + r.nextInt(6);
        Map<ByteBuffer, byte[]> written = new HashMap<>();
        for (int f = 0; f < fields; f++) {
          byte[] field = r.nextBoolean() ? b("m" + r.nextInt(5)) : randomBytes(r, r.nextInt(8));
          byte[] value = r.nextInt(3) > 0 ? b(Long.toString(r.nextLong(0, 1000))) : garbage(r);
          written.put(ByteBuffer.wrap(field), value);
        }
        for (var e : written.entrySet()) {
          byte[] field = e.getKey().array();
          byte[] value = e.getValue();
          redis.hset(key, field, value);
          String fieldText = text(field);
          String v = text(value);
          boolean integer = v != null && v.matches("-?[0-9]{1,15}");
          if (fieldText == null) {
            expectedDead.add(
                new String[] {
                  ns + "h:" + day, escape(field), escape(value), "hash field is not text"
                });
          } else if (!integer) {
            expectedDead.add(
                new String[] {
                  ns + "h:" + day, fieldText, escape(value), "value is not a 64-bit integer"
                });
          } else {
            statTotals.merge(day + "|" + fieldText, Long.parseLong(v), Long::sum);
          }
        }
      }
      for (Written w : untouched) {
        dumps.put(escape(w.key()), redis.dump(w.key()));
      }
      Map<String, Long> ttlBefore = new HashMap<>();
      for (Written w : untouched) {
        ttlBefore.put(escape(w.key()), redis.pttl(w.key()));
      }

      Map<String, FlushReport> reports;
      try (Spillway sw = Spillways.builder(env).adopt(viewsMapping).adopt(statsMapping).build()) {
        reports = sw.adoptOnce();
        Map<String, FlushReport> again = sw.adoptOnce();
        assertThat(again.get("fz-views").cells()).as("a second run finds nothing new").isZero();
        assertThat(again.get("fz-stats").cells()).isZero();
      }
      FlushReport v = reports.get("fz-views");
      FlushReport h = reports.get("fz-stats");
      assertThat(v.ok()).as(v.toString()).isTrue();
      assertThat(h.ok()).as(h.toString()).isTrue();
      System.out.printf("fuzz: %s; %s; %d dead letters expected%n", v, h, expectedDead.size());

      // nothing lost: every applicable value counted exactly
      for (int page = 0; page < PAGES; page++) {
        assertThat(env.queryLong("SELECT view_count FROM pages WHERE id = ?", (long) page))
            .as("page " + page)
            .isEqualTo(pageTotals.getOrDefault(page, 0L));
      }
      for (var e : statTotals.entrySet()) {
        String[] dm = e.getKey().split("\\|", 2);
        assertThat(
                env.queryLong(
                    "SELECT value FROM fuzz_stats WHERE day = ? AND metric = ?", dm[0], dm[1]))
            .as(e.getKey())
            .isEqualTo(e.getValue());
      }
      assertThat(env.queryLong("SELECT count(*) FROM fuzz_stats")).isEqualTo(statTotals.size());
      // every value that cannot be applied is a readable dead letter
      assertThat(v.deadLetters() + h.deadLetters()).isEqualTo(expectedDead.size());
      for (String[] d : expectedDead) {
        assertThat(
                env.queryLong(
                    "SELECT count(*) FROM dead_letter WHERE key = ? AND field IS NOT DISTINCT FROM"
                        + " ? AND raw = ? AND reason LIKE ?",
                    d[0],
                    d[1],
                    d[2],
                    d[3] + "%"))
            .as("dead letter for " + d[0] + " " + d[1] + " = " + abbreviate(d[2]))
            .isEqualTo(1);
      }
      try (var c = env.dataSource().getConnection();
          var st = c.createStatement();
          ResultSet rs =
              st.executeQuery(
                  "SELECT key, field, raw, reason FROM " + env.schema() + ".dead_letter")) {
        while (rs.next()) {
          for (int col = 1; col <= 4; col++) {
            String s = rs.getString(col);
            assertThat(s == null || s.chars().noneMatch(Character::isISOControl))
                .as("dead letter column " + col + " readable: " + abbreviate(s))
                .isTrue();
          }
        }
      }
      // nothing else touched, and what was under a match counted
      for (Written w : untouched) {
        String name = escape(w.key());
        assertThat(redis.dump(w.key()))
            .as(w.kind() + " " + abbreviate(name))
            .isEqualTo(dumps.get(name));
        long before = ttlBefore.get(name);
        long after = redis.pttl(w.key());
        if (before < 0) {
          assertThat(after).isEqualTo(before);
        } else {
          assertThat(after).isBetween(before - 120_000, before);
        }
      }
      assertThat(v.leftAlone().total()).isEqualTo(leftAloneUnderMatch.size());
      assertThat(redis.keys(env.keyPrefix() + "*adopt*")).isEmpty();
      for (byte[] k : redis.keys(ns + "*")) {
        redis.del(k);
      }
    }
  }

  /** Bytes that are never an integer: a non-digit lead, then anything (or nothing at all). */
  private static byte[] garbage(SplittableRandom r) {
    return switch (r.nextInt(6)) {
      case 0 -> new byte[0];
      case 1 -> concat(new byte[] {(byte) 0xff}, randomBytes(r, 16));
      case 2 -> concat(new byte[] {0, 1, 2, 0x1b}, randomBytes(r, 16));
      case 3 -> concat(b("x"), randomBytes(r, 65_536));
      case 4 -> b("lots \\ of \u00e9 \u2028 views");
      default -> concat(b("12"), new byte[] {(byte) 0xc3}); // a truncated UTF-8 sequence
    };
  }

  private static byte[] randomBytes(SplittableRandom r, int max) {
    byte[] out = new byte[r.nextInt(max + 1)];
    r.nextBytes(out);
    return out;
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /** Valid UTF-8 without control characters, decoded; else null (independent of RedisText). */
  private static String text(byte[] bytes) {
    try {
      String s =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(bytes))
              .toString();
      return s.chars().anyMatch(Character::isISOControl) ? null : s;
    } catch (CharacterCodingException e) {
      return null;
    }
  }

  private static String escape(byte[] bytes) {
    return RedisText.escape(bytes);
  }

  private static String abbreviate(String s) {
    return s == null || s.length() < 120 ? s : s.substring(0, 120) + "…";
  }
}
