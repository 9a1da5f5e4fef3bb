package dev.spillway.cache;

import dev.spillway.testing.OnRedisCluster;
import dev.spillway.testing.TestEnv;

/**
 * Issue 8, case 2: {@link InvalidationTest}, unchanged, on the shared Redis Cluster (3 masters, 3
 * replicas).
 */
@OnRedisCluster
class InvalidationOnClusterTest extends InvalidationTest {
  InvalidationOnClusterTest(TestEnv env) {
    super(env);
  }
}
