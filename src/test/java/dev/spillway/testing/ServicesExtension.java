package dev.spillway.testing;

import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ExtensionContext.Namespace;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives each test class a {@link TestEnv}: the shared servers from {@link TestServices}, an empty
 * PostgreSQL schema {@code sw_t_<class>_<random>} and a Redis key prefix {@code swt:<random>:}.
 *
 * <p>Use it with {@code @ExtendWith(ServicesExtension.class)} and declare a {@code TestEnv}
 * parameter on the constructor, a {@code @BeforeAll}/{@code @BeforeEach} method or a test method;
 * all of them receive the same instance within one class ({@code @Nested} classes get their own).
 * After the class, the schema is dropped with everything in it and every key under the prefix is
 * unlinked. The extension runs no migrations: {@code Spillway.builder()} does, for the schema the
 * test gives it. Classes run in parallel, so a test must touch nothing outside its schema and
 * prefix.
 */
public final class ServicesExtension
    implements BeforeAllCallback, AfterAllCallback, ParameterResolver {

  private static final Namespace NAMESPACE = Namespace.create(ServicesExtension.class);
  private static final Logger LOG = LoggerFactory.getLogger(ServicesExtension.class);
  private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
  private static final int SCHEMA_MAX = 63; // PostgreSQL's identifier limit (NAMEDATALEN - 1)
  private static final RandomGenerator RANDOM = new SecureRandom();

  @Override
  public void beforeAll(ExtensionContext context) {
    env(context);
  }

  @Override
  public void afterAll(ExtensionContext context) {
    ExtensionContext owner = classContext(context);
    TestEnv env = owner.getStore(NAMESPACE).remove(owner.getRequiredTestClass(), TestEnv.class);
    if (env != null) {
      cleanUp(env);
    }
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    return parameter.getParameter().getType() == TestEnv.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    return env(context);
  }

  /**
   * The class's environment, created on first use: with a per-class test instance the constructor
   * asks before {@link #beforeAll} runs.
   */
  private static TestEnv env(ExtensionContext context) {
    ExtensionContext owner = classContext(context);
    return owner
        .getStore(NAMESPACE)
        .computeIfAbsent(owner.getRequiredTestClass(), c -> newEnv(c, owner), TestEnv.class);
  }

  /** Walks up from a method (or instantiation) context to the class it belongs to. */
  private static ExtensionContext classContext(ExtensionContext context) {
    ExtensionContext current = context;
    while (current.getTestMethod().isPresent() && current.getParent().isPresent()) {
      current = current.getParent().get();
    }
    return current;
  }

  /**
   * Creates the schema and returns the environment for {@code testClass}: on the shared Redis
   * Cluster when the class (or a superclass) carries {@link OnRedisCluster}, else on the suite's
   * Redis.
   */
  static TestEnv newEnv(Class<?> testClass, ExtensionContext context) {
    boolean cluster = onCluster(testClass);
    TestEnv env =
        new TestEnv(
            cluster ? SharedRedisCluster.get(context).seedUri() : TestServices.redisUri(),
            TestServices.jdbcUrl(),
            TestServices.jdbcUser(),
            TestServices.jdbcPassword(),
            schemaName(testClass),
            "swt:" + random(8) + ":",
            cluster);
    execute("CREATE SCHEMA " + env.schema());
    return env;
  }

  /** Drops the schema and unlinks the keys; failures are logged, since the names are unique. */
  static void cleanUp(TestEnv env) {
    try {
      execute("DROP SCHEMA IF EXISTS " + env.schema() + " CASCADE");
    } catch (IllegalStateException e) {
      LOG.warn("Could not drop test schema {}: {}", env.schema(), e.getMessage());
    }
    try {
      try (TestRedis redis = env.redis()) {
        redis.deleteMatching(env.keyPrefix() + "*");
      }
    } catch (RuntimeException e) {
      LOG.warn("Could not delete Redis keys {}*: {}", env.keyPrefix(), e.getMessage());
    }
  }

  private static boolean onCluster(Class<?> testClass) {
    for (Class<?> c = testClass; c != null; c = c.getEnclosingClass()) {
      if (c.isAnnotationPresent(OnRedisCluster.class)) {
        return true;
      }
    }
    return false;
  }

  static String schemaName(Class<?> testClass) {
    String name = testClass.getSimpleName().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
    String prefix = "sw_t_";
    String suffix = "_" + random(6);
    int room = SCHEMA_MAX - prefix.length() - suffix.length();
    return prefix + name.substring(0, Math.min(room, name.length())) + suffix;
  }

  private static void execute(String sql) {
    try (Connection connection = TestServices.dataSource().getConnection();
        Statement statement = connection.createStatement()) {
      statement.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException("'" + sql + "' failed: " + e.getMessage(), e);
    }
  }

  private static String random(int length) {
    StringBuilder text = new StringBuilder(length);
    for (int i = 0; i < length; i++) {
      text.append(ALPHABET.charAt(RANDOM.nextInt(ALPHABET.length())));
    }
    return text.toString();
  }
}
