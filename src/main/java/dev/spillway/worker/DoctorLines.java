package dev.spillway.worker;

import dev.spillway.worker.Doctor.Line;
import dev.spillway.worker.Doctor.Status;
import java.util.List;

/**
 * Where the doctor's checks write their lines (shared by {@link Doctor} and {@link RedisDoctor}).
 */
abstract class DoctorLines {
  final List<Line> lines;

  DoctorLines(List<Line> lines) {
    this.lines = lines;
  }

  final void ok(String check, String message) {
    lines.add(new Line(Status.OK, check, message, ""));
  }

  final void warn(String check, String message, String fix) {
    lines.add(new Line(Status.WARN, check, message, fix));
  }

  final void fail(String check, String message, String fix) {
    lines.add(new Line(Status.FAIL, check, message, fix));
  }
}
