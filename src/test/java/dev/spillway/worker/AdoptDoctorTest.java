package dev.spillway.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spillway.SpillwayConfig;
import dev.spillway.config.AdoptMapping;
import dev.spillway.config.KeyRegex;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import java.nio.charset.StandardCharsets;
import java.time.InstantSource;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 12: {@code spillway doctor} samples each adopt mapping's pattern and WARNs naming keys that
 * adopt runs leave alone (escaped), by reason; it reads only.
 */
@ExtendWith(ServicesExtension.class)
class AdoptDoctorTest {
  private static SpillwayConfig config(TestEnv env, String ns) {
    return Spillways.config(env)
        .adopt(
            new AdoptMapping(
                "app-views",
                ns + "app:*",
                KeyRegex.compile(Pattern.quote(ns) + "app:views:(?<page_id>[0-9]+)"),
                AdoptMapping.Type.STRING,
                "UPDATE pages SET n = n + :delta WHERE id = :page_id",
                null,
                null,
                null,
                null,
                100))
        .build();
  }

  @Test
  void doctor_foreignKeysUnderMatch_warnsNamingThemEscaped(TestEnv env) {
    String ns = "dr-" + Long.toHexString(new SplittableRandom().nextLong()) + ":";
    try (RedisClient client = RedisClient.create(env.redisUri());
        StatefulRedisConnection<byte[], byte[]> conn = client.connect(ByteArrayCodec.INSTANCE)) {
      RedisCommands<byte[], byte[]> redis = conn.sync();
      redis.set(b(ns + "app:views:1"), b("3"));
      redis.set(b(ns + "app:session:abc"), b("token"));
      redis.rpush(b(ns + "app:views:2"), b("job"));
      byte[] notUtf8 = (ns + "app:views:?").getBytes(StandardCharsets.UTF_8);
      notUtf8[notUtf8.length - 1] = (byte) 0xff;
      redis.set(notUtf8, b("5"));

      List<Doctor.Line> lines = Doctor.run(config(env, ns), InstantSource.system());
      Doctor.Line line =
          lines.stream()
              .filter(l -> l.check().equals("adopt.app-views"))
              .findFirst()
              .orElseThrow(() -> new AssertionError(lines.toString()));
      assertThat(line.status()).as(line.toString()).isEqualTo(Doctor.Status.WARN);
      assertThat(line.message())
          .contains("of the 4 key(s) under " + ns + "app:*, 1 can be adopted")
          .contains(
              "3 keys under "
                  + ns
                  + "app:* left alone: 1 does not match key-regex (e.g. "
                  + ns
                  + "app:session:abc), 1 is a list (e.g. "
                  + ns
                  + "app:views:2), 1 is not text"
                  + " (invalid UTF-8 or control characters) (e.g. "
                  + ns
                  + "app:views:\\xff)");
      assertThat(line.fix()).contains("narrow match");
      // it only looked
      assertThat(redis.get(b(ns + "app:views:1"))).isEqualTo(b("3"));
      assertThat(redis.get(notUtf8)).isEqualTo(b("5"));
      assertThat(redis.lrange(b(ns + "app:views:2"), 0, -1)).hasSize(1);

      redis.del(b(ns + "app:session:abc"), b(ns + "app:views:2"), notUtf8);
      List<Doctor.Line> clean = Doctor.run(config(env, ns), InstantSource.system());
      assertThat(clean)
          .filteredOn(l -> l.check().equals("adopt.app-views"))
          .singleElement()
          .satisfies(l -> assertThat(l.status()).isEqualTo(Doctor.Status.OK))
          .satisfies(
              l -> assertThat(l.message()).contains("all 1 match key-regex and hold a string"));
      redis.del(b(ns + "app:views:1"));
    }
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
