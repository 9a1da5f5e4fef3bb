package dev.spillway.cli;

import dev.spillway.ConfigException;
import dev.spillway.SpillwayException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code spillway}: the command line. Errors in arguments or configuration print one sentence and
 * exit 2; runtime failures print one sentence and exit 1; no stack traces unless {@code
 * SPILLWAY_DEBUG=1}.
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
      "Configuration: --config FILE (YAML), overridden by SPILLWAY_REDIS_URI, SPILLWAY_JDBC_URL,",
      "SPILLWAY_JDBC_USER, SPILLWAY_JDBC_PASSWORD, SPILLWAY_KEY_PREFIX, SPILLWAY_SCHEMA.",
      "",
      "Examples:",
      "  spillway demo                         20 s of synthetic traffic, then a top-10 report",
      "  spillway migrate --config sw.yaml     create or upgrade the PostgreSQL schema",
      "  spillway incr page_views 42 --by 5    add 5 to page_views/42",
      "  spillway get page_views 42            print the exact value",
      "  spillway flush --once                 move everything pending in Redis to PostgreSQL",
      "  spillway report --help                top keys, time series, totals (table/CSV/JSON/HTML)",
      "  spillway worker --config sw.yaml      the standalone worker (schedules, /metrics, /health)",
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
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler(Main::onError);
    cl.setParameterExceptionHandler(
        (ex, a) -> {
          PrintWriter err = ex.getCommandLine().getErr();
          err.println("spillway: " + ex.getMessage());
          err.println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help'.");
          return 2;
        });
    return cl.execute(args);
  }

  private static int onError(
      Exception e, CommandLine cl, CommandLine.ParseResult parseResult) {
    PrintWriter err = cl.getErr();
    Throwable t = e;
    if (t instanceof IllegalArgumentException || t instanceof ConfigException) {
      err.println("spillway: " + t.getMessage());
      return 2;
    }
    err.println("spillway: " + (t instanceof SpillwayException ? t.getMessage() : t.toString()));
    if ("1".equals(System.getenv("SPILLWAY_DEBUG"))) {
      t.printStackTrace(err);
    }
    return 1;
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
