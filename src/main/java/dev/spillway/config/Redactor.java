package dev.spillway.config;

import dev.spillway.SpillwayConfig;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hides secrets in text a person can see: the CLI's error output, {@code doctor} lines, log lines,
 * the worker's {@code /health} body and the messages of exceptions Spillway builds. One instance is
 * immutable and thread-safe; {@link #redact} is idempotent.
 *
 * <p>Two kinds of rule, applied together:
 *
 * <ul>
 *   <li><b>Shapes</b>, which need no knowledge of the secret: the userinfo of every URL ({@code
 *       redis://user:pw@host}, {@code rediss}, {@code redis-sentinel}, each entry of a seed list,
 *       {@code postgresql}, {@code postgres}, {@code jdbc:postgresql}) becomes {@code <masked>@},
 *       and the value of every {@code password=}, {@code sslpassword=}, {@code *token=}, {@code
 *       *secret=} parameter (also written {@code password: value}) becomes {@code <masked>}.
 *   <li><b>Literal secrets</b> known to this instance (the PostgreSQL password, the password in the
 *       Redis URI or JDBC URL, {@code SPILLWAY_*_PASSWORD}/{@code _TOKEN}/{@code _SECRET}/{@code
 *       _KEYS} values), raw, percent-encoded and percent-decoded, wherever they appear.
 * </ul>
 *
 * <p>Hazards. The rules work on text with regular expressions and never parse a URI: the URIs that
 * most need hiding are the ones that do not parse ({@code redis://:pa/ss@host}). They err toward
 * hiding too much: a URL's userinfo runs to the last {@code @} before whitespace or the next {@code
 * scheme://}, so {@code ?user=a@b} in a query hides the host as well. A literal secret shorter than
 * {@value #MIN_SECRET_LENGTH} characters is not searched for (it would blank out ordinary words);
 * only the shapes hide it. A secret containing whitespace is hidden by literal match only.
 */
public final class Redactor {
  /** What a hidden secret is replaced with. */
  public static final String MASK = "<masked>";

  /** Shorter literal secrets would match ordinary text; the shapes still hide them in URLs. */
  public static final int MIN_SECRET_LENGTH = 4;

  /**
   * {@code scheme://userinfo@}: the userinfo runs to the last {@code @} of the token (it may hold
   * {@code / , : %} when a password was not percent-encoded) without crossing another URL.
   */
  private static final Pattern USERINFO =
      Pattern.compile("([A-Za-z][A-Za-z0-9+.-]*://)((?:(?!://)\\S)*)@");

  /**
   * {@code password=value}, {@code sslpassword=value}, {@code auth_token=value} and kin; the value
   * runs to {@code &}, whitespace or a quote, so it may hold {@code / , @ : %}.
   */
  private static final Pattern PARAM = param("=");

  /** The same written {@code password: value} (YAML, JSON, property dumps). */
  private static final Pattern PARAM_COLON = param(":");

  /** Environment variables whose values are secrets. */
  private static final Pattern SECRET_ENV =
      Pattern.compile("SPILLWAY_[A-Z0-9_]*(PASSWORD|PASSWD|TOKEN|SECRET|KEYS?)");

  private static final Pattern PERCENT_HEX = Pattern.compile("%[0-9A-F]{2}");

  private static final Redactor SHAPES = new Redactor(null, 0);

  private static Pattern param(String separator) {
    return Pattern.compile(
        "(?i)([a-z0-9_.-]*(?:password|passwd|pwd|secret|token)\"?\\s*"
            + separator
            + "\\s*\"?)(?!<masked>|<empty>)([^&\\s\"]+)");
  }

  private final Pattern literals; // null: no literal secrets
  private final int secrets;

  private Redactor(Pattern literals, int secrets) {
    this.literals = literals;
    this.secrets = secrets;
  }

  /** A redactor that hides by shape only (no literal secrets known). */
  public static Redactor shapes() {
    return SHAPES;
  }

  /**
   * Hides by shape and every one of {@code secrets}; nulls and secrets shorter than {@value
   * #MIN_SECRET_LENGTH} characters are left to the shapes.
   */
  public static Redactor of(Collection<String> secrets) {
    Set<String> variants = new LinkedHashSet<>();
    for (String s : secrets) {
      if (s != null && s.length() >= MIN_SECRET_LENGTH) {
        variants.addAll(variants(s));
      }
    }
    if (variants.isEmpty()) {
      return SHAPES;
    }
    List<String> sorted = new ArrayList<>(variants);
    // Longest first, so that a secret is replaced whole before a shorter one inside it.
    sorted.sort(Comparator.comparingInt(String::length).reversed());
    StringBuilder alternation = new StringBuilder();
    for (String v : sorted) {
      alternation.append(alternation.isEmpty() ? "" : "|").append(Pattern.quote(v));
    }
    long kept =
        secrets.stream()
            .filter(s -> s != null && s.length() >= MIN_SECRET_LENGTH)
            .distinct()
            .count();
    return new Redactor(Pattern.compile(alternation.toString()), (int) kept);
  }

  /** The secrets of a configuration: the PostgreSQL password and those inside its URLs. */
  public static Redactor of(SpillwayConfig config) {
    return of(secretsOf(config));
  }

  /**
   * The secrets of a configuration and of the environment it was loaded from: also every {@code
   * SPILLWAY_*_PASSWORD}, {@code _TOKEN}, {@code _SECRET}, {@code _KEY(S)} value and the variable
   * named by {@code cache.encryption-keys-env}.
   */
  public static Redactor of(SpillwayConfig config, Map<String, String> env) {
    List<String> all = new ArrayList<>(secretsOf(config));
    all.addAll(secretsOfEnvironment(env));
    if (config.cache() != null && config.cache().encryptionKeysEnv() != null) {
      all.addAll(keyList(env.get(config.cache().encryptionKeysEnv())));
    }
    return of(all);
  }

  /** The secrets of the environment alone, for when no configuration could be loaded. */
  public static Redactor ofEnvironment(Map<String, String> env) {
    return of(secretsOfEnvironment(env));
  }

  /** {@code text} with every secret hidden; null stays null. */
  public String redact(String text) {
    if (text == null || text.isEmpty()) {
      return text;
    }
    String out = text;
    if (literals != null) {
      out = literals.matcher(out).replaceAll(Matcher.quoteReplacement(MASK));
    }
    // password= first: its value may hold an '@' that would end a userinfo match inside it.
    out = PARAM.matcher(out).replaceAll("$1" + Matcher.quoteReplacement(MASK));
    out = USERINFO.matcher(out).replaceAll("$1" + Matcher.quoteReplacement(MASK) + "@");
    return PARAM_COLON.matcher(out).replaceAll("$1" + Matcher.quoteReplacement(MASK));
  }

  /**
   * A value that is meant to be one URI or a seed list, hidden for a message that rejects it:
   * besides {@link #redact}, userinfo without a scheme ({@code :pw@host}, {@code host1,u:pw@host2})
   * is hidden too, up to the last {@code @}.
   */
  public String redactUri(String uri) {
    if (uri == null) {
      return null;
    }
    String out = redact(uri);
    if (!out.contains("://") && out.contains("@")) {
      out = MASK + out.substring(out.lastIndexOf('@'));
    }
    return out;
  }

  /** {@link #shapes()}{@code .redact(text)}. */
  public static String mask(String text) {
    return SHAPES.redact(text);
  }

  /** {@link #shapes()}{@code .redactUri(uri)}. */
  public static String maskUri(String uri) {
    return SHAPES.redactUri(uri);
  }

  /**
   * The secrets written inside a URI or seed list: each userinfo's password (the whole userinfo
   * when it has no {@code :}, as Redis reads {@code redis://secret@host}) and every password-like
   * parameter value. Works on unparseable text.
   */
  public static List<String> secretsIn(String uri) {
    List<String> found = new ArrayList<>();
    if (uri == null || uri.isEmpty()) {
      return found;
    }
    Matcher p = PARAM.matcher(uri);
    while (p.find()) {
      found.add(p.group(2));
    }
    String rest = PARAM.matcher(uri).replaceAll("$1");
    Matcher m = USERINFO.matcher(rest);
    boolean any = false;
    while (m.find()) {
      any = true;
      found.add(passwordOf(m.group(2)));
    }
    if (!any && rest.contains("@")) {
      found.add(passwordOf(rest.substring(0, rest.lastIndexOf('@'))));
    }
    found.removeIf(s -> s.isEmpty() || s.equals(MASK));
    return found;
  }

  private static String passwordOf(String userinfo) {
    int colon = userinfo.indexOf(':');
    return colon < 0 ? userinfo : userinfo.substring(colon + 1);
  }

  private static List<String> secretsOf(SpillwayConfig config) {
    List<String> all = new ArrayList<>();
    all.add(config.jdbcPassword());
    all.addAll(secretsIn(config.redisUri()));
    all.addAll(secretsIn(config.jdbcUrl()));
    return all;
  }

  private static List<String> secretsOfEnvironment(Map<String, String> env) {
    List<String> all = new ArrayList<>();
    for (Map.Entry<String, String> e : env.entrySet()) {
      if (e.getValue() == null) {
        continue;
      }
      if (SECRET_ENV.matcher(e.getKey()).matches()) {
        all.addAll(e.getKey().endsWith("KEYS") ? keyList(e.getValue()) : List.of(e.getValue()));
        if (e.getKey().endsWith("TOKEN")) { // SPILLWAY_API_TOKEN: several, comma-separated
          Arrays.stream(e.getValue().split(",")).map(String::trim).forEach(all::add);
        }
      } else if (e.getKey().startsWith("SPILLWAY_") && e.getValue().contains("://")) {
        all.addAll(secretsIn(e.getValue())); // SPILLWAY_REDIS_URI, SPILLWAY_JDBC_URL, ...
      }
    }
    return all;
  }

  /** {@code id:base64,id:base64}: the whole value, each entry and each entry's material. */
  private static List<String> keyList(String value) {
    List<String> all = new ArrayList<>();
    if (value == null) {
      return all;
    }
    all.add(value);
    for (String entry : value.split(",")) {
      all.add(entry.trim());
      int colon = entry.indexOf(':');
      if (colon >= 0) {
        all.add(entry.substring(colon + 1).trim());
      }
    }
    return all;
  }

  /** The forms a secret takes in text: raw, percent-encoded (upper and lower hex), decoded. */
  private static Set<String> variants(String secret) {
    Set<String> out = new LinkedHashSet<>();
    out.add(secret);
    String form = URLEncoder.encode(secret, StandardCharsets.UTF_8); // space as +
    String path = form.replace("+", "%20");
    for (String e : List.of(form, path)) {
      out.add(e);
      out.add(lowerHex(e));
    }
    try {
      String decoded = URLDecoder.decode(secret.replace("+", "%2B"), StandardCharsets.UTF_8);
      if (decoded.length() >= MIN_SECRET_LENGTH) {
        out.add(decoded);
      }
    } catch (IllegalArgumentException notEncoded) {
      // "w%rd" is not an encoded form of anything: the raw value is all there is.
    }
    return out;
  }

  private static String lowerHex(String encoded) {
    return PERCENT_HEX.matcher(encoded).replaceAll(r -> r.group().toLowerCase(Locale.ROOT));
  }

  @Override
  public String toString() {
    return "Redactor[secrets=" + secrets + "]";
  }
}
