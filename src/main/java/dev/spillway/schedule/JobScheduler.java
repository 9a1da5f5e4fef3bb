package dev.spillway.schedule;

import dev.spillway.SpillwayException;
import dev.spillway.runtime.RuntimeFailure;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;
import org.quartz.DisallowConcurrentExecution;
import org.quartz.Job;
import org.quartz.JobExecutionContext;
import org.quartz.JobKey;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.quartz.impl.SchedulerRepository;
import org.quartz.impl.StdSchedulerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs {@link ScheduledTask}s with Quartz, either in memory (one process) or on Quartz's clustered
 * JDBC job store in Spillway's PostgreSQL schema, where every worker sharing the schema shares the
 * tasks: each run happens on exactly one worker, and the tasks of a worker that dies are taken over
 * by the others (after its check-in is overdue by about {@code clusterCheckinInterval} plus 7.5 s).
 *
 * <p>Guarantees, in both modes: no two runs of one task overlap
 * ({@code @DisallowConcurrentExecution}, which the JDBC store enforces across the cluster); a run
 * that misfired (its task was still running, or the process or database was paused) is skipped
 * rather than replayed, so runs never pile up. Neither guarantee is what exactly-once counting
 * rests on: the flush ledger is.
 *
 * <p>The task bodies never reach the job store: Quartz stores only the task's name, and this
 * scheduler's job factory maps the name back to the body. A worker whose configuration lacks a task
 * that another worker registered skips its runs with a warning instead of failing them.
 *
 * <p>Hazards: all workers of a cluster must run the same task list (the last one to start rewrites
 * changed schedules and removes tasks it does not know). In cluster mode Quartz takes connections
 * from Spillway's pool ({@link #clustered}), and the pool is never closed by the scheduler; size it
 * for {@code threads} running tasks plus three Quartz housekeeping threads.
 *
 * <p>This class owns the life cycle and the runs; the Quartz store settings and connection
 * providers are {@link QuartzStore}'s, the jobs and triggers {@link QuartzJobs}', the run meters
 * {@link JobMeters}'.
 */
public final class JobScheduler implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(JobScheduler.class);

  /** Job start and end lines, at DEBUG: a flush every second makes them chatty. */
  private static final Logger jobLog = LoggerFactory.getLogger("dev.spillway.schedule.Jobs");

  private final Scheduler scheduler;
  private final Map<String, ScheduledTask> tasks;
  private final String instanceId;
  private final boolean clustered;
  private final String providerName;
  private final Map<String, JobMeters> meters;
  private final Set<String> running = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean shutDown = new AtomicBoolean();
  private final RuntimeFailure failure;

  private JobScheduler(Builder b) {
    this.failure = b.failure != null ? b.failure : new RuntimeFailure();
    this.tasks = Map.copyOf(b.tasks);
    this.clustered = b.dataSource != null;
    this.instanceId = b.instanceId != null ? b.instanceId : defaultInstanceId();
    this.meters = JobMeters.of(b.registry, b.tasks.keySet());
    String name = clustered ? clusterName(b.schema) : "spillway-" + UUID.randomUUID();
    if (SchedulerRepository.getInstance().lookup(name) != null) {
      throw new SpillwayException(
          "a clustered scheduler for schema " + b.schema + " already runs in this JVM");
    }
    providerName = clustered ? QuartzStore.addProvider(b.dataSource) : null;
    Properties p =
        QuartzStore.properties(name, instanceId, b.threads, providerName, b.schema, b.checkin);
    try {
      scheduler = new StdSchedulerFactory(p).getScheduler();
      scheduler.setJobFactory((bundle, s) -> new TaskJob(this, bundle.getJobDetail().getKey()));
      QuartzJobs.register(scheduler, tasks, clustered);
    } catch (SchedulerException | RuntimeException e) {
      releaseProvider();
      throw new SpillwayException(
          "starting the job scheduler failed: "
              + e.getMessage()
              + (clustered ? " (are the Quartz tables migrated? run spillway migrate)" : ""),
          e);
    }
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The Quartz scheduler name shared by the workers of one schema. */
  public static String clusterName(String schema) {
    return "spillway." + schema;
  }

  /** Starts firing triggers. */
  public void start() {
    try {
      scheduler.start();
    } catch (SchedulerException e) {
      throw new SpillwayException("starting the job scheduler failed: " + e.getMessage(), e);
    }
    log.info(
        "event=scheduler_started instance={} store={} tasks=\"{}\"",
        instanceId,
        clustered ? "jdbc-clustered" : "ram",
        String.join(", ", tasks.values().stream().map(ScheduledTask::toString).sorted().toList()));
  }

  /** Whether triggers fire: started, not paused, not shut down. */
  public boolean isRunning() {
    try {
      return scheduler.isStarted() && !scheduler.isInStandbyMode() && !scheduler.isShutdown();
    } catch (SchedulerException e) {
      return false;
    }
  }

  public boolean isClustered() {
    return clustered;
  }

  public String instanceId() {
    return instanceId;
  }

  /** Names of the tasks running in this process right now. */
  public Set<String> running() {
    return Set.copyOf(running);
  }

  public Set<String> taskNames() {
    return tasks.keySet();
  }

  /**
   * Stops firing, waits up to {@code timeout} for the tasks running in this process, then shuts
   * Quartz down without waiting further. Returns the tasks still running at the deadline: they go
   * on until the process exits. Idempotent; the shared connection pool is left open.
   */
  public Set<String> shutdown(Duration timeout) {
    if (!shutDown.compareAndSet(false, true)) {
      return running();
    }
    try {
      scheduler.standby();
    } catch (SchedulerException e) {
      log.warn("event=scheduler_standby_failed error=\"{}\"", e.getMessage());
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!running.isEmpty() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    Set<String> left = running();
    try {
      scheduler.shutdown(false);
    } catch (SchedulerException e) {
      log.warn("event=scheduler_shutdown_failed error=\"{}\"", e.getMessage());
    }
    if (left.isEmpty()) {
      releaseProvider();
    }
    return left;
  }

  /** {@link #shutdown} with two minutes for running tasks (a flush is bounded well below that). */
  @Override
  public void close() {
    Set<String> left = shutdown(Duration.ofMinutes(2));
    if (!left.isEmpty()) {
      log.warn("event=scheduler_closed_with_running_tasks tasks={}", left);
    }
  }

  private void execute(JobKey key) {
    String name = key.getName();
    ScheduledTask task = tasks.get(name);
    if (task == null) {
      log.warn(
          "event=task_unknown task={} instance={} action=skipped"
              + " reason=\"registered by another worker; do all workers share one configuration?\"",
          name,
          instanceId);
      return;
    }
    if (failure.failed()) {
      // A trigger Quartz had acquired before the standby that followed an Error: nothing runs.
      jobLog.debug("event=job_skipped job={} instance={} reason=runtime_failed", name, instanceId);
      return;
    }
    running.add(name);
    if (shutDown.get()) {
      // Fired just before shutdown() began, and not yet counted as running when it looked: do
      // not start now, when the runtime may be closing the connections this task would use.
      // (running is written before shutDown is read here, and the reverse in shutdown(), so at
      // least one of the two sees the other.)
      running.remove(name);
      jobLog.debug("event=job_skipped job={} instance={} reason=shutting_down", name, instanceId);
      return;
    }
    jobLog.debug("event=job_start job={} instance={}", name, instanceId);
    long start = System.nanoTime();
    String outcome = "ok";
    try {
      task.body().run();
    } catch (RuntimeException e) {
      outcome = "error";
      log.error("event=job_failed job={} instance={} error=\"{}\"", name, instanceId, e, e);
    } catch (Error e) {
      // Not retried on the next trigger: after an Error (out of heap, stack overflow) nothing this
      // process holds is trusted. Recorded once, and no task fires again.
      outcome = "error";
      failure.record(Thread.currentThread().getName() + " (job " + name + ")", e);
      standbyAfterError();
    } finally {
      long nanos = System.nanoTime() - start;
      running.remove(name);
      jobLog.debug(
          "event=job_end job={} instance={} outcome={} duration_ms={}",
          name,
          instanceId,
          outcome,
          nanos / 1_000_000);
      JobMeters m = meters.get(name);
      if (m != null) {
        m.duration().record(Duration.ofNanos(nanos));
        (outcome.equals("ok") ? m.ok() : m.error()).increment();
      }
    }
  }

  private void standbyAfterError() {
    try {
      scheduler.standby();
    } catch (SchedulerException | RuntimeException e) {
      log.warn("event=scheduler_standby_failed error=\"{}\"", e.getMessage());
    }
  }

  private void releaseProvider() {
    QuartzStore.releaseProvider(providerName);
  }

  private static String defaultInstanceId() {
    String host = System.getenv("HOSTNAME");
    if (host == null || host.isBlank()) {
      try {
        host = InetAddress.getLocalHost().getHostName();
      } catch (IOException e) {
        host = "localhost";
      }
    }
    String id = host.replaceAll("[^A-Za-z0-9_.:-]", "_") + "-" + ProcessHandle.current().pid();
    return id.length() > 100 ? id.substring(id.length() - 100) : id;
  }

  /**
   * The Quartz job: runs the task its key names. One class for every task. Its binary name ({@code
   * JobScheduler$TaskJob}) is stored in the clustered store's {@code qrtz_job_details}, so it stays
   * nested here.
   */
  @DisallowConcurrentExecution
  public static final class TaskJob implements Job {
    private final JobScheduler owner;
    private final JobKey key;

    TaskJob(JobScheduler owner, JobKey key) {
      this.owner = owner;
      this.key = key;
    }

    @Override
    public void execute(JobExecutionContext context) {
      owner.execute(key);
    }
  }

  /** Configuration of a {@link JobScheduler}; {@link #build()} registers the tasks. */
  public static final class Builder {
    private final Map<String, ScheduledTask> tasks = new LinkedHashMap<>();
    private int threads = 1;
    private String instanceId;
    private DataSource dataSource;
    private String schema;
    private Duration checkin = Duration.ofMillis(7500);
    private MeterRegistry registry;
    private RuntimeFailure failure;

    private Builder() {}

    /**
     * Where an {@link Error} thrown by a task is recorded (default: a latch of this scheduler's
     * own). After one, the scheduler stops firing.
     */
    public Builder failure(RuntimeFailure f) {
      this.failure = Objects.requireNonNull(f, "failure");
      return this;
    }

    /** Tasks that may run at once in this process (1 to 64). */
    public Builder threads(int n) {
      if (n < 1 || n > 64) {
        throw new IllegalArgumentException("threads must be between 1 and 64 but was " + n);
      }
      this.threads = n;
      return this;
    }

    /** This process's name in a cluster (default {@code <host>-<pid>}). */
    public Builder instanceId(String id) {
      this.instanceId = id;
      return this;
    }

    /**
     * Uses the clustered JDBC job store in {@code schema} (its {@code qrtz_} tables come from
     * migration V2) with connections from {@code dataSource}, which the scheduler never closes.
     */
    public Builder clustered(DataSource dataSource, String schema, Duration checkinInterval) {
      this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
      this.schema = Objects.requireNonNull(schema, "schema");
      this.checkin = Objects.requireNonNull(checkinInterval, "checkinInterval");
      return this;
    }

    /** Counts runs ({@code spillway.job.runs}) and times them ({@code spillway.job.duration}). */
    public Builder meterRegistry(MeterRegistry r) {
      this.registry = r;
      return this;
    }

    public Builder task(ScheduledTask t) {
      if (tasks.putIfAbsent(t.name(), t) != null) {
        throw new IllegalArgumentException("task name '" + t.name() + "' is used twice");
      }
      return this;
    }

    public Builder tasks(Collection<ScheduledTask> ts) {
      ts.forEach(this::task);
      return this;
    }

    /** Creates the Quartz scheduler and registers the tasks; call {@link #start()} to fire. */
    public JobScheduler build() {
      return new JobScheduler(this);
    }
  }
}
