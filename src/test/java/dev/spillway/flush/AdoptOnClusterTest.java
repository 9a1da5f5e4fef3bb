package dev.spillway.flush;

import dev.spillway.testing.OnRedisCluster;

/**
 * Issue 8, case 2: {@link AdoptTest}, unchanged, on the shared Redis Cluster (3 masters, 3
 * replicas).
 */
@OnRedisCluster
class AdoptOnClusterTest extends AdoptTest {}
