package dev.spillway.api;

import dev.spillway.ConfigException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The bearer tokens of the HTTP API, from the environment variable {@code SPILLWAY_API_TOKEN}: one
 * token or several separated by commas (several let a token be rotated without downtime). Only
 * their SHA-256 digests are kept; {@link #valid} compares in constant time. The tokens themselves
 * are masked in every log line ({@link dev.spillway.config.Redactor} masks {@code SPILLWAY_*_TOKEN}
 * values and each comma-separated part of them).
 */
public final class ApiTokens {
  public static final String ENV = "SPILLWAY_API_TOKEN";

  /** 16 characters: long enough not to be guessed online, and to be masked in logs. */
  public static final int MIN_LENGTH = 16;

  private final List<byte[]> digests;

  private ApiTokens(List<byte[]> digests) {
    this.digests = List.copyOf(digests);
  }

  /** No tokens: exact reads and authenticated increments answer 401. */
  public static ApiTokens none() {
    return new ApiTokens(List.of());
  }

  /**
   * The tokens in {@code env}'s {@code SPILLWAY_API_TOKEN} (none when unset or empty).
   *
   * @throws ConfigException naming the rule when an entry is too short, empty or holds spaces
   */
  public static ApiTokens fromEnvironment(Map<String, String> env) {
    String value = env.get(ENV);
    if (value == null || value.isBlank()) {
      return none();
    }
    List<byte[]> digests = new ArrayList<>();
    String[] parts = value.split(",", -1);
    for (int i = 0; i < parts.length; i++) {
      String t = parts[i].trim();
      if (t.length() < MIN_LENGTH) {
        throw new ConfigException(
            ENV
                + " entry "
                + (i + 1)
                + " of "
                + parts.length
                + " must be at least "
                + MIN_LENGTH
                + " characters but was "
                + t.length());
      }
      for (int j = 0; j < t.length(); j++) {
        char c = t.charAt(j);
        if (c <= 0x20 || c >= 0x7f) {
          throw new ConfigException(
              ENV
                  + " entry "
                  + (i + 1)
                  + " must be visible ASCII without spaces but has a"
                  + " character U+"
                  + String.format("%04X", (int) c)
                  + " at index "
                  + j);
        }
      }
      digests.add(sha256(t));
    }
    return new ApiTokens(digests);
  }

  /** How many tokens are configured. */
  public int count() {
    return digests.size();
  }

  /** Whether {@code Authorization: Bearer <token>} names one of the tokens. */
  boolean valid(String authorization) {
    if (authorization == null || digests.isEmpty()) {
      return false;
    }
    String a = authorization.trim();
    if (a.length() < 7 || !a.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return false;
    }
    byte[] given = sha256(a.substring(7).trim());
    boolean ok = false;
    for (byte[] d : digests) {
      ok |= MessageDigest.isEqual(d, given); // every entry compared: no early exit
    }
    return ok;
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Never the tokens: how many there are. */
  @Override
  public String toString() {
    return "ApiTokens[" + digests.size() + "]";
  }
}
