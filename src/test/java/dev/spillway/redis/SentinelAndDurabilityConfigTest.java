package dev.spillway.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.ConfigException;
import dev.spillway.Durability;
import dev.spillway.SpillwayConfig;
import dev.spillway.config.ConfigLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 16: {@code redis-sentinel://} URIs and {@code client.durability}, accepted and refused. */
class SentinelAndDurabilityConfigTest {

  @Test
  void sentinelUri_accepted_withSeveralSentinelsDbAndMaster() {
    SpillwayConfig c =
        SpillwayConfig.builder()
            .redisUri("redis-sentinel://10.0.0.1:26379,10.0.0.2:26380/2#mymaster")
            .build();
    var u = RedisSeeds.parse(c.redisUri(), false, c.redisTimeout()).get(0);
    assertThat(u.getSentinels()).hasSize(2);
    assertThat(u.getSentinels().get(1).getPort()).isEqualTo(26380);
    assertThat(u.getSentinelMasterId()).isEqualTo("mymaster");
    assertThat(u.getDatabase()).isEqualTo(2);
  }

  @Test
  void sentinelUri_withoutMasterName_refusedNamingTheRule() {
    assertThatThrownBy(
            () -> SpillwayConfig.builder().redisUri("redis-sentinel://10.0.0.1:26379").build())
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "redis.uri must name the master after '#' as the sentinels know it"
                + " (redis-sentinel://host:26379#mymaster) but was"
                + " 'redis-sentinel://10.0.0.1:26379'");
  }

  @Test
  void sentinelUri_withCluster_refused() {
    assertThatThrownBy(
            () ->
                SpillwayConfig.builder()
                    .redisUri("redis-sentinel://:secret-pw@10.0.0.1:26379#m")
                    .redisCluster(true)
                    .build())
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith(
            "redis.uri names Redis Sentinels (redis-sentinel://), which redis.cluster: true does"
                + " not allow")
        .hasMessageNotContaining("secret-pw");
  }

  @Test
  void durability_defaultsAsyncOneReplica() {
    SpillwayConfig c = SpillwayConfig.builder().build();
    assertThat(c.durability()).isEqualTo(Durability.ASYNC);
    assertThat(c.durableReplicas()).isEqualTo(1);
    assertThat(c.toString()).contains("durability=async").contains("durable-replicas=1");
  }

  @Test
  void durability_fromYamlAndEnvironment(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("spillway.yaml");
    Files.writeString(f, "client:\n  durability: replicated\n  durable-replicas: 2\n");
    SpillwayConfig c = ConfigLoader.load(f, Map.of());
    assertThat(c.durability()).isEqualTo(Durability.REPLICATED);
    assertThat(c.durableReplicas()).isEqualTo(2);
    SpillwayConfig e =
        ConfigLoader.load(
            null,
            Map.of(
                "SPILLWAY_CLIENT_DURABILITY",
                "replicated",
                "SPILLWAY_CLIENT_DURABLE_REPLICAS",
                "3"));
    assertThat(e.durability()).isEqualTo(Durability.REPLICATED);
    assertThat(e.durableReplicas()).isEqualTo(3);
  }

  @Test
  void durability_unknownValue_refusedNamingTheAllowedOnes(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("spillway.yaml");
    Files.writeString(f, "client:\n  durability: sync\n");
    assertThatThrownBy(() -> ConfigLoader.load(f, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage("client.durability must be one of [ASYNC, REPLICATED] but was 'sync'");
  }

  @Test
  void durableReplicas_zero_refused() {
    assertThatThrownBy(() -> SpillwayConfig.builder().durableReplicas(0).build())
        .isInstanceOf(ConfigException.class)
        .hasMessage("client.durable-replicas must be between 1 and 100 but was 0");
  }
}
