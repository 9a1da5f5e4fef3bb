package dev.spillway.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A child JVM running a {@code main} class from the test classpath, with the same {@code java}
 * binary as this JVM: for tests where a process must die mid-work (SIGKILL is a real crash; an
 * exception in a thread is not).
 *
 * <p>{@link #run} waits for the child and kills it if it outlives the timeout; {@link #start}
 * returns a handle so the test can {@link #kill()} it at a moment of its choosing. Standard output
 * and error are merged into a temporary file, read by {@link #output()}. Every path reaps the child
 * and its descendants; {@link #close()} also deletes the file.
 */
public final class JvmProcess implements AutoCloseable {

  /**
   * How a child ended.
   *
   * @param exitCode the exit status; 137 or similar after a kill
   * @param output stdout and stderr, interleaved as written
   * @param timedOut whether the child was killed for outliving its timeout
   */
  public record Result(int exitCode, String output, boolean timedOut) {}

  private final Process process;
  private final Path outputFile;

  private JvmProcess(Process process, Path outputFile) {
    this.process = process;
    this.outputFile = outputFile;
  }

  /**
   * Runs {@code mainClass} in a child JVM and waits at most {@code timeout} for it.
   *
   * @throws IllegalStateException if the child cannot be launched
   */
  public static Result run(Class<?> mainClass, Duration timeout, String... args) {
    try (JvmProcess child = start(mainClass, args)) {
      return child.await(timeout);
    }
  }

  /**
   * {@link #run}, with {@code env} laid over this JVM's environment (a null value removes the
   * variable).
   */
  public static Result run(
      Class<?> mainClass, Duration timeout, Map<String, String> env, String... args) {
    try (JvmProcess child = start(mainClass, env, args)) {
      return child.await(timeout);
    }
  }

  /**
   * Launches {@code mainClass} in a child JVM and returns at once.
   *
   * @throws IllegalStateException if the child cannot be launched
   */
  public static JvmProcess start(Class<?> mainClass, String... args) {
    return start(mainClass, Map.of(), args);
  }

  /**
   * {@link #start}, with {@code env} laid over this JVM's environment (a null value removes the
   * variable).
   */
  public static JvmProcess start(Class<?> mainClass, Map<String, String> env, String... args) {
    List<String> command = command(mainClass, args);
    String java = command.get(0);
    Path outputFile = null;
    try {
      outputFile = Files.createTempFile("spillway-jvm-", ".log");
      ProcessBuilder builder =
          new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(outputFile.toFile());
      env.forEach(
          (name, value) -> {
            if (value == null) {
              builder.environment().remove(name);
            } else {
              builder.environment().put(name, value);
            }
          });
      Process process = builder.start();
      return new JvmProcess(process, outputFile);
    } catch (IOException e) {
      deleteQuietly(outputFile);
      throw new IllegalStateException(
          "Could not launch a child JVM for " + mainClass.getName() + " with " + java, e);
    }
  }

  /**
   * How a child ended, its two streams kept apart (for assertions on what goes to stderr).
   *
   * @param exitCode the exit status
   * @param stdout what it wrote to standard output
   * @param stderr what it wrote to standard error
   * @param timedOut whether the child was killed for outliving its timeout
   */
  public record SplitResult(int exitCode, String stdout, String stderr, boolean timedOut) {}

  /**
   * Runs {@code mainClass} in a child JVM like {@link #run}, but keeps stdout and stderr apart.
   *
   * @throws IllegalStateException if the child cannot be launched
   */
  public static SplitResult runSplit(Class<?> mainClass, Duration timeout, String... args) {
    Path err = null;
    try {
      err = Files.createTempFile("spillway-jvm-", ".err");
      ProcessBuilder pb = new ProcessBuilder(command(mainClass, args));
      pb.redirectError(err.toFile());
      try (JvmProcess child = start(pb)) {
        Result r = child.await(timeout);
        return new SplitResult(r.exitCode(), r.output(), Files.readString(err), r.timedOut());
      }
    } catch (IOException e) {
      throw new IllegalStateException("Could not run a child JVM for " + mainClass.getName(), e);
    } finally {
      deleteQuietly(err);
    }
  }

  private static JvmProcess start(ProcessBuilder pb) throws IOException {
    Path outputFile = Files.createTempFile("spillway-jvm-", ".log");
    try {
      return new JvmProcess(pb.redirectOutput(outputFile.toFile()).start(), outputFile);
    } catch (IOException e) {
      deleteQuietly(outputFile);
      throw e;
    }
  }

  private static List<String> command(Class<?> mainClass, String... args) {
    String java =
        ProcessHandle.current()
            .info()
            .command()
            .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    List<String> command = new ArrayList<>();
    // Under Surefire the class path may be a single manifest-only jar; the child honours its
    // Class-Path entries just as this JVM does.
    command.addAll(List.of(java, "-cp", System.getProperty("java.class.path")));
    command.add(mainClass.getName());
    command.addAll(List.of(args));
    return command;
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** Everything the child has written so far. */
  public String output() {
    try {
      return Files.readString(outputFile);
    } catch (IOException e) {
      return "(output unreadable: " + e.getMessage() + ")";
    }
  }

  /** Kills the child and its descendants with SIGKILL and waits until they are reaped. */
  public void kill() {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    reap();
  }

  /** Waits for the child to exit; past {@code timeout} it is killed and the result says so. */
  public Result await(Duration timeout) {
    boolean exited;
    try {
      exited = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      kill();
      Thread.currentThread().interrupt();
      throw new IllegalStateException("Interrupted while waiting for child JVM " + pid(), e);
    }
    if (!exited) {
      kill();
    }
    return new Result(process.exitValue(), output(), !exited);
  }

  /** Kills the child if it still runs, then deletes its output file. */
  @Override
  public void close() {
    if (process.isAlive()) {
      kill();
    }
    deleteQuietly(outputFile);
  }

  private void reap() {
    boolean interrupted = false;
    while (true) {
      try {
        process.waitFor();
        break;
      } catch (InterruptedException e) {
        interrupted = true; // a killed process exits promptly; finish reaping, then re-interrupt
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private static void deleteQuietly(Path file) {
    if (file == null) {
      return;
    }
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      // A leftover log in the temp folder is harmless.
    }
  }
}
