package dev.spillway.cache;

/**
 * Names of the cache's Redis keys. Every key carries a TTL; none is ever written without one.
 *
 * <pre>
 *   {prefix}{cache:key}        string  the envelope (value or null marker, metadata)
 *   {prefix}{cache:key}:i      string  invalidations of this key so far (the cross-instance
 *                                      generation: a load that snapshotted another number is
 *                                      not written)
 *   {prefix}{cache:key}:l      string  the load lease: a random token, SET NX PX
 *   {prefix}{cache}:seq        string  sequence of tag bumps in this cache
 *   {prefix}{cache}:t:{tag}    string  the tag's current version (the sequence number of its last
 *                                      bump); one key per tag, never a set of entry keys
 * </pre>
 *
 * <p>The three keys of one entry share a hash tag, so the scripts that touch them together run on
 * Redis Cluster; the tag keys of one cache share another, so a tag bump is one script. An entry key
 * always ends with {@code '}'} and the others with {@code :i}, {@code :l}, so no key of one cache
 * key can collide with a key of another, whatever characters the key holds.
 */
final class CacheKeys {
  private final String prefix;

  CacheKeys(String prefix) {
    this.prefix = prefix;
  }

  String prefix() {
    return prefix;
  }

  String entry(String cache, String key) {
    return prefix + "{" + cache + ":" + key + "}";
  }

  String invalidations(String cache, String key) {
    return entry(cache, key) + ":i";
  }

  String lease(String cache, String key) {
    return entry(cache, key) + ":l";
  }

  String tagSequence(String cache) {
    return prefix + "{" + cache + "}:seq";
  }

  String tag(String cache, String tag) {
    return prefix + "{" + cache + "}:t:" + tag;
  }

  /** SCAN pattern matching every key of one cache (entries and tag keys). */
  String pattern(String cache) {
    return escapeGlob(prefix + "{" + cache) + "[:}]*";
  }

  private static String escapeGlob(String s) {
    StringBuilder b = new StringBuilder(s.length() + 8);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
        b.append('\\');
      }
      b.append(c);
    }
    return b.toString();
  }
}
