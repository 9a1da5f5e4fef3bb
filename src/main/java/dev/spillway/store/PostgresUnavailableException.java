package dev.spillway.store;

import dev.spillway.SpillwayException;

/**
 * PostgreSQL cannot be reached, or refused the login. The message is one sentence that names the
 * server ({@code host:port}, never the password), the cause and the setting to check, for a CLI to
 * print as it is; {@link #reason()} is the cause alone ({@code connection refused}).
 */
public final class PostgresUnavailableException extends SpillwayException {
  private final String address;
  private final String reason;

  PostgresUnavailableException(String message, String address, String reason, Throwable cause) {
    super(message, cause);
    this.address = address;
    this.reason = reason;
  }

  /** {@code host:port} (comma-separated when the URL lists several servers). */
  public String address() {
    return address;
  }

  /** The cause in a few words: {@code connection refused}, {@code no answer within 3s}... */
  public String reason() {
    return reason;
  }
}
