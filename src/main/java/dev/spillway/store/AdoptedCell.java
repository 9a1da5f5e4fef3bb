package dev.spillway.store;

/**
 * One value moved out of an adopted Redis key: {@code field} is null for a string key, the hash
 * field for a hash key; {@code wrongType} is the Redis type of a key that had the wrong one (its
 * value was quarantined, {@code value} is then the quarantine key).
 */
public record AdoptedCell(String key, String field, String value, String wrongType) {}
