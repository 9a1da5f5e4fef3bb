package dev.spillway.testing;

import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;

/** Builders pointed at a test class's own schema and key prefix. */
public final class Spillways {
  private Spillways() {}

  /** A configuration builder pointed at the test class's schema and key prefix. */
  public static SpillwayConfig.Builder config(TestEnv env) {
    return SpillwayConfig.builder()
        .redisUri(env.redisUri())
        .redisCluster(env.redisCluster())
        .jdbcUrl(env.jdbcUrl())
        .jdbcUser(env.jdbcUser())
        .jdbcPassword(env.jdbcPassword())
        .schema(env.schema())
        .keyPrefix(env.keyPrefix())
        .stripes(64);
  }

  public static Spillway.Builder builder(TestEnv env) {
    return Spillway.builder()
        .redisUri(env.redisUri())
        .redisCluster(env.redisCluster())
        .jdbcUrl(env.jdbcUrl())
        .jdbcUser(env.jdbcUser())
        .jdbcPassword(env.jdbcPassword())
        .schema(env.schema())
        .keyPrefix(env.keyPrefix())
        .stripes(64);
  }
}
