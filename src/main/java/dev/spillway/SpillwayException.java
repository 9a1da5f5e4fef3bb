package dev.spillway;

/**
 * Root of every exception Spillway throws on purpose. Unchecked: callers rarely can do more than
 * log and retry, and a checked signature would leak into every increment call site.
 */
public class SpillwayException extends RuntimeException {
  public SpillwayException(String message) {
    super(message);
  }

  public SpillwayException(String message, Throwable cause) {
    super(message, cause);
  }
}
