package dev.spillway.cache;

import dev.spillway.testing.OnRedisCluster;

/**
 * Issue 8, case 2: {@link DatabaseInvalidationTest}, unchanged, on the shared Redis Cluster (3
 * masters, 3 replicas).
 */
@OnRedisCluster
class DatabaseInvalidationOnClusterTest extends DatabaseInvalidationTest {}
