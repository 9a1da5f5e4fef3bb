package dev.spillway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PrintableTest {
  @Test
  void of_plainText_unchanged() {
    String s = "page_views/42 (ünïcödé, 日本, 🎉)";
    assertThat(Printable.of(s)).isSameAs(s);
  }

  @Test
  void of_terminalEscapes_shownNotInterpreted() {
    assertThat(Printable.of("a\u001b[2Jb\u0007\u0000\u007f\u009b"))
        .isEqualTo("a\\x1b[2Jb\\x07\\x00\\x7f\\x9b");
    assertThat(Printable.of("line\nbreak\r\ttab")).isEqualTo("line\\nbreak\\r\\ttab");
  }

  @Test
  void of_invisibleFormatting_escaped() {
    assertThat(Printable.of("abc\u202edef\u200b\u2028")).isEqualTo("abc\\u202edef\\u200b\\u2028");
    assertThat(Printable.of("tag\uDB40\uDC01")).isEqualTo("tag\\U000e0001");
  }

  @Test
  void of_backslash_doubledSoEscapesAreUnambiguous() {
    assertThat(Printable.of("a\\x1b")).isEqualTo("a\\\\x1b");
  }

  @Test
  void of_null_dash() {
    assertThat(Printable.of(null)).isEqualTo("-");
  }
}
