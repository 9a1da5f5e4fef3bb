package dev.spillway.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.spillway.config.CacheSettings;
import dev.spillway.redis.RedisConnector;
import dev.spillway.redis.RedisLink;
import dev.spillway.runtime.RuntimeFailure;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.TestEnv;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The bus's publish queue is bounded: invalidations offered faster than Redis takes the messages
 * overflow it, and then everything queued is replaced by one CLEAR per cache concerned, which the
 * other runtimes receive (and which clears their L1). Nothing blocks the publishing caller.
 */
@ExtendWith(ServicesExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class BusQueueBoundTest {

  @Test
  void publish_pastQueueBound_collapsesIntoOneClearPerCache(TestEnv env) {
    var config = CacheFixtures.config(env, env.redisUri(), CacheFixtures.EXACT).build();
    CacheSettings s = config.cache();
    String channel = s.channelFor(config.keyPrefix()) + ".bound-test";
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    List<BusMessage.Item> received = Collections.synchronizedList(new ArrayList<>());
    SimpleMeterRegistry senderMeters = new SimpleMeterRegistry();
    try (RedisConnector client = RedisConnector.create(config, null);
        RedisLink<String, byte[]> data =
            client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE))) {
      L2 l2 = new L2(data.async(), Duration.ofSeconds(3), Duration.ofSeconds(1));
      InvalidationBus.Receiver collect =
          new InvalidationBus.Receiver() {
            @Override
            public void onItems(List<BusMessage.Item> items) {
              received.addAll(items);
            }

            @Override
            public void clearAll(String why) {}
          };
      InvalidationBus.Receiver ignore =
          new InvalidationBus.Receiver() {
            @Override
            public void onItems(List<BusMessage.Item> items) {}

            @Override
            public void clearAll(String why) {}
          };
      try (InvalidationBus listener =
              new InvalidationBus(
                  client,
                  channel,
                  l2,
                  new CacheMeters(new SimpleMeterRegistry()),
                  collect,
                  Duration.ofMinutes(1),
                  Duration.ofSeconds(3),
                  new RuntimeFailure(),
                  1_000);
          InvalidationBus sender =
              new InvalidationBus(
                  client,
                  channel,
                  l2,
                  new CacheMeters(senderMeters),
                  ignore,
                  Duration.ofMinutes(1),
                  Duration.ofSeconds(3),
                  new RuntimeFailure(),
                  10)) {
        listener.start(timer);
        sender.start(timer);
        for (int i = 0; i < 20_000; i++) { // far faster than one PUBLISH round trip per 10 items
          sender.publish(new BusMessage.Item(BusMessage.Kind.KEY, "users", "u" + i));
        }
        sender.publish(new BusMessage.Item(BusMessage.Kind.TAG, "teams", "t1"));

        await().atMost(Duration.ofSeconds(20)).until(() -> hasClear(received, "users"));
        assertThat(senderMeters.counter("spillway.cache.bus.items.collapsed").count()).isPositive();
        assertThat(received.stream().filter(i -> i.kind() == BusMessage.Kind.KEY).count())
            .as("most KEY items were collapsed, never all delivered")
            .isLessThan(20_000);
        await()
            .atMost(Duration.ofSeconds(20))
            .until(
                () ->
                    hasClear(received, "teams")
                        || received.stream().anyMatch(i -> i.kind() == BusMessage.Kind.TAG));
      }
    } finally {
      timer.shutdownNow();
    }
  }

  private static boolean hasClear(List<BusMessage.Item> items, String cache) {
    synchronized (items) {
      return items.stream()
          .anyMatch(i -> i.kind() == BusMessage.Kind.CLEAR && i.cache().equals(cache));
    }
  }
}
