package dev.spillway.spring;

import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import dev.spillway.counter.Counters;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.cache.CacheManager;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Spring Boot auto-configuration: a {@link Spillway} runtime from {@code spillway.*} ({@link
 * SpillwayProperties}), closed with the context (its close drains the local buffer first), and its
 * {@link Counters}. The context's {@link MeterRegistry} gets Spillway's meters when there is one.
 * Without {@code spillway.postgres.jdbc-url}, the application's DataSource is used when it is the
 * only one (or the primary) and talks to PostgreSQL.
 *
 * <p>With {@code @EnableCaching} and no {@link CacheManager} of the application's, a {@link
 * SpillwayCacheManager}; with Actuator, the {@code spillway} health component ({@link
 * SpillwayHealthIndicator}). {@code spillway.enabled=false} turns all of it off.
 */
@AutoConfiguration(
    afterName = {
      "org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration",
      "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration"
    },
    beforeName = "org.springframework.boot.cache.autoconfigure.CacheAutoConfiguration")
@ConditionalOnProperty(prefix = "spillway", name = "enabled", matchIfMissing = true)
@EnableConfigurationProperties(SpillwayProperties.class)
public class SpillwayAutoConfiguration {
  private static final Logger log = LoggerFactory.getLogger(SpillwayAutoConfiguration.class);

  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  public Spillway spillway(
      SpillwayProperties properties,
      ObjectProvider<MeterRegistry> registry,
      ObjectProvider<DataSource> dataSources) {
    SpillwayConfig config = properties.toConfig();
    Spillway.Builder b = Spillway.builder().config(config);
    registry.ifUnique(b::meterRegistry);
    if (properties.getPostgres().getJdbcUrl() == null) {
      DataSource ds = dataSources.getIfUnique();
      if (ds != null && postgres(ds)) {
        b.dataSource(ds);
      } else if (ds != null) {
        log.info(
            "event=datasource_not_used reason=\"not PostgreSQL\" postgres.jdbc-url={}",
            SpillwayConfig.maskUri(config.jdbcUrl()));
      }
    }
    return b.build();
  }

  @Bean
  @ConditionalOnMissingBean
  public Counters spillwayCounters(Spillway spillway) {
    return spillway.counters();
  }

  /**
   * Whether {@code ds} talks to PostgreSQL. When it cannot answer now it is taken as one: building
   * the runtime then reports PostgreSQL unreachable, as it would with a URL.
   */
  static boolean postgres(DataSource ds) {
    try (Connection c = ds.getConnection()) {
      return "PostgreSQL".equalsIgnoreCase(c.getMetaData().getDatabaseProductName());
    } catch (SQLException | RuntimeException e) {
      return true;
    }
  }

  /**
   * Spring's caching over Spillway caches, when the application enabled caching and has no manager.
   */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnBean(type = "org.springframework.cache.interceptor.CacheAspectSupport")
  @ConditionalOnMissingBean(CacheManager.class)
  static class CacheConfiguration {
    @Bean
    SpillwayCacheManager cacheManager(Spillway spillway, SpillwayProperties properties) {
      return new SpillwayCacheManager(
          spillway,
          properties.getSpringCache().getAllowedTypes(),
          SpillwayAutoConfiguration.class.getClassLoader());
    }
  }

  /**
   * The {@code spillway} health component, where Spring Boot's health support is present. Two
   * levels: the inner class's condition ({@code management.health.spillway.enabled}) is a class of
   * spring-boot-health, so it is only looked at once the outer one found that module.
   */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "org.springframework.boot.health.contributor.HealthIndicator")
  static class HealthConfiguration {
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnEnabledHealthIndicator("spillway")
    static class Enabled {
      @Bean
      @ConditionalOnMissingBean(name = "spillwayHealthIndicator")
      SpillwayHealthIndicator spillwayHealthIndicator(Spillway spillway) {
        return new SpillwayHealthIndicator(spillway);
      }
    }
  }
}
