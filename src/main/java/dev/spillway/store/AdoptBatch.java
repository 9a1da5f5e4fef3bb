package dev.spillway.store;

import java.util.List;

/** One claimed batch of an adopt mapping. */
public record AdoptBatch(String batchId, List<AdoptedCell> cells) {
  public AdoptBatch {
    cells = List.copyOf(cells);
  }
}
