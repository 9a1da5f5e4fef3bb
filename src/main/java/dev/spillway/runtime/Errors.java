package dev.spillway.runtime;

import dev.spillway.config.Redactor;

/**
 * How Spillway names a failure in one log field or message: the innermost cause, typed, with URL
 * userinfo and {@code password=} values hidden ({@link Redactor#mask}); drivers repeat URLs in
 * their messages.
 */
public final class Errors {
  private Errors() {}

  /** {@code SimpleName: message} of the innermost cause of {@code t}, redacted by shape. */
  public static String rootMessage(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return Redactor.mask(t.getClass().getSimpleName() + ": " + t.getMessage());
  }
}
