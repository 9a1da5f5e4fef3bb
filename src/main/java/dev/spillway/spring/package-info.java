/**
 * Internal: Spring Boot 4 auto-configuration: {@code spillway.*} properties, the {@code Spillway}
 * and {@code Counters} beans, a {@code CacheManager} over {@link dev.spillway.cache.CacheAside} and
 * an Actuator health indicator. Spring finds these classes by name; applications use them through
 * properties and the beans they define, never by type. Optional: nothing here loads unless Spring
 * Boot is on the class path.
 *
 * <p>May use the root's entry point and the API packages, {@code config} and {@code redis}.
 */
package dev.spillway.spring;
