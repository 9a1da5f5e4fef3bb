package dev.spillway.report;

import java.util.List;

/**
 * A report as one self-contained HTML page: inline CSS, an inline SVG chart ({@link SvgChart}), the
 * data table and the notes. No script, no font, image or style sheet from anywhere: it reads the
 * same offline, from an e-mail attachment or a file share, and cannot call home.
 *
 * <p>The markup is also well-formed XML (every element closed, only the five XML entities), so
 * tools and tests can parse it with an XML parser. Numbers appear as text for readers and in {@code
 * data-value} attributes (plain digits) for machines.
 */
final class HtmlReport {
  private static final String STYLE =
      """
      body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933;
             margin: 24px; max-width: 1000px; }
      h1 { font-size: 20px; margin: 0 0 12px 0; }
      dl.parameters { display: grid; grid-template-columns: max-content auto; gap: 2px 16px;
                      font-size: 13px; color: #52606d; margin: 0 0 16px 0; }
      dl.parameters dt { font-weight: 600; }
      dl.parameters dd { margin: 0; }
      figure { margin: 0 0 16px 0; }
      svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
      table { border-collapse: collapse; font-size: 13px; }
      th, td { padding: 3px 10px; border-bottom: 1px solid #e4e7eb; text-align: left; }
      td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
      ul.notes { font-size: 13px; color: #8d2b0b; }
      """;

  private HtmlReport() {}

  static String render(Report r) {
    StringBuilder b = new StringBuilder(4096);
    b.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n")
        .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n")
        .append("<title>")
        .append(esc(r.title()))
        .append("</title>\n")
        .append("<style>\n")
        .append(STYLE)
        .append("</style>\n</head>\n<body>\n")
        .append("<h1>")
        .append(esc(r.title()))
        .append("</h1>\n")
        .append("<dl class=\"parameters\">\n");
    r.parameters()
        .forEach(
            (k, v) ->
                b.append("<dt>")
                    .append(esc(k))
                    .append("</dt><dd>")
                    .append(esc(v))
                    .append("</dd>\n"));
    b.append("</dl>\n<figure>\n").append(SvgChart.render(r)).append("</figure>\n");
    b.append("<table>\n<thead><tr>");
    for (Report.Column c : r.columns()) {
      b.append(c.type() == Report.Type.INTEGER ? "<th class=\"num\">" : "<th>")
          .append(esc(c.name()))
          .append("</th>");
    }
    b.append("</tr></thead>\n<tbody>\n");
    for (List<Object> row : r.rows()) {
      b.append("<tr>");
      for (int i = 0; i < row.size(); i++) {
        Object cell = row.get(i);
        if (r.columns().get(i).type() == Report.Type.INTEGER) {
          b.append("<td class=\"num\" data-value=\"")
              .append(ReportRenderer.text(cell, false))
              .append("\">")
              .append(esc(ReportRenderer.text(cell, true)))
              .append("</td>");
        } else {
          b.append("<td>").append(esc(ReportRenderer.text(cell, false))).append("</td>");
        }
      }
      b.append("</tr>\n");
    }
    b.append("</tbody>\n</table>\n");
    if (!r.notes().isEmpty()) {
      b.append("<ul class=\"notes\">\n");
      for (String n : r.notes()) {
        b.append("<li>").append(esc(n)).append("</li>\n");
      }
      b.append("</ul>\n");
    }
    b.append("</body>\n</html>\n");
    return b.toString();
  }

  /** Escapes text for an element or a double-quoted attribute. */
  static String esc(String s) {
    StringBuilder b = new StringBuilder(s.length() + 8);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '&' -> b.append("&amp;");
        case '<' -> b.append("&lt;");
        case '>' -> b.append("&gt;");
        case '"' -> b.append("&quot;");
        case '\'' -> b.append("&#39;");
        default -> b.append(c);
      }
    }
    return b.toString();
  }
}
