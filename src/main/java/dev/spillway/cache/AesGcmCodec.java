package dev.spillway.cache;

import dev.spillway.ConfigException;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Encrypts cached values at rest in Redis with AES-GCM (random 96-bit nonce, 128-bit tag). Each
 * envelope names the id of the key that sealed it, so keys rotate without a flag day: put the new
 * key first (it seals every new write), keep the old one after it until the longest TTL has passed
 * (it still opens what it sealed), then drop it. An entry sealed by a key no longer known, or
 * altered in Redis, opens as a miss and is loaded again; it never reaches the application.
 *
 * <p>The authenticated data is the entry's Redis key plus the envelope header, so an envelope
 * copied to another key, or given another expiry, does not open.
 *
 * <p>Hazard: the key material lives in the environment ({@link #fromEnvironment}); anyone who can
 * read the process environment can read the cache. Metadata (tags, times) is authenticated but not
 * encrypted.
 */
public final class AesGcmCodec {
  private static final Pattern KEY_ID = Pattern.compile("[A-Za-z0-9_.-]{1,32}");
  private static final int NONCE_BYTES = 12;
  private static final int TAG_BITS = 128;

  private final String activeId;
  private final Map<String, SecretKey> keys;
  private final SecureRandom random = new SecureRandom();

  private AesGcmCodec(String activeId, Map<String, SecretKey> keys) {
    this.activeId = activeId;
    this.keys = Map.copyOf(keys);
  }

  /**
   * Keys from one environment variable: {@code id:base64key[,id:base64key...]}; the first seals,
   * all open. Keys are 16, 24 or 32 bytes (AES-128/192/256).
   *
   * @throws ConfigException naming the variable when it is missing or malformed (the key material
   *     is never quoted)
   */
  public static AesGcmCodec fromEnvironment(Map<String, String> env, String variable) {
    String text = env.get(variable);
    if (text == null || text.isBlank()) {
      throw new ConfigException(
          "cache encryption needs the environment variable "
              + variable
              + " set to id:base64key[,id:base64key...] (the first key encrypts)");
    }
    Map<String, byte[]> keys = new LinkedHashMap<>();
    String first = null;
    for (String part : text.split(",")) {
      String p = part.trim();
      int colon = p.indexOf(':');
      if (colon <= 0) {
        throw new ConfigException(
            variable + " must be id:base64key[,id:base64key...] but an entry has no 'id:'");
      }
      String id = p.substring(0, colon);
      byte[] key;
      try {
        key = Base64.getDecoder().decode(p.substring(colon + 1));
      } catch (IllegalArgumentException e) {
        throw new ConfigException(variable + ": the key of id '" + id + "' is not valid base64");
      }
      if (keys.put(id, key) != null) {
        throw new ConfigException(variable + ": key id '" + id + "' appears twice");
      }
      first = first == null ? id : first;
    }
    return of(first, keys);
  }

  /**
   * Keys given directly; {@code activeId} seals.
   *
   * @throws ConfigException when an id is malformed, a key has the wrong length, or {@code
   *     activeId} is not among the keys
   */
  public static AesGcmCodec of(String activeId, Map<String, byte[]> keys) {
    Map<String, SecretKey> out = new LinkedHashMap<>();
    for (var e : keys.entrySet()) {
      if (!KEY_ID.matcher(e.getKey()).matches()) {
        throw new ConfigException(
            "cache encryption key id '" + e.getKey() + "' must match " + KEY_ID);
      }
      int n = e.getValue().length;
      if (n != 16 && n != 24 && n != 32) {
        throw new ConfigException(
            "cache encryption key '"
                + e.getKey()
                + "' must be 16, 24 or 32 bytes but was "
                + n
                + " bytes");
      }
      out.put(e.getKey(), new SecretKeySpec(e.getValue(), "AES"));
    }
    if (!out.containsKey(activeId)) {
      throw new ConfigException(
          "cache encryption: the active key id '" + activeId + "' is not among " + out.keySet());
    }
    return new AesGcmCodec(activeId, out);
  }

  /** The id of the key that seals new values. */
  public String activeKeyId() {
    return activeId;
  }

  /** {@code nonce || ciphertext+tag}, sealed by the active key. */
  byte[] seal(byte[] aad, byte[] plaintext) {
    try {
      byte[] nonce = new byte[NONCE_BYTES];
      random.nextBytes(nonce);
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.ENCRYPT_MODE, keys.get(activeId), new GCMParameterSpec(TAG_BITS, nonce));
      c.updateAAD(aad);
      byte[] sealed = c.doFinal(plaintext);
      byte[] out = new byte[NONCE_BYTES + sealed.length];
      System.arraycopy(nonce, 0, out, 0, NONCE_BYTES);
      System.arraycopy(sealed, 0, out, NONCE_BYTES, sealed.length);
      return out;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES-GCM is required by the Java platform: " + e, e);
    }
  }

  /** The plaintext, or null when the key id is unknown or the data was altered. */
  byte[] open(String keyId, byte[] aad, byte[] data) {
    SecretKey key = keys.get(keyId);
    if (key == null || data.length < NONCE_BYTES + TAG_BITS / 8) {
      return null;
    }
    try {
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, data, 0, NONCE_BYTES));
      c.updateAAD(aad);
      return c.doFinal(data, NONCE_BYTES, data.length - NONCE_BYTES);
    } catch (AEADBadTagException e) {
      return null;
    } catch (GeneralSecurityException e) {
      return null;
    }
  }

  @Override
  public String toString() {
    return "AesGcmCodec[active=" + activeId + ", keys=" + keys.keySet() + ", material=<masked>]";
  }
}
