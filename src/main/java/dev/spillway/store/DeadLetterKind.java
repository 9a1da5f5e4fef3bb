package dev.spillway.store;

import java.util.Arrays;

/**
 * The class of a dead letter ({@code dead_letter.kind}), which decides what a replay may do with
 * it.
 *
 * <p>The hazard is replaying a {@link #MAYBE_COUNTED} row by routine: its cells came from a batch
 * Redis resurrected after a rollback, so they may be in the totals already and applying them again
 * would count them twice. Only a person, row by row, decides that.
 */
public enum DeadLetterKind {
  /** Never counted (overflow, no target row, a malformed cell): replay once the cause is fixed. */
  UNAPPLIED("unapplied"),
  /**
   * From a batch Redis resurrected (it rolled back to before a claim the ledger shows applied):
   * some or all of its cells may already be counted. Never replayed by a routine replay.
   */
  MAYBE_COUNTED("maybe_counted");

  private final String sql;

  DeadLetterKind(String sql) {
    this.sql = sql;
  }

  /** The value stored in {@code dead_letter.kind}. */
  public String sql() {
    return sql;
  }

  /** The kind stored as {@code value}; an unknown value is a schema this code does not know. */
  public static DeadLetterKind ofSql(String value) {
    return Arrays.stream(values())
        .filter(k -> k.sql.equals(value))
        .findFirst()
        .orElseThrow(
            () ->
                new IllegalStateException(
                    "dead_letter.kind '"
                        + value
                        + "' is not one of "
                        + Arrays.stream(values()).map(DeadLetterKind::sql).toList()));
  }

  @Override
  public String toString() {
    return sql;
  }
}
