package dev.spillway.store;

/**
 * One value moved out of an adopted Redis key: {@code field} is null for a string key, the hash
 * field for a hash key. {@code value} is the value as text, escaped where it is not (see {@code
 * flush.RedisText}), so that {@code dead_letter.raw} stays readable.
 *
 * <p>{@code problem}, when set, is why the cell cannot be applied whatever its value (a hash field
 * that is not text, shown escaped in {@code field}); it is dead-lettered without a delta, so no
 * routine replay applies it to a guessed row. {@code wrongType} only appears in batches claimed by
 * earlier versions, which renamed a key of the wrong Redis type to a quarantine key: it is that
 * type, and {@code value} the quarantine key.
 */
public record AdoptedCell(
    String key, String field, String value, String wrongType, String problem) {
  public AdoptedCell(String key, String field, String value, String wrongType) {
    this(key, field, value, wrongType, null);
  }
}
