package dev.spillway.api;

import dev.spillway.layout.CounterNames;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;

/**
 * What the public HTTP API reads from a request, and the limits it holds it to: the path, query and
 * body size limits, the path split into percent-decoded segments, the query parameters (each known,
 * each at most once), boolean parameters, the allowed methods of a route and the counter and key
 * names. Every refusal is an {@link ApiError} with one sentence naming the input, the rule and the
 * actual value.
 */
final class ApiRequests {
  static final int MAX_QUERY_CHARS = 1024;
  static final int MAX_BODY_BYTES = 4096;
  static final int MAX_PATH_CHARS = 4096;
  static final String ALLOW_READ = "GET, HEAD, OPTIONS";
  static final String ALLOW_WRITE = "POST, OPTIONS";

  private ApiRequests() {}

  /** The raw path, once the path, the query string and the declared body are within limits. */
  static String checkLimits(Request request) {
    String rawPath = request.getHttpURI().getPath();
    String query = request.getHttpURI().getQuery();
    if (rawPath == null || rawPath.length() > MAX_PATH_CHARS) {
      throw new ApiError(414, "the path must be at most " + MAX_PATH_CHARS + " characters");
    }
    if (query != null && query.length() > MAX_QUERY_CHARS) {
      throw new ApiError(
          414,
          "the query string must be at most "
              + MAX_QUERY_CHARS
              + " characters but was "
              + query.length());
    }
    long length = request.getLength();
    if (length > MAX_BODY_BYTES) {
      throw new ApiError(
          413, "the request body must be at most " + MAX_BODY_BYTES + " bytes but was " + length);
    }
    return rawPath;
  }

  static void allow(String method, String methods, Response response) {
    allow(method, methods, response, methods);
  }

  static void allow(String method, String methods, Response response, String allowHeader) {
    for (String m : methods.split(", ")) {
      if (m.equals(method)) {
        return;
      }
    }
    throw new ApiError(405, "method " + method + " is not allowed here; allowed: " + allowHeader)
        .header("Allow", allowHeader);
  }

  static void checkNames(String counter, String key) {
    try {
      CounterNames.checkCounter(counter);
      CounterNames.checkKey(key);
    } catch (IllegalArgumentException e) {
      throw new ApiError(400, e.getMessage());
    }
  }

  static boolean bool(String name, String v) {
    if (v == null || v.equals("false")) {
      return false;
    }
    if (v.equals("true")) {
      return true;
    }
    throw new ApiError(400, name + " must be true or false but was '" + v + "'");
  }

  /** The query parameters, each at most once, none outside {@code known}. */
  static Map<String, String> query(Request request, Set<String> known) {
    String raw = request.getHttpURI().getQuery();
    Map<String, String> out = new LinkedHashMap<>();
    if (raw == null || raw.isEmpty()) {
      return out;
    }
    for (String pair : raw.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String name = decode(eq < 0 ? pair : pair.substring(0, eq), true);
      String value = eq < 0 ? "" : decode(pair.substring(eq + 1), true);
      if (!known.contains(name)) {
        throw new ApiError(
            400,
            "query parameter '"
                + name
                + "' is not known here (known: "
                + new TreeSet<>(known)
                + ")");
      }
      if (out.put(name, value) != null) {
        throw new ApiError(400, "query parameter '" + name + "' must be given at most once");
      }
    }
    return out;
  }

  /** The path split on '/', each segment percent-decoded (so {@code %2F} stays in a key). */
  static List<String> segments(String rawPath) {
    List<String> out = new ArrayList<>();
    String p = rawPath.startsWith("/") ? rawPath.substring(1) : rawPath;
    if (p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    for (String s : p.split("/", -1)) {
      out.add(decode(s, false));
    }
    return out;
  }

  /** Percent-decoding as UTF-8; {@code +} is a space only in a query. Refuses bad encodings. */
  static String decode(String s, boolean query) {
    if (s.indexOf('%') < 0 && !(query && s.indexOf('+') >= 0)) {
      return s;
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%') {
        if (i + 2 >= s.length()) {
          throw new ApiError(400, "the URI holds a truncated percent-encoding at '" + s + "'");
        }
        int hi = Character.digit(s.charAt(i + 1), 16);
        int lo = Character.digit(s.charAt(i + 2), 16);
        if (hi < 0 || lo < 0) {
          throw new ApiError(400, "the URI holds a bad percent-encoding at '" + s + "'");
        }
        bytes.write(hi * 16 + lo);
        i += 2;
      } else if (c == '+' && query) {
        bytes.write(' ');
      } else {
        byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
        bytes.write(b, 0, b.length);
      }
    }
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes.toByteArray()))
          .toString();
    } catch (CharacterCodingException e) {
      throw new ApiError(400, "the URI's percent-encoded bytes are not valid UTF-8");
    }
  }
}
