package dev.spillway.store;

import java.math.BigInteger;
import java.util.List;

/** Everything one claimed batch holds, parsed: the cells to apply and the ones to dead-letter. */
public record BatchContent(
    String batchId, int stripe, List<CellDelta> cells, List<RejectedCell> rejected) {

  public BatchContent {
    cells = List.copyOf(cells);
    rejected = List.copyOf(rejected);
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
