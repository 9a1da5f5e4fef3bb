package dev.spillway.cache;

import dev.spillway.SpillwayException;

/** The loader failed; its exception is the cause. Nothing was cached. */
public final class CacheLoadException extends SpillwayException {
  public CacheLoadException(String message, Throwable cause) {
    super(message, cause);
  }
}
