package dev.spillway.cli;

import dev.spillway.ConfigException;
import dev.spillway.SpillwayException;
import dev.spillway.config.Redactor;
import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code spillway}: the command line. Errors in arguments or configuration print one sentence and
 * exit 2; runtime failures print one sentence and exit 1; no stack traces unless {@code
 * SPILLWAY_DEBUG=1}. Whatever is printed about a failure passes through the command's {@link
 * Redactor} first: a rejected URL may carry its password.
 */
@Command(
    name = "spillway",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = {
      "Write-behind counters: increments at memory speed, Redis absorbs them, PostgreSQL keeps"
          + " them, exactly once.",
      ""
    },
    footer = {
      "",
      "Configuration: --config FILE (YAML), overridden by SPILLWAY_REDIS_URI, SPILLWAY_JDBC_URL,"
          + " SPILLWAY_JDBC_USER, SPILLWAY_JDBC_PASSWORD, SPILLWAY_KEY_PREFIX, SPILLWAY_SCHEMA.",
      "",
      "Examples:",
      "  spillway demo                         20 s of synthetic traffic, then a top-10 report",
      "  spillway migrate --config sw.yaml     create or upgrade the PostgreSQL schema",
      "  spillway incr page_views 42 --by 5    add 5 to page_views/42",
      "  spillway get page_views 42            print the exact value",
      "  spillway flush --once                 move everything pending in Redis to PostgreSQL",
      "  spillway report --help                top keys, time series, totals (table/CSV/JSON/HTML)",
      "  spillway worker --config sw.yaml      the standalone worker (schedules, /metrics,"
          + " /health)",
      "  spillway doctor --config sw.yaml      check Redis and PostgreSQL settings, with fixes",
      "",
      "Exit codes: 0 success; 1 runtime failure (e.g. PostgreSQL or Redis unreachable), one"
          + " sentence on stderr; 2 bad argument or configuration; 3 get printed only the value"
          + " pending in Redis (PostgreSQL unreachable). incr needs only Redis."
    },
    subcommands = {
      MigrateCommand.class,
      FlushCommand.class,
      IncrCommand.class,
      GetCommand.class,
      DemoCommand.class,
      ReportCommand.class,
      DeadLetterCommand.class,
      WorkerCommand.class,
      DoctorCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  /** Runs the command line and returns its exit code (tests call this). */
  public static int execute(String... args) {
    return execute(null, null, args);
  }

  /**
   * Runs the command line with its output and errors going to {@code out} and {@code err} (null:
   * the console), for tests that run commands in-process.
   */
  static int execute(PrintWriter out, PrintWriter errors, String... args) {
    CommandLine cl = new CommandLine(new Main());
    if (out != null) {
      cl.setOut(out);
    }
    if (errors != null) {
      cl.setErr(errors);
    }
    cl.setExecutionExceptionHandler(Main::onError);
    cl.setParameterExceptionHandler(
        (ex, a) -> {
          PrintWriter err = ex.getCommandLine().getErr();
          err.println("spillway: " + redactor(ex.getCommandLine()).redact(ex.getMessage()));
          err.println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help'.");
          return 2;
        });
    return cl.execute(args);
  }

  private static int onError(Exception e, CommandLine cl, CommandLine.ParseResult parseResult) {
    PrintWriter err = cl.getErr();
    Redactor redactor = redactor(cl);
    Throwable t = e;
    if (t instanceof IllegalArgumentException || t instanceof ConfigException) {
      err.println("spillway: " + redactor.redact(t.getMessage()));
      return 2;
    }
    err.println(
        "spillway: "
            + redactor.redact(t instanceof SpillwayException ? t.getMessage() : t.toString()));
    if ("1".equals(System.getenv("SPILLWAY_DEBUG"))) {
      StringWriter trace = new StringWriter();
      t.printStackTrace(new PrintWriter(trace));
      err.print(redactor.redact(trace.toString()));
    }
    return 1;
  }

  /** The redactor of the command's {@link ConfigOptions}, or the environment's secrets alone. */
  private static Redactor redactor(CommandLine cl) {
    for (CommandLine.Model.CommandSpec mixin : cl.getCommandSpec().mixins().values()) {
      if (mixin.userObject() instanceof ConfigOptions options) {
        return options.redactor();
      }
    }
    return Redactor.ofEnvironment(System.getenv());
  }

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"spillway " + (v == null ? "dev" : v)};
    }
  }
}
