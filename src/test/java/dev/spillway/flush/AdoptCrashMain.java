package dev.spillway.flush;

import dev.spillway.Spillway;
import dev.spillway.config.AdoptMapping;
import dev.spillway.config.KeyRegex;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Child JVM for {@link AdoptCrashTest}: runs the {@code page-views} adopt mapping once and halts
 * ({@code Runtime.halt(77)}, like a SIGKILL) at one step boundary: {@code after-claim}, {@code
 * before-commit} (inside the transaction) or {@code after-commit} (before the ack).
 *
 * <p>Arguments: {@code redisUri jdbcUrl jdbcUser jdbcPassword schema keyPrefix namespace boundary}.
 * Exit 77 = halted at the boundary; 3 = the run ended without reaching it.
 */
public final class AdoptCrashMain {
  static final int HALTED = 77;

  private AdoptCrashMain() {}

  static AdoptMapping mapping(String schema, String ns) {
    return new AdoptMapping(
        "page-views",
        ns + "views:*",
        KeyRegex.compile(Pattern.quote(ns) + "views:(?<page_id>[0-9]+)"),
        AdoptMapping.Type.STRING,
        "UPDATE "
            + schema
            + ".pages SET view_count = view_count + :delta WHERE id = CAST(:page_id AS bigint)",
        null,
        null,
        null,
        null,
        200);
  }

  public static void main(String[] args) {
    String boundary = args[7];
    FlushListener listener =
        new FlushListener() {
          @Override
          public void afterClaim(List<String> ids) {
            haltIf("after-claim");
          }

          @Override
          public void beforeCommit(Set<String> ids) {
            haltIf("before-commit");
          }

          @Override
          public void afterCommit(Set<String> ids) {
            haltIf("after-commit");
          }

          private void haltIf(String here) {
            if (here.equals(boundary)) {
              System.out.println("halting at " + here);
              System.out.flush();
              Runtime.getRuntime().halt(HALTED);
            }
          }
        };
    try (Spillway sw =
        Spillway.builder()
            .redisUri(args[0])
            .jdbcUrl(args[1])
            .jdbcUser(args[2])
            .jdbcPassword(args[3])
            .schema(args[4])
            .keyPrefix(args[5])
            .stripes(16)
            .migrate(false)
            .adopt(mapping(args[4], args[6]))
            .flushListener(listener)
            .build()) {
      System.out.println(
          "run finished without reaching " + boundary + ": " + sw.adoptOnce("page-views"));
    }
    System.exit(3);
  }
}
