package dev.spillway.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spillway.ConfigException;
import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import dev.spillway.testing.OnRedisCluster;
import dev.spillway.testing.ServicesExtension;
import dev.spillway.testing.Spillways;
import dev.spillway.testing.TestEnv;
import dev.spillway.testing.TestServices;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A deployment that names the wrong mode is refused at start with the setting to change, instead of
 * half working (a single-server client on a cluster node answers MOVED for two thirds of the
 * stripes); seed lists keep their secrets out of logs.
 */
@ExtendWith(ServicesExtension.class)
@OnRedisCluster
class RedisModeTest {

  @Test
  void singleServerConfig_onAClusterNode_isRefusedNamingTheSetting(TestEnv env) {
    String oneNode = env.redisUri().split(",")[0];
    assertThatThrownBy(() -> Spillways.builder(env).redisUri(oneNode).redisCluster(false).build())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("is a Redis Cluster node")
        .hasMessageContaining("set redis.cluster: true");
  }

  @Test
  void clusterConfig_onASingleServer_failsWithAHint(TestEnv env) {
    assertThatThrownBy(
            () ->
                Spillways.builder(env)
                    .redisUri(TestServices.redisUri())
                    .redisCluster(true)
                    .redisTimeout(Duration.ofSeconds(2))
                    .build())
        .isInstanceOf(SpillwayException.class)
        .hasMessageContaining("cannot connect to Redis cluster");
  }

  @Test
  void seedList_secretsMaskedInEveryEntry_andOnlyAllowedInTheFirst() {
    assertThat(SpillwayConfig.maskUri("redis://:s3cret@h1:1,admin:hunter2@h2:2, redis://u:pw@h3:3"))
        // The first userinfo runs to the last '@' before the next URL: a password may hold ','.
        .isEqualTo("redis://<masked>@h2:2, redis://<masked>@h3:3");
    assertThatThrownBy(
            () -> RedisSeeds.parse("redis://h1:1,admin:hunter2@h2:2", true, Duration.ofSeconds(1)))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("entry 2 carries credentials; give them once, in the first entry")
        .hasMessageNotContaining("hunter2");
  }
}
