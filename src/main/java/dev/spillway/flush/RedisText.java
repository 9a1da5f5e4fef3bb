package dev.spillway.flush;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Redis keys and values are bytes; adopt turns them into text only where that is exact. A key is
 * <em>text</em> when it is valid UTF-8 without control characters (the rule Spillway's own keys
 * follow): only such keys are adopted, because only they round-trip exactly through a regex, a SQL
 * parameter and a {@code dead_letter} row. Anything else is shown with {@link #escape}, which is
 * readable and unambiguous: {@code app:views:\xff}.
 */
public final class RedisText {
  private RedisText() {}

  /** {@code bytes} as a string when they are valid UTF-8 without control characters, else null. */
  public static String text(byte[] bytes) {
    CharsetDecoder decoder =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    String s;
    try {
      CharBuffer chars = decoder.decode(ByteBuffer.wrap(bytes));
      s = chars.toString();
    } catch (CharacterCodingException e) {
      return null;
    }
    for (int i = 0; i < s.length(); i++) {
      if (Character.isISOControl(s.charAt(i))) {
        return null;
      }
    }
    return s;
  }

  /**
   * A readable rendering of {@code bytes}: UTF-8 characters other than controls as they are, a
   * backslash as {@code \\}, and every other byte (controls, bytes that are not valid UTF-8) as
   * {@code \xNN}. Unambiguous, so a person can rebuild the bytes from it.
   */
  public static String escape(byte[] bytes) {
    StringBuilder out = new StringBuilder(bytes.length + 8);
    int i = 0;
    while (i < bytes.length) {
      int b = bytes[i] & 0xff;
      int len =
          b < 0x80
              ? 1
              : b >= 0xc2 && b <= 0xdf
                  ? 2
                  : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
      int cp = len == 0 ? -1 : codePoint(bytes, i, len);
      if (cp < 0 || Character.isISOControl(cp)) {
        hex(out, b);
        i++;
        continue;
      }
      if (cp == '\\') {
        out.append("\\\\");
      } else {
        out.appendCodePoint(cp);
      }
      i += len;
    }
    return out.toString();
  }

  /** {@link #escape(byte[])} of the UTF-8 bytes of {@code s}. */
  public static String escape(String s) {
    return s == null ? null : escape(s.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * The code point of the {@code len}-byte UTF-8 sequence at {@code i}, or -1 if it is not valid.
   */
  private static int codePoint(byte[] b, int i, int len) {
    if (len == 1) {
      return b[i];
    }
    if (i + len > b.length) {
      return -1;
    }
    int cp = b[i] & (0x7f >> len);
    for (int k = 1; k < len; k++) {
      int c = b[i + k] & 0xff;
      if ((c & 0xc0) != 0x80) {
        return -1;
      }
      cp = (cp << 6) | (c & 0x3f);
    }
    int min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return -1; // overlong, out of range, or a surrogate: not valid UTF-8
    }
    return cp;
  }

  private static void hex(StringBuilder out, int b) {
    out.append("\\x")
        .append(Character.forDigit(b >> 4, 16))
        .append(Character.forDigit(b & 0xf, 16));
  }
}
