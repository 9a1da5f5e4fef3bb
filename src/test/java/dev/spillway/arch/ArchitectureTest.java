package dev.spillway.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import dev.spillway.Spillway;
import dev.spillway.cache.CacheRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The package arrows and the public surface, as the build enforces them (README, "Code map"; each
 * package's {@code package-info.java} says what it owns and may use). Every arrow points inward:
 * {@code cli} → {@code worker} → {@code schedule} → {@code flush} → {@code store}, {@code client} →
 * {@code counter}, with {@code redis}, {@code layout}, {@code config} and {@code runtime} below
 * them. A failing rule prints the offending class, member and line.
 */
class ArchitectureTest {
  private static final String ROOT = "dev.spillway";

  /** The packages whose public types are Spillway's API; every other package is internal. */
  private static final Set<String> API_PACKAGES = Set.of(ROOT, ROOT + ".counter", ROOT + ".cache");

  /** The public types of the API packages, exactly. */
  private static final Set<String> PUBLIC_API =
      Set.of(
          "dev.spillway.Spillway",
          "dev.spillway.SpillwayConfig",
          "dev.spillway.SpillwayException",
          "dev.spillway.ConfigException",
          "dev.spillway.BufferFullException",
          "dev.spillway.Granularity",
          "dev.spillway.OverflowPolicy",
          "dev.spillway.Durability",
          "dev.spillway.counter.Counters",
          "dev.spillway.cache.CacheAside",
          "dev.spillway.cache.CacheLoader",
          "dev.spillway.cache.CacheWriter",
          "dev.spillway.cache.CacheLoadException",
          "dev.spillway.cache.CachedCounters",
          "dev.spillway.cache.ValueSerializer",
          "dev.spillway.cache.AesGcmCodec",
          // public only for the root's builder to start it; see cacheRuntime_onlyStartedByTheRoot
          "dev.spillway.cache.CacheRuntime");

  private static JavaClasses main;

  @BeforeAll
  static void importMainClasses() {
    main =
        new ClassFileImporter()
            // Not Predefined.DO_NOT_INCLUDE_TESTS: it knows only target/test-classes, and the
            // build directory can be moved (-Dspillway.build.dir).
            .withImportOption(location -> !location.contains("/test-classes/"))
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_JARS)
            .importPackages(ROOT);
  }

  @Test
  void packages_haveNoCycles() {
    // The root is left out: it is the API, whose entry point wires every package and whose
    // configuration record and exceptions every package uses (see entryPoint_onlyUsedByTheTop).
    slices().matching("dev.spillway.(*)..").should().beFreeOfCycles().check(main);
  }

  @Test
  void entryPoint_onlyUsedByTheTop() {
    noClasses()
        .that()
        .resideOutsideOfPackages(
            ROOT, ROOT + ".cli..", ROOT + ".worker..", ROOT + ".spring..", ROOT + ".api..")
        .should()
        .dependOnClassesThat()
        .belongToAnyOf(Spillway.class, Spillway.Builder.class)
        .check(main);
  }

  @Test
  void engine_neverReachesTheProcessOrTheCommandLine() {
    noClasses()
        .that()
        .resideInAnyPackage(
            ROOT + ".flush..",
            ROOT + ".client..",
            ROOT + ".counter..",
            ROOT + ".store..",
            ROOT + ".cache..",
            ROOT + ".schedule..",
            ROOT + ".report..",
            ROOT + ".redis..",
            ROOT + ".layout..",
            ROOT + ".config..",
            ROOT + ".runtime..",
            ROOT + ".metrics..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(ROOT + ".cli..", ROOT + ".worker..")
        .check(main);
  }

  @Test
  void store_neverReachesTheProtocolsAboveIt() {
    noClasses()
        .that()
        .resideInAPackage(ROOT + ".store..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            ROOT + ".flush..",
            ROOT + ".client..",
            ROOT + ".counter..",
            ROOT + ".cache..",
            ROOT + ".schedule..",
            ROOT + ".report..")
        .check(main);
  }

  @Test
  void cache_neverReachesTheCounterClientOrTheFlush() {
    noClasses()
        .that()
        .resideInAPackage(ROOT + ".cache..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            ROOT + ".counter..", ROOT + ".client..", ROOT + ".flush..", ROOT + ".schedule..")
        .check(main);
  }

  @Test
  void counterApi_reachesNoImplementation() {
    noClasses()
        .that()
        .resideInAPackage(ROOT + ".counter..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            ROOT + ".client..",
            ROOT + ".flush..",
            ROOT + ".store..",
            ROOT + ".cache..",
            ROOT + ".redis..")
        .check(main);
  }

  @Test
  void flush_neverReachesTheClientOrTheSchedules() {
    noClasses()
        .that()
        .resideInAPackage(ROOT + ".flush..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            ROOT + ".client..", ROOT + ".counter..", ROOT + ".schedule..", ROOT + ".cache..")
        .check(main);
  }

  @Test
  void foundations_reachOnlyEachOther() {
    // layout, config, runtime and redis sit below every protocol.
    noClasses()
        .that()
        .resideInAnyPackage(
            ROOT + ".layout..", ROOT + ".config..", ROOT + ".runtime..", ROOT + ".redis..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            ROOT + ".flush..",
            ROOT + ".client..",
            ROOT + ".counter..",
            ROOT + ".store..",
            ROOT + ".cache..",
            ROOT + ".schedule..",
            ROOT + ".report..",
            ROOT + ".metrics..",
            ROOT + ".embedded..")
        .check(main);
  }

  @Test
  void cacheRuntime_onlyStartedByTheRoot() {
    classes()
        .that()
        .belongToAnyOf(CacheRuntime.class)
        .should()
        .onlyBeAccessed()
        .byAnyPackage(ROOT, ROOT + ".cache")
        .check(main);
  }

  @Test
  void apiPackages_exposeOnlyTheListedTypes() {
    Set<String> exposed = new TreeSet<>();
    for (JavaClass c : main) {
      if (API_PACKAGES.contains(c.getPackageName())
          && c.isTopLevelClass()
          && c.getModifiers().contains(JavaModifier.PUBLIC)) {
        exposed.add(c.getName());
      }
    }
    assertThat(exposed)
        .as(
            "public types of the API packages; a new one is API (add it here and to the README's"
                + " Java API list) or an implementation (make it package-private)")
        .containsExactlyInAnyOrderElementsOf(PUBLIC_API);
  }

  /**
   * Types of internal packages that the API takes or returns (the README lists them under "Public
   * types"): reports, listeners and the dead-letter table's view. Anything else an API signature
   * names must itself be API, the JDK or a library.
   */
  private static final Set<String> HANDED_OUT =
      Set.of(
          "dev.spillway.flush.FlushReport",
          "dev.spillway.flush.LeftAlone",
          "dev.spillway.flush.FlushListener",
          "dev.spillway.config.AdoptMapping",
          // the configuration record's sections
          "dev.spillway.config.WorkerSettings",
          "dev.spillway.config.CacheSettings",
          "dev.spillway.config.ReportSettings",
          "dev.spillway.config.ApiSettings",
          "dev.spillway.store.DeadLetters",
          "dev.spillway.runtime.RuntimeFailure");

  @Test
  void apiSignatures_nameOnlyApiTypesAndTheListedOnes() {
    Set<String> named = new TreeSet<>();
    for (JavaClass c : main) {
      if (!PUBLIC_API.contains(c.getName()) && !isNestedInApi(c)
          || c.getName().equals("dev.spillway.cache.CacheRuntime")) {
        continue; // CacheRuntime: the root's wiring door, not API
        // (cacheRuntime_onlyStartedByTheRoot)
      }
      c.getMethods().stream()
          .filter(m -> m.getModifiers().contains(JavaModifier.PUBLIC))
          .forEach(
              m -> {
                m.getRawParameterTypes()
                    .forEach(t -> named.add(t.getBaseComponentType().getName()));
                named.add(m.getRawReturnType().getBaseComponentType().getName());
              });
      c.getConstructors().stream()
          .filter(k -> k.getModifiers().contains(JavaModifier.PUBLIC))
          .forEach(
              k ->
                  k.getRawParameterTypes()
                      .forEach(t -> named.add(t.getBaseComponentType().getName())));
    }
    Set<String> internal = new TreeSet<>();
    for (String n : named) {
      String top = n.contains("$") ? n.substring(0, n.indexOf('$')) : n;
      if (top.startsWith(ROOT + ".") && !PUBLIC_API.contains(top) && !HANDED_OUT.contains(top)) {
        internal.add(n);
      }
    }
    assertThat(internal)
        .as("internal types named by public API signatures; make them API or keep them out")
        .isEmpty();
  }

  private static boolean isNestedInApi(JavaClass c) {
    return c.getName().contains("$")
        && PUBLIC_API.contains(c.getName().substring(0, c.getName().indexOf('$')))
        && c.getModifiers().contains(JavaModifier.PUBLIC);
  }

  /**
   * Files over 400 lines (as formatted: {@code make test} checks the format first) say why in their
   * Javadoc, and there are at most three of them: a long file is a choice, not a drift.
   */
  @Test
  void longFiles_sayWhyAndAreFew() throws IOException {
    Set<String> longFiles = new TreeSet<>();
    try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
      for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
        List<String> lines = Files.readAllLines(f);
        if (lines.size() > 400) {
          longFiles.add(f + " (" + lines.size() + " lines)");
          assertThat(String.join("\n", lines))
              .as("%s has %d lines; its Javadoc must say why it stays over 400", f, lines.size())
              .contains("Why this file stays over 400 lines");
        }
      }
    }
    assertThat(longFiles).as("files over 400 lines").hasSizeLessThanOrEqualTo(3);
  }

  @Test
  void everyPackage_saysWhatItOwnsAndWhetherItIsInternal() throws IOException {
    Path src = Path.of("src/main/java/dev/spillway");
    Set<String> packages = new TreeSet<>();
    main.forEach(c -> packages.add(c.getPackageName()));
    for (String p : packages) {
      Path info =
          src.resolve(p.substring(ROOT.length()).replace('.', '/').replaceFirst("^/", ""))
              .resolve("package-info.java");
      assertThat(info).as("package %s needs a package-info.java (README, Code map)", p).exists();
      String text = Files.readString(info);
      if (!API_PACKAGES.contains(p)) {
        assertThat(text)
            .as("%s is not an API package, so its package-info says 'Internal:'", p)
            .contains("Internal:");
      }
    }
    try (Stream<Path> s = Files.list(src)) {
      long rootFiles = s.filter(f -> f.toString().endsWith(".java")).count();
      assertThat(rootFiles)
          .as("files in the root package (entry point, config record, exceptions)")
          .isLessThanOrEqualTo(8 + 1); // + package-info.java
    }
  }
}
