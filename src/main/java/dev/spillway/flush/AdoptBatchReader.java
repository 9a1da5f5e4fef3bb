package dev.spillway.flush;

import dev.spillway.config.AdoptMapping;
import dev.spillway.store.AdoptBatch;
import dev.spillway.store.AdoptedCell;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Turns the content of an adopt batch hash, read as bytes, into cells for {@code AdoptStore}. */
final class AdoptBatchReader {
  private AdoptBatchReader() {}

  /**
   * Decodes a batch hash written by {@link FlushScripts#ADOPT_CLAIM}. Keys are text (only text keys
   * are claimed); values and hash fields are whatever the writer stored, so they are escaped where
   * they are not text ({@link RedisText#escape}), and a hash field that is not text is a cell that
   * cannot be applied (no row can be named from it exactly).
   */
  static AdoptBatch read(
      AdoptKeys keys, AdoptMapping m, String batchId, Map<byte[], byte[]> content) {
    List<AdoptedCell> cells = new ArrayList<>(content.size());
    for (var e : content.entrySet()) {
      byte[] f = e.getKey();
      String value = RedisText.escape(e.getValue());
      String tag = f.length >= 2 && f[1] == '|' ? new String(f, 0, 2, StandardCharsets.UTF_8) : "";
      switch (tag) {
        case "s|" -> cells.add(new AdoptedCell(utf8(f, 2, f.length), null, value, null));
        case "x|" -> {
          // Written by earlier versions only: a key of the wrong type, renamed to quarantine.
          String key = utf8(f, 2, f.length);
          cells.add(new AdoptedCell(key, null, keys.quarantine(m.name(), batchId, key), value));
        }
        case "h|" -> cells.add(hashCell(f, value));
        default ->
            cells.add(
                new AdoptedCell(RedisText.escape(f), null, value, null, "unknown batch entry"));
      }
    }
    return new AdoptBatch(batchId, cells);
  }

  /** {@code h|<key byte length>|<key><field>}. */
  private static AdoptedCell hashCell(byte[] f, String value) {
    int bar = 2;
    while (bar < f.length && f[bar] != '|') {
      bar++;
    }
    int n;
    try {
      n = Integer.parseInt(new String(f, 2, bar - 2, StandardCharsets.US_ASCII));
    } catch (NumberFormatException e) {
      return new AdoptedCell(RedisText.escape(f), null, value, null, "unknown batch entry");
    }
    int keyEnd = Math.min(f.length, bar + 1 + n);
    String key = utf8(f, bar + 1, keyEnd);
    byte[] field = Arrays.copyOfRange(f, keyEnd, f.length);
    String text = RedisText.text(field);
    if (text == null) {
      return new AdoptedCell(
          key,
          RedisText.escape(field),
          value,
          null,
          "hash field is not text (invalid UTF-8 or control characters; shown escaped): no row can"
              + " be named from it, so it was not applied");
    }
    return new AdoptedCell(key, text, value, null);
  }

  private static String utf8(byte[] b, int from, int to) {
    return new String(b, from, to - from, StandardCharsets.UTF_8);
  }
}
