package dev.spillway.report;

import dev.spillway.SpillwayConfig;
import dev.spillway.SpillwayException;
import dev.spillway.config.ExportSettings;
import dev.spillway.config.ReportSettings;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.IsoFields;
import java.util.Locale;
import java.util.Objects;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one scheduled export ({@code reporting.exports.<name>}): the report over the previous
 * complete period in the export's time zone, written to {@code <directory>/<name>-<period>.<ext>}
 * where {@code <period>} is the period's local start ({@code 2026-03-28} for a day, {@code
 * 2026-03-28T14} for an hour, {@code 2026-W13} for an ISO week, {@code 2026-03} for a month).
 *
 * <p>Atomic: the file is written and fsynced under a temporary name in the same directory, then
 * renamed over the target, so a reader never sees half a file and a crash leaves at most a {@code
 * .<name>-*.tmp} file behind. Two workers running the same export write the same name; the later
 * rename wins, which is harmless. A rerun for the same period replaces the file (late flushes
 * included).
 */
public final class ReportExport {
  private static final Logger log = LoggerFactory.getLogger(ReportExport.class);

  /** What one run wrote. */
  public record Result(String name, Path file, int rows) {}

  private final Reports reports;
  private final ReportSettings settings;
  private final InstantSource clock;

  public ReportExport(DataSource dataSource, SpillwayConfig config, InstantSource clock) {
    this.reports = new Reports(dataSource, config, clock);
    this.settings = config.reporting();
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  public static Result run(
      DataSource dataSource, SpillwayConfig config, String name, InstantSource clock) {
    return new ReportExport(dataSource, config, clock).run(name);
  }

  /**
   * @throws IllegalArgumentException when no export has that name
   * @throws SpillwayException when the report fails or the file cannot be written
   */
  public Result run(String name) {
    ExportSettings e = settings.exports().get(name);
    if (e == null) {
      throw new IllegalArgumentException(
          "no export named '" + name + "' (configured: " + settings.exports().keySet() + ")");
    }
    Instant now = clock.instant();
    ReportRequest request = ReportRequest.of(e, now);
    Report report = reports.run(request);
    Window.Between w = (Window.Between) request.window();
    Path target =
        e.directory()
            .resolve(
                e.name()
                    + "-"
                    + label(e.period(), w.from().atZone(e.zone()))
                    + "."
                    + e.format().extension());
    writeAtomically(target, ReportRenderer.render(report, e.format()));
    log.info("event=report_export name={} file={} rows={}", name, target, report.rows().size());
    return new Result(name, target, report.rows().size());
  }

  static String label(ExportSettings.Period p, ZonedDateTime start) {
    return switch (p) {
      case HOUR -> DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH", Locale.ROOT).format(start);
      case DAY -> DateTimeFormatter.ISO_LOCAL_DATE.format(start);
      case WEEK ->
          String.format(
              Locale.ROOT,
              "%d-W%02d",
              start.get(IsoFields.WEEK_BASED_YEAR),
              start.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR));
      case MONTH -> DateTimeFormatter.ofPattern("yyyy-MM", Locale.ROOT).format(start);
    };
  }

  /**
   * Writes {@code text} (UTF-8) to {@code target} atomically: temporary file in the same directory,
   * fsync, rename over the target, fsync of the directory.
   *
   * @throws SpillwayException naming the file when any step fails (the temporary file is removed)
   */
  public static void writeAtomically(Path target, String text) {
    Path dir = target.toAbsolutePath().getParent();
    Path tmp = null;
    try {
      Files.createDirectories(dir);
      tmp = Files.createTempFile(dir, "." + target.getFileName() + "-", ".tmp");
      try (FileChannel ch =
          FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        ch.write(StandardCharsets.UTF_8.encode(text));
        ch.force(true);
      }
      try {
        Files.move(
            tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("the file system of " + dir + " cannot rename atomically", e);
      }
      tmp = null;
      try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
        d.force(true); // the rename itself survives a crash
      } catch (IOException ignored) {
        // some file systems cannot fsync a directory; the file is complete either way
      }
    } catch (IOException e) {
      throw new SpillwayException(
          "writing report file " + target + " failed: " + e.getMessage(), e);
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // a leftover .tmp file is harmless and named as such
        }
      }
    }
  }
}
