package dev.spillway.layout;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CellFieldTest {
  @Test
  void parse_totalOnly() {
    assertThat(CellField.parse("page_views||42", "7"))
        .isEqualTo(new CellDelta("page_views", "42", "", 0, 7));
  }

  @Test
  void parse_bucketed_keyWithSeparators() {
    assertThat(CellField.parse("api|hd29402280|a|b|c", "-3"))
        .isEqualTo(new CellDelta("api", "a|b|c", "hd", 29402280, -3));
  }

  @Test
  void parse_nonInteger_rejectedWithReason() {
    RejectedCell r = (RejectedCell) CellField.parse("c||k", "1.5");
    assertThat(r.reason()).contains("not a 64-bit integer");
    assertThat(r.counter()).isEqualTo("c");
  }

  @Test
  void parse_malformed_rejected() {
    assertThat(((RejectedCell) CellField.parse("garbage", "1")).reason())
        .contains("counter|buckets|key");
    assertThat(((RejectedCell) CellField.parse("c|x12|k", "1")).reason())
        .contains("granularity letters");
  }

  @Test
  void parse_refusedByRedis_isDeadLetterWithOriginalCell() {
    RejectedCell r = (RejectedCell) CellField.parse("!abc:5:3|c||k", "9223372036854775807");
    assertThat(r.counter()).isEqualTo("c");
    assertThat(r.key()).isEqualTo("k");
    assertThat(r.reason()).contains("overflow");
  }

  /** Property over 2,000 random (counter, key, other key) triples, keys full of separators. */
  @Test
  void belongsTo_matchesExactlyItsOwnCells() {
    SplittableRandom r = new SplittableRandom(7);
    for (int i = 0; i < 2_000; i++) {
      String counter = random(r, "abcxyz", 1 + r.nextInt(8));
      String key = random(r, "ab|:x語😀", 1 + r.nextInt(12));
      String otherKey = random(r, "ab|:x語😀", 1 + r.nextInt(12));
      checkBelongsTo(counter, key, otherKey);
    }
  }

  private static String random(SplittableRandom r, String alphabet, int n) {
    int[] cps = alphabet.codePoints().toArray();
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < n; i++) {
      b.appendCodePoint(cps[r.nextInt(cps.length)]);
    }
    return b.toString();
  }

  private static void checkBelongsTo(String counter, String key, String otherKey) {
    String total = CellField.totalOnlyPrefix(counter) + key;
    String bucketed = counter + "|hd123|" + key;
    assertThat(CellField.belongsTo(total, counter, key)).isTrue();
    assertThat(CellField.belongsTo(bucketed, counter, key)).isTrue();
    assertThat(CellField.belongsTo(total, counter, otherKey)).isEqualTo(key.equals(otherKey));
    assertThat(CellField.belongsTo(total, counter + "x", key)).isFalse();
    Object parsed = CellField.parse(bucketed, "1");
    assertThat(parsed).isInstanceOf(CellDelta.class);
    assertThat(((CellDelta) parsed).key()).isEqualTo(key);
  }
}
