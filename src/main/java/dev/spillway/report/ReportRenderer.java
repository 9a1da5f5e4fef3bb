package dev.spillway.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.spillway.config.ExportSettings.Format;
import java.math.BigInteger;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Renders a {@link Report} as text. Every format carries the same numbers; they differ in what else
 * they carry:
 *
 * <ul>
 *   <li>{@code table}: for a terminal. Title, parameters, aligned columns, integers with thousands
 *       separators, notes last.
 *   <li>{@code csv}: RFC 4180 fields (quoted when needed), a header row, plain integers, times as
 *       ISO-8601 with offset, LF line ends, nothing else (notes go to the table/JSON/HTML forms).
 *       Hazard: cells are not escaped against spreadsheet formula injection; a key starting with
 *       {@code =} is written as it is.
 *   <li>{@code json}: one object with report, title, parameters, columns, rows (objects keyed by
 *       column) and notes; integers as exact JSON numbers.
 *   <li>{@code html}: one self-contained page with an inline SVG chart, see {@link HtmlReport}.
 * </ul>
 *
 * <p>Output is a pure function of the report, so golden files can pin it.
 */
public final class ReportRenderer {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private ReportRenderer() {}

  public static String render(Report r, Format f) {
    return switch (f) {
      case TABLE -> table(r);
      case CSV -> csv(r);
      case JSON -> json(r);
      case HTML -> HtmlReport.render(r);
    };
  }

  static String table(Report r) {
    StringBuilder b = new StringBuilder();
    b.append(r.title()).append('\n');
    int w = r.parameters().keySet().stream().mapToInt(String::length).max().orElse(0);
    r.parameters()
        .forEach((k, v) -> b.append("  ").append(pad(k, w)).append("  ").append(v).append('\n'));
    b.append('\n');
    int n = r.columns().size();
    List<String[]> cells = new ArrayList<>();
    String[] header = new String[n];
    for (int i = 0; i < n; i++) {
      header[i] = r.columns().get(i).name();
    }
    cells.add(header);
    for (List<Object> row : r.rows()) {
      String[] c = new String[n];
      for (int i = 0; i < n; i++) {
        c[i] = text(row.get(i), true);
      }
      cells.add(c);
    }
    int[] width = new int[n];
    for (String[] c : cells) {
      for (int i = 0; i < n; i++) {
        width[i] = Math.max(width[i], c[i].codePointCount(0, c[i].length()));
      }
    }
    for (String[] c : cells) {
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < n; i++) {
        boolean right = r.columns().get(i).type() == Report.Type.INTEGER;
        String cell = right ? padLeft(c[i], width[i]) : pad(c[i], width[i]);
        line.append(i == 0 ? "" : "  ").append(cell);
      }
      b.append(line.toString().stripTrailing()).append('\n');
    }
    for (String note : r.notes()) {
      b.append("note: ").append(note).append('\n');
    }
    return b.toString();
  }

  static String csv(Report r) {
    StringBuilder b = new StringBuilder();
    List<String> header = r.columns().stream().map(Report.Column::name).toList();
    b.append(String.join(",", header.stream().map(ReportRenderer::csvField).toList())).append('\n');
    for (List<Object> row : r.rows()) {
      List<String> fields = new ArrayList<>();
      for (Object cell : row) {
        fields.add(csvField(text(cell, false)));
      }
      b.append(String.join(",", fields)).append('\n');
    }
    return b.toString();
  }

  static String json(Report r) {
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("report", r.kind().name().toLowerCase(Locale.ROOT));
    doc.put("title", r.title());
    doc.put("parameters", r.parameters());
    doc.put("columns", r.columns().stream().map(Report.Column::name).toList());
    List<Map<String, Object>> rows = new ArrayList<>();
    for (List<Object> row : r.rows()) {
      Map<String, Object> o = new LinkedHashMap<>();
      for (int i = 0; i < row.size(); i++) {
        Object cell = row.get(i);
        o.put(
            r.columns().get(i).name(),
            cell instanceof ZonedDateTime t ? Reports.TIME.format(t) : cell);
      }
      rows.add(o);
    }
    doc.put("rows", rows);
    doc.put("notes", r.notes());
    try {
      return JSON.writeValueAsString(doc) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(
          "a report could not be written as JSON: " + e.getMessage(), e);
    }
  }

  /** A cell as text; integers grouped by thousands for people, plain for machines. */
  static String text(Object cell, boolean grouped) {
    if (cell instanceof BigInteger i) {
      return grouped ? String.format(Locale.ROOT, "%,d", i) : i.toString();
    }
    if (cell instanceof ZonedDateTime t) {
      return Reports.TIME.format(t);
    }
    return String.valueOf(cell);
  }

  private static String csvField(String s) {
    if (s.indexOf(',') >= 0
        || s.indexOf('"') >= 0
        || s.indexOf('\n') >= 0
        || s.indexOf('\r') >= 0) {
      return '"' + s.replace("\"", "\"\"") + '"';
    }
    return s;
  }

  private static String pad(String s, int w) {
    int len = s.codePointCount(0, s.length());
    return len >= w ? s : s + " ".repeat(w - len);
  }

  private static String padLeft(String s, int w) {
    int len = s.codePointCount(0, s.length());
    return len >= w ? s : " ".repeat(w - len) + s;
  }
}
