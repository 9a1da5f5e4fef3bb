package dev.spillway.layout;

/**
 * One pending cell read back from Redis: {@code delta} to add to the total of (counter, key), and
 * to one bucket per letter of {@code bucketCodes} ({@code m}, {@code h}, {@code d}) holding the
 * event minute {@code epochMinute}. {@code bucketCodes} is empty for a total-only counter.
 */
public record CellDelta(
    String counter, String key, String bucketCodes, long epochMinute, long delta) {}
