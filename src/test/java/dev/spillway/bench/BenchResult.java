package dev.spillway.bench;

/**
 * One measured figure: {@code value} in {@code unit}, and, when it has a peer or limit measured in
 * the same run, the ratio to it and the aim the issue sets for that ratio.
 */
record BenchResult(
    String group,
    String name,
    double value,
    String unit,
    String versus,
    Double ratio,
    String aim,
    String note) {

  static BenchResult of(String group, String name, double value, String unit) {
    return new BenchResult(group, name, value, unit, null, null, null, null);
  }

  BenchResult against(BenchResult peer, String aim) {
    return new BenchResult(group, name, value, unit, peer.name(), value / peer.value(), aim, note);
  }

  BenchResult note(String n) {
    return new BenchResult(group, name, value, unit, versus, ratio, aim, n);
  }
}
