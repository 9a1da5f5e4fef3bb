package dev.spillway.schedule;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Objects;
import java.util.Properties;
import java.util.UUID;
import javax.sql.DataSource;
import org.quartz.utils.ConnectionProvider;
import org.quartz.utils.DBConnectionManager;

/**
 * Where {@link JobScheduler}'s Quartz keeps its jobs: the Quartz properties of the in-memory store
 * or of the clustered JDBC store in Spillway's schema (its {@code qrtz_} tables, check-in and
 * misfire settings), and the connection providers through which that store borrows connections from
 * Spillway's pool without ever closing it.
 */
final class QuartzStore {
  private static final String TABLE_PREFIX = "qrtz_";

  private QuartzStore() {}

  /**
   * The Quartz properties of scheduler {@code name}: the in-memory store when {@code providerName}
   * is null, else the clustered JDBC store in {@code schema} using that connection provider.
   */
  static Properties properties(
      String name,
      String instanceId,
      int threads,
      String providerName,
      String schema,
      Duration checkin) {
    Properties p = new Properties();
    p.setProperty("org.quartz.scheduler.instanceName", name);
    p.setProperty("org.quartz.scheduler.instanceId", instanceId);
    p.setProperty("org.quartz.scheduler.skipUpdateCheck", "true");
    p.setProperty("org.quartz.scheduler.makeSchedulerThreadDaemon", "true");
    p.setProperty("org.quartz.threadPool.threadCount", Integer.toString(threads));
    p.setProperty("org.quartz.threadPool.threadNamePrefix", "spillway-job");
    p.setProperty("org.quartz.threadPool.makeThreadsDaemons", "true");
    if (providerName != null) {
      p.setProperty("org.quartz.jobStore.class", "org.quartz.impl.jdbcjobstore.JobStoreTX");
      p.setProperty(
          "org.quartz.jobStore.driverDelegateClass",
          "org.quartz.impl.jdbcjobstore.PostgreSQLDelegate");
      p.setProperty("org.quartz.jobStore.dataSource", providerName);
      p.setProperty("org.quartz.jobStore.tablePrefix", tablePrefix(schema));
      p.setProperty("org.quartz.jobStore.isClustered", "true");
      p.setProperty(
          "org.quartz.jobStore.clusterCheckinInterval", Long.toString(checkin.toMillis()));
      // Job data stays strings (there is none but the name): no Java serialization in the table.
      p.setProperty("org.quartz.jobStore.useProperties", "true");
      p.setProperty("org.quartz.jobStore.acquireTriggersWithinLock", "true");
      p.setProperty("org.quartz.jobStore.makeThreadsDaemons", "true");
      // A trigger later than this is a misfire, skipped until Quartz's misfire pass (run about as
      // often) moves it on: with short flush intervals and busy workers, 2 s left groups idle in
      // bursts (one worker took ~4.5 s instead of ~3.4 s in WorkersThroughputOnClusterTest).
      p.setProperty("org.quartz.jobStore.misfireThreshold", "1000");
    } else {
      p.setProperty("org.quartz.jobStore.class", "org.quartz.simpl.RAMJobStore");
      p.setProperty("org.quartz.jobStore.misfireThreshold", "1000");
    }
    return p;
  }

  /** Quartz's table prefix for {@code schema}: the schema-qualified {@code qrtz_}. */
  static String tablePrefix(String schema) {
    return '"' + schema.replace("\"", "\"\"") + "\"." + TABLE_PREFIX;
  }

  /** Registers a provider of connections from {@code dataSource} with Quartz; returns its name. */
  static String addProvider(DataSource dataSource) {
    String providerName = "spillway-pool-" + UUID.randomUUID();
    DBConnectionManager.getInstance()
        .addConnectionProvider(providerName, new SharedPoolConnectionProvider(dataSource));
    return providerName;
  }

  /** Replaces the provider {@code providerName} (if any) by one that refuses connections. */
  static void releaseProvider(String providerName) {
    if (providerName != null) {
      // Quartz keeps providers in a static map with no removal; leave a closed one behind so the
      // map does not pin the pool.
      DBConnectionManager.getInstance().addConnectionProvider(providerName, CLOSED);
    }
  }

  /**
   * Hands Quartz connections from Spillway's HikariCP pool. {@link #shutdown()} does nothing: the
   * pool belongs to the Spillway runtime, which closes it after the scheduler has stopped.
   */
  static final class SharedPoolConnectionProvider implements ConnectionProvider {
    private final DataSource dataSource;

    SharedPoolConnectionProvider(DataSource dataSource) {
      this.dataSource = Objects.requireNonNull(dataSource);
    }

    @Override
    public Connection getConnection() throws SQLException {
      return dataSource.getConnection();
    }

    @Override
    public void shutdown() {
      // Not ours to close.
    }

    @Override
    public void initialize() {}
  }

  private static final ConnectionProvider CLOSED =
      new ConnectionProvider() {
        @Override
        public Connection getConnection() throws SQLException {
          throw new SQLException("the Spillway job scheduler using this provider has stopped");
        }

        @Override
        public void shutdown() {}

        @Override
        public void initialize() {}
      };
}
