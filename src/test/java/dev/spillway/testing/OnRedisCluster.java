package dev.spillway.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Runs a {@link ServicesExtension} test class against the suite's shared Redis Cluster ({@link
 * SharedRedisCluster}, 3 masters + 3 replicas) instead of the single Redis: its {@link TestEnv}
 * then carries the cluster's seed list and {@code redisCluster() == true}, and {@link
 * Spillways#builder} turns on {@code redis.cluster}. Inherited, so {@code @OnRedisCluster class
 * ExactnessOnClusterTest extends ExactnessTest {}} runs a whole single-Redis test on the cluster.
 */
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface OnRedisCluster {}
