package dev.spillway.cli;

/**
 * Makes text from the outside world (adopted keys, raw cells, reasons quoting them) safe to print
 * on a terminal: every control character, and every invisible formatting character that can reorder
 * or hide text (bidi overrides, zero-width characters), is shown as an escape instead of being
 * interpreted, so a key holding {@code ESC [2J} prints as {@code \x1b[2J} rather than clearing the
 * screen. A backslash is doubled, so the escapes are unambiguous.
 */
final class Printable {
  private Printable() {}

  /** {@code s} with control and formatting characters escaped; "-" for null. */
  static String of(String s) {
    if (s == null) {
      return "-";
    }
    StringBuilder b = null;
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      int n = Character.charCount(cp);
      String esc = escape(cp);
      if (esc != null && b == null) {
        b = new StringBuilder(s.length() + 8).append(s, 0, i);
      }
      if (b != null) {
        if (esc != null) {
          b.append(esc);
        } else {
          b.appendCodePoint(cp);
        }
      }
      i += n;
    }
    return b == null ? s : b.toString();
  }

  private static String escape(int cp) {
    switch (cp) {
      case '\\':
        return "\\\\";
      case '\n':
        return "\\n";
      case '\r':
        return "\\r";
      case '\t':
        return "\\t";
      default:
        break;
    }
    if (cp < 0x100 && Character.isISOControl(cp)) {
      return String.format("\\x%02x", cp); // C0, DEL and C1 (0x9b is a one-byte CSI)
    }
    int type = Character.getType(cp);
    if (type == Character.FORMAT
        || type == Character.LINE_SEPARATOR
        || type == Character.PARAGRAPH_SEPARATOR
        || type == Character.SURROGATE) {
      return cp <= 0xFFFF ? String.format("\\u%04x", cp) : String.format("\\U%08x", cp);
    }
    return null;
  }
}
