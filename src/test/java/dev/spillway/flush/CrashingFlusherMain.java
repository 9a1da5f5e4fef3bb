package dev.spillway.flush;

import dev.spillway.Spillway;
import dev.spillway.SpillwayConfig;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Child JVM for {@link CrashRecoveryTest}: builds a Spillway on the given schema and key prefix and
 * runs one flush whose {@link FlushListener} halts the JVM ({@code Runtime.halt(77)}: no shutdown
 * hooks, no finally blocks, no connection closed politely, just like a SIGKILL) at one step
 * boundary.
 *
 * <p>Arguments: {@code redisUri jdbcUrl jdbcUser jdbcPassword schema keyPrefix stripes boundary}
 * where boundary is one of {@code after-claim}, {@code before-commit} (inside the transaction),
 * {@code after-commit} (before the ack), {@code after-ack}, {@code mid-run} (inside the third apply
 * transaction, after two have committed; transactions are kept small for that).
 *
 * <p>Exit codes: 77 halted at the boundary (the only success); 3 the flush finished without
 * reaching the boundary; 2 bad arguments; anything else a failure before the flush.
 */
public final class CrashingFlusherMain {
  static final int HALTED = 77;
  static final int NOT_REACHED = 3;

  /** Cells per apply transaction in the {@code mid-run} case (the smallest the config allows). */
  static final int MID_RUN_CELLS_PER_TRANSACTION = 500;

  private CrashingFlusherMain() {}

  public static void main(String[] args) {
    if (args.length != 8) {
      System.err.println(
          "usage: CrashingFlusherMain redisUri jdbcUrl jdbcUser jdbcPassword schema keyPrefix"
              + " stripes boundary");
      System.exit(2);
    }
    String boundary = args[7];
    FlushListener listener = listenerFor(boundary);
    if (listener == null) {
      System.err.println("unknown boundary " + boundary);
      System.exit(2);
    }
    SpillwayConfig config =
        SpillwayConfig.builder()
            .redisUri(args[0])
            .jdbcUrl(args[1])
            .jdbcUser(args[2])
            .jdbcPassword(args[3])
            .schema(args[4])
            .keyPrefix(args[5])
            .stripes(Integer.parseInt(args[6]))
            .flushMaxCellsPerTransaction(
                boundary.equals("mid-run")
                    ? MID_RUN_CELLS_PER_TRANSACTION
                    : SpillwayConfig.DEFAULT_MAX_CELLS_PER_TRANSACTION)
            .build();
    Spillway.Builder builder =
        Spillway.builder()
            .config(config)
            .migrate(false) // the parent migrated the schema
            .flushListener(listener);
    try (Spillway sw = builder.build()) {
      FlushReport report = sw.flushOnce();
      System.out.println("flush finished without reaching " + boundary + ": " + report);
    }
    System.exit(NOT_REACHED);
  }

  private static FlushListener listenerFor(String boundary) {
    return switch (boundary) {
      case "after-claim" ->
          new FlushListener() {
            @Override
            public void afterClaim(List<String> pendingBatchIds) {
              halt(boundary, pendingBatchIds.size());
            }
          };
      case "before-commit" ->
          new FlushListener() {
            @Override
            public void beforeCommit(Set<String> appliedBatchIds) {
              halt(boundary, appliedBatchIds.size());
            }
          };
      case "after-commit" ->
          new FlushListener() {
            @Override
            public void afterCommit(Set<String> batchIds) {
              halt(boundary, batchIds.size());
            }
          };
      case "after-ack" ->
          new FlushListener() {
            @Override
            public void afterAck(Set<String> batchIds) {
              halt(boundary, batchIds.size());
            }
          };
      case "mid-run" ->
          new FlushListener() {
            private final AtomicInteger transactions = new AtomicInteger();

            @Override
            public void beforeCommit(Set<String> appliedBatchIds) {
              if (transactions.incrementAndGet() == 3) {
                halt(boundary, appliedBatchIds.size());
              }
            }
          };
      default -> null;
    };
  }

  private static void halt(String boundary, int batches) {
    System.out.println("halting at " + boundary + " with " + batches + " batch(es)");
    System.out.flush();
    Runtime.getRuntime().halt(HALTED);
  }
}
