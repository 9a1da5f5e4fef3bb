package dev.spillway.spring;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * PostgreSQL connection. Without jdbc-url, Spillway uses the application's single PostgreSQL
 * DataSource when there is one.
 */
public class SpillwayPostgresProperties {
  /**
   * JDBC URL of the PostgreSQL database; when unset and the application has exactly one PostgreSQL
   * DataSource, Spillway uses that DataSource.
   */
  private String jdbcUrl;

  /** PostgreSQL user. Default postgres. */
  private String user;

  /** PostgreSQL password; keep it in the environment (SPILLWAY_POSTGRES_PASSWORD). */
  private String password;

  /** Schema holding Spillway's tables. Default spillway. */
  private String schema;

  /** Connections in Spillway's own pool (not used with the application's DataSource). */
  private Integer poolSize;

  /**
   * How long connecting to PostgreSQL may take, a duration like 250ms, 5s, 2m, 1h, 7d or PT1S.
   * Default 5s.
   */
  private String connectTimeout;

  public String getJdbcUrl() {
    return jdbcUrl;
  }

  public void setJdbcUrl(String v) {
    this.jdbcUrl = v;
  }

  public String getUser() {
    return user;
  }

  public void setUser(String v) {
    this.user = v;
  }

  public String getPassword() {
    return password;
  }

  public void setPassword(String v) {
    this.password = v;
  }

  public String getSchema() {
    return schema;
  }

  public void setSchema(String v) {
    this.schema = v;
  }

  public Integer getPoolSize() {
    return poolSize;
  }

  public void setPoolSize(Integer v) {
    this.poolSize = v;
  }

  public String getConnectTimeout() {
    return connectTimeout;
  }

  public void setConnectTimeout(String v) {
    this.connectTimeout = v;
  }

  void toTree(ObjectNode n) {
    SpillwayProperties.put(n, "jdbc-url", jdbcUrl);
    SpillwayProperties.put(n, "user", user);
    SpillwayProperties.put(n, "password", password);
    SpillwayProperties.put(n, "schema", schema);
    SpillwayProperties.put(n, "pool-size", poolSize);
    SpillwayProperties.put(n, "connect-timeout", connectTimeout);
  }
}
