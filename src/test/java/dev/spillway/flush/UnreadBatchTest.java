package dev.spillway.flush;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.spillway.Spillway;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TcpProxy;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.RedisURI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * "Nothing is acknowledged that was not applied" (issue 18): a batch whose read comes back empty
 * for the wrong reason (a desynchronized connection, a decoding failure) must not be deleted. The
 * wrong reason is made real: a proxy between the flusher and Redis renames the key of one batch
 * read in flight ({@code :batch:} to {@code :bxtch:}, same length), so Redis answers that read with
 * an empty hash while the batch key still holds every cell.
 */
@ExtendWith(ServicesExtension.class)
class UnreadBatchTest {
  private static final byte[] READ = "*2\r\n$7\r\nHGETALL\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] BATCH = ":batch:".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] OTHER = ":bxtch:".getBytes(StandardCharsets.US_ASCII);

  @Test
  void flushOnce_batchReadBackEmptyWhileItHoldsCells_keptAndAppliedOnceLater(TestEnv env) {
    assumeFalse(env.redisCluster(), "one proxied node");
    RedisURI target = RedisURI.create(env.redisUri());
    AtomicInteger rewritten = new AtomicInteger();
    try (TcpProxy proxy = TcpProxy.start(target.getHost(), target.getPort());
        Spillway sw =
            Spillways.builder(env)
                .redisUri("redis://" + target.getHost() + ":" + proxy.port())
                .stripes(2)
                .build()) {
      var c = sw.counters();
      for (int i = 0; i < 50; i++) {
        c.increment("unread", "k" + i, 3);
      }
      c.flush();
      proxy.rewriteOnce(
          chunk -> {
            if (indexOf(chunk, READ, 0) < 0) {
              return chunk;
            }
            int at = indexOf(chunk, BATCH, indexOf(chunk, READ, 0));
            if (at < 0) {
              return chunk;
            }
            byte[] out = chunk.clone();
            System.arraycopy(OTHER, 0, out, at, OTHER.length);
            rewritten.incrementAndGet();
            return out;
          });

      FlushReport first = sw.flushOnce();
      assertThat(rewritten.get()).as("one batch read was answered empty").isEqualTo(1);
      assertThat(first.ok()).as("the run says a batch read back empty: %s", first).isFalse();
      assertThat(first.errors()).anyMatch(e -> e.contains("read back empty"));

      ExactnessTest.drain(sw);
      for (int i = 0; i < 50; i++) {
        assertThat(
                env.queryLong(
                    "SELECT total FROM counter_totals WHERE counter = 'unread' AND key = ?",
                    "k" + i))
            .as("k" + i + " applied once, after all")
            .isEqualTo(3);
      }
      assertThat(env.queryLong("SELECT count(*) FROM dead_letter")).isZero();
    }
  }

  private static int indexOf(byte[] hay, byte[] needle, int from) {
    outer:
    for (int i = from; i <= hay.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
