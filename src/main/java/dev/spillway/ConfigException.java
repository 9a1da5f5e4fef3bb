package dev.spillway;

/**
 * Invalid configuration: a key that does not exist, a value of the wrong type or an impossible
 * value. The message names the key, the value and the rule, and is meant to be shown to a person as
 * is (the CLI prints it without a stack trace and exits with code 2).
 */
public final class ConfigException extends SpillwayException {
  public ConfigException(String message) {
    super(message);
  }
}
