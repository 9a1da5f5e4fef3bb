package dev.spillway.cache;

import java.util.function.Function;

/**
 * What a cache key must encode to and what a tag must look like; both end up inside Redis key names
 * and bus messages. Violations throw {@link IllegalArgumentException} naming the cache, the rule
 * and what was found.
 */
final class KeyRules<K> {
  private static final int MAX_KEY_CHARS = 1024;

  private final String name;
  private final Function<? super K, String> keyEncoder;

  KeyRules(String name, Function<? super K, String> keyEncoder) {
    this.name = name;
    this.keyEncoder = keyEncoder;
  }

  String encode(K key) {
    if (key == null) {
      throw new IllegalArgumentException("cache '" + name + "': key must not be null");
    }
    return checkEncoded(name, keyEncoder.apply(key));
  }

  /**
   * Checks a key already encoded (as a foreign event carries it) against the rules of cache {@code
   * name}, and returns it.
   */
  static String checkEncoded(String name, String k) {
    if (k == null || k.isEmpty() || k.length() > MAX_KEY_CHARS) {
      throw new IllegalArgumentException(
          "cache '"
              + name
              + "': key must encode to 1.."
              + MAX_KEY_CHARS
              + " characters but was "
              + (k == null ? "null" : k.length() + " characters"));
    }
    for (int i = 0; i < k.length(); i++) {
      if (Character.isISOControl(k.charAt(i))) {
        throw new IllegalArgumentException(
            "cache '" + name + "': key must not contain control characters (at index " + i + ")");
      }
    }
    return k;
  }

  String checkTag(String tag) {
    return checkTag(name, tag);
  }

  static String checkTag(String name, String tag) {
    if (tag == null || tag.isEmpty() || tag.length() > 256) {
      throw new IllegalArgumentException(
          "cache '"
              + name
              + "': a tag must be 1..256 characters but was "
              + (tag == null ? "null" : tag.length() + " characters"));
    }
    for (int i = 0; i < tag.length(); i++) {
      if (Character.isISOControl(tag.charAt(i))) {
        throw new IllegalArgumentException(
            "cache '" + name + "': a tag must not contain control characters");
      }
    }
    return tag;
  }
}
