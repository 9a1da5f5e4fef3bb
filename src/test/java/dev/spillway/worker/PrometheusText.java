package dev.spillway.worker;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** Just enough of the Prometheus text format for assertions: samples by name and labels. */
record PrometheusText(Map<String, Double> samples) {

  static PrometheusText parse(String text) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int cut = line.lastIndexOf(' ');
      String series = line.substring(0, cut);
      String value = line.substring(cut + 1);
      out.put(series, value.equals("NaN") ? Double.NaN : Double.parseDouble(value));
    }
    return new PrometheusText(out);
  }

  /** Names of every sample ({@code spillway_flush_batches_total}, ...). */
  Set<String> names() {
    Set<String> names = new TreeSet<>();
    for (String series : samples.keySet()) {
      int brace = series.indexOf('{');
      names.add(brace < 0 ? series : series.substring(0, brace));
    }
    return names;
  }

  /** The value of the one sample whose series text is {@code name} or {@code name{labels}}. */
  double value(String series) {
    Double v = samples.get(series);
    if (v == null) {
      throw new AssertionError("no sample " + series + " among " + names());
    }
    return v;
  }

  /** Sum over every sample of {@code name} whose labels contain {@code labelFragment}. */
  double sum(String name, String labelFragment) {
    double total = 0;
    boolean found = false;
    for (var e : samples.entrySet()) {
      String s = e.getKey();
      if ((s.equals(name) || s.startsWith(name + "{")) && s.contains(labelFragment)) {
        total += e.getValue();
        found = true;
      }
    }
    if (!found) {
      throw new AssertionError(
          "no sample " + name + " with " + labelFragment + " among " + names());
    }
    return total;
  }
}
