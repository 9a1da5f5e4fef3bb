package dev.spillway;

/** How Spillway names a failure in one log field or message: the innermost cause, typed. */
public final class Errors {
  private Errors() {}

  /** {@code SimpleName: message} of the innermost cause of {@code t}. */
  public static String rootMessage(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getClass().getSimpleName() + ": " + t.getMessage();
  }
}
