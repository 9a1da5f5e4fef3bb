package dev.spillway.config;

import dev.spillway.Granularity;
import dev.spillway.SpillwayConfig;

/**
 * The copy of a configuration record into a fresh {@link SpillwayConfig.Builder}, setting by
 * setting through the builder's public setters: what {@link SpillwayConfig#toBuilder()} returns, so
 * that a caller can change a few settings of a loaded configuration (the worker turns {@code
 * flush.enabled} off, the CLI applies its options). Every component of the record is copied here,
 * in the record's order; a new component needs its line here as it does in the builder.
 */
public final class ConfigCopy {
  private ConfigCopy() {}

  /** A builder holding every setting of {@code c}. */
  public static SpillwayConfig.Builder toBuilder(SpillwayConfig c) {
    SpillwayConfig.Builder b =
        SpillwayConfig.builder()
            .redisUri(c.redisUri())
            .redisTimeout(c.redisTimeout())
            .redisCluster(c.redisCluster())
            .jdbcUrl(c.jdbcUrl())
            .jdbcUser(c.jdbcUser())
            .jdbcPassword(c.jdbcPassword())
            .schema(c.schema())
            .poolSize(c.poolSize())
            .postgresConnectTimeout(c.postgresConnectTimeout())
            .keyPrefix(c.keyPrefix())
            .stripes(c.stripes())
            .drainInterval(c.drainInterval())
            .maxPendingCells(c.maxPendingCells())
            .overflowPolicy(c.overflowPolicy())
            .blockTimeout(c.blockTimeout())
            .closeTimeout(c.closeTimeout())
            .flushEnabled(c.flushEnabled())
            .flushInterval(c.flushInterval())
            .flushMaxCellsPerTransaction(c.flushMaxCellsPerTransaction())
            .flushMaxPendingBatchesPerStripe(c.flushMaxPendingBatchesPerStripe())
            .flushApplyConnections(c.flushApplyConnections());
    c.counters().forEach((name, buckets) -> b.counter(name, buckets.toArray(new Granularity[0])));
    c.adopt().forEach(b::adopt);
    return b.worker(c.worker())
        .reporting(c.reporting())
        .cache(c.cache())
        .api(c.api())
        .durability(c.durability())
        .durableReplicas(c.durableReplicas());
  }
}
