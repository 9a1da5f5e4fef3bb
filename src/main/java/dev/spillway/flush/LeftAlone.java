package dev.spillway.flush;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The keys an adopt run found under its {@code match} pattern and did not touch, by reason: the key
 * does not match {@code key-regex}, the key is not text (not valid UTF-8, or it holds control
 * characters: see {@link RedisText}), or it holds another Redis type than the mapping's (counted by
 * type). These keys belong to someone else; adopt never moves, deletes or renames them.
 *
 * <p>SCAN may return a key twice in one run (while Redis rehashes its keyspace), so a run remembers
 * a 64-bit hash of each key it counted, up to {@link Tally#DEDUPE_LIMIT} keys; beyond that a key
 * SCAN returns twice may count twice. {@code examples} holds up to {@link #EXAMPLES} keys per
 * reason, escaped ({@link RedisText#escape}).
 */
public record LeftAlone(
    long notMatchingRegex,
    long notText,
    Map<String, Long> wrongType,
    Map<String, List<String>> examples) {
  /** Examples kept per reason. */
  public static final int EXAMPLES = 3;

  public static final String NOT_MATCHING = "key-regex";
  public static final String NOT_TEXT = "not-text";

  public static final LeftAlone NONE = new LeftAlone(0, 0, Map.of(), Map.of());

  public LeftAlone {
    wrongType = Collections.unmodifiableMap(new TreeMap<>(wrongType));
    Map<String, List<String>> copy = new LinkedHashMap<>();
    examples.forEach((k, v) -> copy.put(k, List.copyOf(v)));
    examples = Collections.unmodifiableMap(copy);
  }

  public long total() {
    return notMatchingRegex
        + notText
        + wrongType.values().stream().mapToLong(Long::longValue).sum();
  }

  /**
   * One sentence: {@code 37 keys under app:* left alone: 30 do not match key-regex, 7 are lists};
   * with {@code withExamples}, a few keys of each reason in parentheses.
   */
  public String describe(String match, boolean withExamples) {
    long n = total();
    List<String> parts = new ArrayList<>();
    if (notMatchingRegex > 0) {
      parts.add(
          notMatchingRegex
              + (notMatchingRegex == 1 ? " does not" : " do not")
              + " match key-regex"
              + examples(NOT_MATCHING, withExamples));
    }
    wrongType.forEach(
        (type, count) ->
            parts.add(
                count
                    + (count == 1 ? " is " + a(type) : " are " + plural(type))
                    + examples(type, withExamples)));
    if (notText > 0) {
      parts.add(
          notText
              + (notText == 1 ? " is" : " are")
              + " not text (invalid UTF-8 or control characters)"
              + examples(NOT_TEXT, withExamples));
    }
    return n
        + (n == 1 ? " key" : " keys")
        + " under "
        + match
        + " left alone: "
        + String.join(", ", parts);
  }

  private String examples(String reason, boolean withExamples) {
    List<String> e = examples.getOrDefault(reason, List.of());
    return !withExamples || e.isEmpty() ? "" : " (e.g. " + String.join(", ", e) + ")";
  }

  private static String a(String type) {
    return switch (type) {
      case "zset" -> "a sorted set";
      case "hash" -> "a hash";
      case "list", "set", "string", "stream" -> "a " + type;
      default -> "of type " + type;
    };
  }

  private static String plural(String type) {
    return switch (type) {
      case "zset" -> "sorted sets";
      case "hash" -> "hashes";
      case "list", "set", "string", "stream" -> type + "s";
      default -> "of type " + type;
    };
  }

  /** Counts the keys of one run (or one doctor sample); not thread-safe. */
  public static final class Tally {
    /** Keys remembered per run to count each once (a hash each: ~5 MB at most). */
    static final int DEDUPE_LIMIT = 100_000;

    private final Set<Long> seen = new HashSet<>();
    private long notMatchingRegex;
    private long notText;
    private final Map<String, Long> wrongType = new TreeMap<>();
    private final Map<String, List<String>> examples = new LinkedHashMap<>();

    public void notMatchingRegex(String key) {
      if (!first(key.getBytes(StandardCharsets.UTF_8))) {
        return;
      }
      notMatchingRegex++;
      example(NOT_MATCHING, RedisText.escape(key));
    }

    public void notText(byte[] key) {
      if (!first(key)) {
        return;
      }
      notText++;
      example(NOT_TEXT, RedisText.escape(key));
    }

    public void wrongType(String type, String key) {
      if (!first(key.getBytes(StandardCharsets.UTF_8))) {
        return;
      }
      wrongType.merge(type, 1L, Long::sum);
      example(type, RedisText.escape(key));
    }

    /** False when this key was counted already in this run (as far as the run remembers). */
    private boolean first(byte[] key) {
      long h = 0xcbf29ce484222325L; // FNV-1a, 64 bits
      for (byte b : key) {
        h = (h ^ (b & 0xff)) * 0x100000001b3L;
      }
      return seen.size() < DEDUPE_LIMIT ? seen.add(h) : !seen.contains(h);
    }

    private void example(String reason, String key) {
      List<String> e = examples.computeIfAbsent(reason, r -> new ArrayList<>());
      if (e.size() < EXAMPLES) {
        // A key can be up to 512 MB; an example only needs to be recognizable.
        e.add(key.length() > 200 ? key.substring(0, 200) + "…" : key);
      }
    }

    public LeftAlone result() {
      return new LeftAlone(notMatchingRegex, notText, wrongType, examples);
    }
  }
}
