package dev.spillway.testing;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ExtensionContext.Namespace;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * One {@link RedisClusterProcess} for every test class of the JVM run, started on first use.
 *
 * <p>An extension calls {@link #get(ExtensionContext)} (as {@link ServicesExtension} does for
 * {@code @OnRedisCluster} classes): it registers the cluster in JUnit's root store, which closes it
 * once every test class has run. A test class can also use
 * {@code @ExtendWith(SharedRedisCluster.class)} and declare a {@code RedisClusterProcess} parameter
 * (on the constructor, a {@code @BeforeAll} or a test method). {@link #get()} works without a
 * context; the cluster's shutdown hook then stops it when the JVM exits.
 *
 * <p>Classes run in parallel on the shared cluster, so each must keep to its own key prefix and
 * leave the cluster as it found it. A test that kills, restarts or reshards nodes should start its
 * own {@code RedisClusterProcess}; one that does it here anyway must restart what it killed and
 * wait for {@link RedisClusterProcess#awaitHealthy} before it ends, and must expect the classes
 * running beside it to notice.
 */
public final class SharedRedisCluster implements ParameterResolver {

  private static final Namespace NAMESPACE = Namespace.create(SharedRedisCluster.class);

  private static RedisClusterProcess cluster; // guarded by SharedRedisCluster.class

  /** For {@code @ExtendWith}; the cluster itself is static. */
  public SharedRedisCluster() {}

  /** The shared cluster, started on the first call (which takes a few seconds). */
  public static synchronized RedisClusterProcess get() {
    if (cluster == null) {
      cluster = RedisClusterProcess.start();
    }
    return cluster;
  }

  /** The shared cluster, closed by JUnit after the last test class of the run. */
  public static RedisClusterProcess get(ExtensionContext anyContext) {
    RedisClusterProcess shared = get();
    anyContext
        .getRoot()
        .getStore(NAMESPACE)
        .computeIfAbsent(Teardown.class, key -> new Teardown(), Teardown.class);
    return shared;
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    return parameter.getParameter().getType() == RedisClusterProcess.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    return get(context);
  }

  /** Stops the shared cluster; a later {@link #get()} starts a new one. */
  static synchronized void stop() {
    if (cluster != null) {
      cluster.close();
      cluster = null;
    }
  }

  /** Held in the root store: JUnit closes {@code AutoCloseable} values when the run ends. */
  private static final class Teardown implements AutoCloseable {
    @Override
    public void close() {
      stop();
    }
  }
}
