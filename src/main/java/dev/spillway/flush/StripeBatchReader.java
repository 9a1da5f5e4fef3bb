package dev.spillway.flush;

import dev.spillway.layout.CellDelta;
import dev.spillway.layout.CellField;
import dev.spillway.layout.RejectedCell;
import dev.spillway.store.BatchContent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads a native batch (the fields of its hash) into a {@link BatchContent}: cells, refused cells
 * and the claim number, after checking the reply belongs to the batch asked for.
 */
final class StripeBatchReader {
  private StripeBatchReader() {}

  static BatchContent read(Pending p, Map<String, String> cells) {
    List<CellDelta> ok = new ArrayList<>(cells.size());
    List<RejectedCell> bad = new ArrayList<>();
    String claim = null;
    for (var e : cells.entrySet()) {
      if (e.getKey().equals("#claim")) {
        claim = e.getValue(); // written at the live hash's birth, not a cell
        continue;
      }
      if (e.getKey().equals("#batch")) {
        // Written by the claim script. A reply that names another batch was matched to the
        // wrong command (a desynchronized connection): applying it under this id could count
        // that batch twice, so fail the run and read again.
        if (!e.getValue().equals(p.batchId())) {
          throw new IllegalStateException(
              "the read of batch "
                  + p.batchId()
                  + " of stripe "
                  + p.stripe()
                  + " returned batch "
                  + e.getValue()
                  + "; the Redis connection is out of step");
        }
        continue;
      }
      Object parsed = CellField.parse(e.getKey(), e.getValue());
      if (parsed instanceof CellDelta c) {
        ok.add(c);
      } else {
        bad.add((RejectedCell) parsed);
      }
    }
    return new BatchContent(p.batchId(), p.stripe(), ok, bad, claim);
  }
}
