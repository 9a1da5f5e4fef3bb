package dev.spillway;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Set;

/**
 * Settings of reporting and data upkeep (section {@code reporting:} of the YAML file): bucket
 * retention, partitions, rollups and scheduled exports.
 */
public record ReportSettings() {
  public static ReportSettings defaults() {
    return new ReportSettings();
  }

  /** Parses the {@code reporting:} section (may be missing). */
  public static ReportSettings parse(JsonNode node) {
    if (node == null || node.isMissingNode() || node.isNull()) {
      return defaults();
    }
    ConfigNodes.checkKeys(node, "reporting", Set.of());
    return defaults();
  }
}
