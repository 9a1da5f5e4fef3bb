package dev.spillway.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.spillway.config.ExportSettings.Format;
import dev.spillway.config.ExportSettings.Kind;
import java.awt.image.BufferedImage;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTML report opened from a file in headless Chromium, offline, renders its chart: the
 * screenshot exists, is not blank, and holds a good area of the bar colour. Runs only where {@code
 * /usr/bin/chromium} is installed ({@code apt-get install -y chromium}); skipped otherwise. With
 * {@code -Dspillway.report.screenshot=FILE} the PNG is kept there for a look.
 */
class HtmlScreenshotTest {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");

  /** {@code #3b82c4}, the bar colour of {@link SvgChart}. */
  private static final int BAR_RGB = 0x3b82c4;

  @Test
  void htmlReport_headlessChromium_rendersChart(@TempDir Path dir) throws Exception {
    assumeTrue(Files.isExecutable(CHROMIUM), "Chromium is not installed at " + CHROMIUM);
    Path html = dir.resolve("report.html");
    Files.writeString(html, ReportRenderer.render(series(), Format.HTML));
    Path png = dir.resolve("screenshot.png");
    Path profile = Files.createTempDirectory(dir, "chromium-profile-");
    Path log = dir.resolve("chromium.log");
    Process p =
        new ProcessBuilder(
                CHROMIUM.toString(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--user-data-dir=" + profile,
                "--screenshot=" + png,
                "--window-size=1000,700",
                html.toUri().toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    try {
      assertThat(p.waitFor(90, TimeUnit.SECONDS)).as("chromium finished within 90 s").isTrue();
    } finally {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
    assertThat(png).as("screenshot; chromium said:\n%s", Files.readString(log)).exists();
    String keep = System.getProperty("spillway.report.screenshot");
    if (keep != null) {
      Files.copy(png, Path.of(keep), StandardCopyOption.REPLACE_EXISTING);
    }
    assertThat(Files.size(png)).isGreaterThan(10_000);
    BufferedImage img = ImageIO.read(png.toFile());
    assertThat(img.getWidth()).isEqualTo(1000);
    assertThat(img.getHeight()).isEqualTo(700);
    Set<Integer> colours = new HashSet<>();
    int bar = 0;
    for (int y = 0; y < img.getHeight(); y++) {
      for (int x = 0; x < img.getWidth(); x++) {
        int rgb = img.getRGB(x, y) & 0xffffff;
        colours.add(rgb);
        if (close(rgb, BAR_RGB)) {
          bar++;
        }
      }
    }
    assertThat(colours.size()).as("distinct colours (not a blank page)").isGreaterThan(20);
    // 48 bars averaging ~half of a 308 px plot, ~14 px wide: tens of thousands of pixels
    assertThat(bar).as("pixels in the bar colour").isGreaterThan(20_000);
  }

  private static boolean close(int a, int b) {
    int dr = Math.abs(((a >> 16) & 0xff) - ((b >> 16) & 0xff));
    int dg = Math.abs(((a >> 8) & 0xff) - ((b >> 8) & 0xff));
    int db = Math.abs((a & 0xff) - (b & 0xff));
    return dr + dg + db < 24;
  }

  /** Two days of hourly values with a daily swing, as a series report. */
  private static Report series() {
    ZoneId z = ZoneId.of("Europe/Berlin");
    ZonedDateTime t = ZonedDateTime.parse("2026-03-28T00:00:00+01:00[Europe/Berlin]");
    List<List<Object>> rows = new ArrayList<>();
    for (int i = 0; i < 48; i++) {
      long v = 2_000 + Math.round(1_500 * Math.sin(i * Math.PI / 12));
      rows.add(List.of(t.plusHours(i), t.plusHours(i + 1), BigInteger.valueOf(v)));
    }
    Map<String, String> params = new LinkedHashMap<>();
    params.put("counter", "page_views");
    params.put("time zone", z.getId());
    return new Report(
        Kind.SERIES,
        "page_views (all keys) per hour",
        params,
        List.of(
            new Report.Column("bucket_start", Report.Type.TIME),
            new Report.Column("bucket_end", Report.Type.TIME),
            new Report.Column("value", Report.Type.INTEGER)),
        rows,
        List.of());
  }
}
