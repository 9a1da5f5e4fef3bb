package dev.spillway.report;

import java.math.BigInteger;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * The inline SVG chart of an HTML report: vertical bars over time for a series, horizontal bars per
 * key for a top-N, the number itself for a total. Plain SVG 1.1 shapes and text, no script; each
 * bar carries a {@code <title>} (shown on hover) and {@code data-value} with the exact integer.
 * Negative values (counters may be decremented) hang below a zero line.
 */
final class SvgChart {
  private static final String BAR = "#3b82c4";
  private static final String NEGATIVE = "#c4513b";
  private static final String GRID = "#e4e7eb";
  private static final String AXIS = "#7b8794";
  private static final String TEXT = "#323f4b";

  /** Top-N charts show at most this many bars; the table below has every row. */
  static final int MAX_BARS_TOP = 50;

  private SvgChart() {}

  static String render(Report r) {
    return switch (r.kind()) {
      case SERIES -> series(r);
      case TOP -> top(r);
      case TOTAL -> total(r);
    };
  }

  private static String series(Report r) {
    int n = r.rows().size();
    int w = 960;
    int h = 380;
    int left = 84;
    int right = 16;
    int top = 16;
    int bottom = 56;
    double plotW = w - left - right;
    double plotH = h - top - bottom;
    int vi = r.column("value");
    int si = r.column("bucket_start");
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = ((BigInteger) r.rows().get(i).get(vi)).doubleValue();
    }
    Scale s = Scale.of(v);
    StringBuilder b = open(w, h, "Bar chart: " + r.title());
    for (double t : s.ticks()) {
      double y = top + plotH * (s.max() - t) / (s.max() - s.min());
      b.append(line(left, y, w - right, y, GRID));
      b.append(text(left - 8, y + 4, "end", 12, label(t)));
    }
    double slot = plotW / Math.max(n, 1);
    double gap = Math.min(2, slot * 0.15);
    double zeroY = top + plotH * s.max() / (s.max() - s.min());
    DateTimeFormatter fmt =
        n > 1
            ? labelFormat(
                (ZonedDateTime) r.rows().get(0).get(si), (ZonedDateTime) r.rows().get(1).get(si))
            : DateTimeFormatter.ISO_LOCAL_DATE;
    int every = Math.max(1, (int) Math.ceil(n / 8.0));
    for (int i = 0; i < n; i++) {
      ZonedDateTime start = (ZonedDateTime) r.rows().get(i).get(si);
      BigInteger value = (BigInteger) r.rows().get(i).get(vi);
      double x = left + i * slot + gap;
      double bw = Math.max(slot - 2 * gap, 0.5);
      double y1 = top + plotH * (s.max() - Math.max(v[i], 0)) / (s.max() - s.min());
      double y2 = top + plotH * (s.max() - Math.min(v[i], 0)) / (s.max() - s.min());
      b.append("<rect class=\"bar\" x=\"")
          .append(f(x))
          .append("\" y=\"")
          .append(f(y1))
          .append("\" width=\"")
          .append(f(bw))
          .append("\" height=\"")
          .append(f(Math.max(y2 - y1, 0)))
          .append("\" fill=\"")
          .append(v[i] < 0 ? NEGATIVE : BAR)
          .append("\" data-start=\"")
          .append(HtmlReport.esc(Reports.TIME.format(start)))
          .append("\" data-value=\"")
          .append(value)
          .append("\"><title>")
          .append(
              HtmlReport.esc(Reports.TIME.format(start) + ": " + ReportRenderer.text(value, true)))
          .append("</title></rect>\n");
      if (i % every == 0) {
        b.append(text(x + bw / 2, h - bottom + 18, "middle", 12, fmt.format(start)));
      }
    }
    b.append(line(left, zeroY, w - right, zeroY, AXIS));
    b.append(line(left, top, left, h - bottom, AXIS));
    if (n == 0 || s.allZero()) {
      b.append(text(left + plotW / 2, top + plotH / 2, "middle", 14, "no counts in this window"));
    }
    return b.append("</svg>\n").toString();
  }

  private static String top(Report r) {
    int n = Math.min(r.rows().size(), MAX_BARS_TOP);
    int rowH = 22;
    int w = 960;
    int labelW = 200;
    int valueW = 110;
    int top = 8;
    int h = top + Math.max(n, 1) * rowH + 8;
    int ki = r.column("key");
    int vi = r.column("value");
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = ((BigInteger) r.rows().get(i).get(vi)).doubleValue();
    }
    Scale s = Scale.of(v);
    double plotW = w - labelW - valueW;
    double zeroX = labelW + plotW * (0 - s.min()) / (s.max() - s.min());
    StringBuilder b = open(w, h, "Bar chart: " + r.title());
    for (int i = 0; i < n; i++) {
      String key = (String) r.rows().get(i).get(ki);
      BigInteger value = (BigInteger) r.rows().get(i).get(vi);
      double y = top + i * rowH;
      double x1 = labelW + plotW * (Math.min(v[i], 0) - s.min()) / (s.max() - s.min());
      double x2 = labelW + plotW * (Math.max(v[i], 0) - s.min()) / (s.max() - s.min());
      b.append(text(labelW - 8, y + 15, "end", 12, shorten(key, 28)));
      b.append("<rect class=\"bar\" x=\"")
          .append(f(x1))
          .append("\" y=\"")
          .append(f(y + 3))
          .append("\" width=\"")
          .append(f(Math.max(x2 - x1, 0)))
          .append("\" height=\"")
          .append(rowH - 6)
          .append("\" fill=\"")
          .append(v[i] < 0 ? NEGATIVE : BAR)
          .append("\" data-key=\"")
          .append(HtmlReport.esc(key))
          .append("\" data-value=\"")
          .append(value)
          .append("\"><title>")
          .append(HtmlReport.esc(key + ": " + ReportRenderer.text(value, true)))
          .append("</title></rect>\n");
      b.append(text(x2 + 6, y + 15, "start", 12, ReportRenderer.text(value, true)));
    }
    b.append(line(zeroX, top, zeroX, h - 8, AXIS));
    if (n == 0) {
      b.append(text(w / 2.0, top + 15, "middle", 14, "no counts in this window"));
    }
    return b.append("</svg>\n").toString();
  }

  private static String total(Report r) {
    BigInteger value = (BigInteger) r.rows().get(0).get(r.column("value"));
    StringBuilder b = open(960, 90, r.title());
    b.append("<text class=\"total\" x=\"16\" y=\"62\" font-size=\"44\" font-weight=\"600\" fill=\"")
        .append(TEXT)
        .append("\" data-value=\"")
        .append(value)
        .append("\">")
        .append(HtmlReport.esc(ReportRenderer.text(value, true)))
        .append("</text>\n");
    return b.append("</svg>\n").toString();
  }

  private static StringBuilder open(int w, int h, String label) {
    return new StringBuilder(8192)
        .append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"")
        .append(w)
        .append("\" height=\"")
        .append(h)
        .append("\" viewBox=\"0 0 ")
        .append(w)
        .append(' ')
        .append(h)
        .append("\" role=\"img\" aria-label=\"")
        .append(HtmlReport.esc(label))
        .append("\">\n");
  }

  private static String line(double x1, double y1, double x2, double y2, String color) {
    return "<line x1=\""
        + f(x1)
        + "\" y1=\""
        + f(y1)
        + "\" x2=\""
        + f(x2)
        + "\" y2=\""
        + f(y2)
        + "\" stroke=\""
        + color
        + "\" stroke-width=\"1\"/>\n";
  }

  private static String text(double x, double y, String anchor, int size, String s) {
    return "<text x=\""
        + f(x)
        + "\" y=\""
        + f(y)
        + "\" text-anchor=\""
        + anchor
        + "\" font-size=\""
        + size
        + "\" fill=\""
        + TEXT
        + "\">"
        + HtmlReport.esc(s)
        + "</text>\n";
  }

  private static String f(double d) {
    return String.format(Locale.ROOT, "%.1f", d);
  }

  private static String shorten(String s, int max) {
    return s.codePointCount(0, s.length()) <= max
        ? s
        : s.substring(0, s.offsetByCodePoints(0, max - 1)) + "\u2026";
  }

  /** Axis labels: 1.5k, 2M, 0.25 as needed, exact below 10,000. */
  private static String label(double t) {
    double a = Math.abs(t);
    if (a >= 1e9) {
      return trim(t / 1e9) + "G";
    }
    if (a >= 1e6) {
      return trim(t / 1e6) + "M";
    }
    if (a >= 1e4) {
      return trim(t / 1e3) + "k";
    }
    return trim(t);
  }

  private static String trim(double d) {
    String s = String.format(Locale.ROOT, "%.2f", d);
    s = s.replaceAll("0+$", "");
    return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
  }

  private static DateTimeFormatter labelFormat(ZonedDateTime a, ZonedDateTime b) {
    Duration step = Duration.between(a, b);
    if (step.compareTo(Duration.ofHours(23)) >= 0) {
      return DateTimeFormatter.ofPattern("MM-dd", Locale.ROOT);
    }
    if (step.compareTo(Duration.ofHours(1)) >= 0) {
      return DateTimeFormatter.ofPattern("MM-dd HH:mm", Locale.ROOT);
    }
    return DateTimeFormatter.ofPattern("HH:mm", Locale.ROOT);
  }

  /** A value axis from min to max (both include 0) with round ticks. */
  record Scale(double min, double max, double step, boolean allZero) {
    static Scale of(double[] values) {
      double lo = 0;
      double hi = 0;
      for (double v : values) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      boolean zero = lo == 0 && hi == 0;
      if (hi == lo) {
        hi = lo + 1;
      }
      double step = nice((hi - lo) / 5);
      return new Scale(Math.floor(lo / step) * step, Math.ceil(hi / step) * step, step, zero);
    }

    double[] ticks() {
      int k = (int) Math.round((max - min) / step);
      double[] t = new double[k + 1];
      for (int i = 0; i <= k; i++) {
        t[i] = min + i * step;
      }
      return t;
    }

    private static double nice(double raw) {
      double p = Math.pow(10, Math.floor(Math.log10(raw)));
      double m = raw / p;
      double n = m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10;
      return n * p;
    }
  }
}
