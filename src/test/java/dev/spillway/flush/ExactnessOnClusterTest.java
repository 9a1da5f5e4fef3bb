package dev.spillway.flush;

import dev.spillway.testing.OnRedisCluster;

/**
 * Issue 8, case 2: {@link ExactnessTest}, unchanged, on the shared Redis Cluster (3 masters, 3
 * replicas).
 */
@OnRedisCluster
class ExactnessOnClusterTest extends ExactnessTest {}
