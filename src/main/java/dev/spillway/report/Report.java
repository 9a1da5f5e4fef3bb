package dev.spillway.report;

import dev.spillway.config.ExportSettings.Kind;
import java.math.BigInteger;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A computed report: a title, the parameters it ran with, a table of typed rows, and notes (what
 * the reader should know: a window rounded to whole buckets, data past retention). Every {@link
 * dev.spillway.config.ExportSettings.Format format} renders the same numbers from it.
 *
 * <p>Cells are {@link String} (TEXT), {@link BigInteger} (INTEGER: sums of bigints may exceed a
 * long) or {@link ZonedDateTime} (TIME, in the report's zone).
 */
public record Report(
    Kind kind,
    String title,
    Map<String, String> parameters,
    List<Column> columns,
    List<List<Object>> rows,
    List<String> notes) {

  public enum Type {
    TEXT,
    INTEGER,
    TIME
  }

  public record Column(String name, Type type) {}

  public Report {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(title, "title");
    parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    columns = List.copyOf(columns);
    List<List<Object>> copy = new ArrayList<>(rows.size());
    for (List<Object> r : rows) {
      if (r.size() != columns.size()) {
        throw new IllegalArgumentException(
            "a report row has " + r.size() + " cells for " + columns.size() + " columns");
      }
      copy.add(Collections.unmodifiableList(new ArrayList<>(r)));
    }
    rows = Collections.unmodifiableList(copy);
    notes = List.copyOf(notes);
  }

  /** The index of the column named {@code name}. */
  public int column(String name) {
    for (int i = 0; i < columns.size(); i++) {
      if (columns.get(i).name().equals(name)) {
        return i;
      }
    }
    throw new IllegalArgumentException("report has no column " + name);
  }
}
