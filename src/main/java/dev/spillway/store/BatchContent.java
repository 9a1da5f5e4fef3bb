package dev.spillway.store;

import dev.spillway.layout.CellDelta;
import dev.spillway.layout.RejectedCell;
import java.math.BigInteger;
import java.util.List;

/**
 * Everything one claimed batch holds, parsed: the cells to apply and the ones to dead-letter, and
 * the claim number the claim script recorded ({@code <incarnation>:<n>}; null for batches that
 * were not claimed from a stripe, such as direct writes).
 */
public record BatchContent(
    String batchId, int stripe, List<CellDelta> cells, List<RejectedCell> rejected, String claim) {

  public BatchContent {
    cells = List.copyOf(cells);
    rejected = List.copyOf(rejected);
  }

  public BatchContent(String batchId, int stripe, List<CellDelta> cells, List<RejectedCell> rejected) {
    this(batchId, stripe, cells, rejected, null);
  }

  public int size() {
    return cells.size() + rejected.size();
  }

  /** Sum of the applicable deltas, exact (it may exceed a bigint), recorded in the ledger. */
  public BigInteger deltaSum() {
    BigInteger s = BigInteger.ZERO;
    for (CellDelta c : cells) {
      s = s.add(BigInteger.valueOf(c.delta()));
    }
    return s;
  }
}
