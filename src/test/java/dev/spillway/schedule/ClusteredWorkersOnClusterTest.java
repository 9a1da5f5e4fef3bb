package dev.spillway.schedule;

import dev.spillway.testing.OnRedisCluster;

/**
 * Issue 8, case 5: {@link ClusteredWorkersTest} with the counters on the shared Redis Cluster:
 * three workers (Quartz clustered on PostgreSQL) share the stripe-group flush jobs, every group is
 * flushed, no group runs on two workers at the same moment, and one worker SIGKILLed mid-run is
 * covered by the other two with exact totals.
 */
@OnRedisCluster
class ClusteredWorkersOnClusterTest extends ClusteredWorkersTest {}
