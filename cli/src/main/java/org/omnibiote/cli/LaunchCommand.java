package org.omnibiote.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.omnibiote.UserError;
import org.omnibiote.launch.Hostfile;
import org.omnibiote.launch.LaunchRecord;
import org.omnibiote.launch.Ssh;
import org.omnibiote.launch.SshCluster;
import org.omnibiote.settings.TrainSettings;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

/**
 * {@code omnibiote launch --hosts FILE}: a run's coordinator and one worker per slot of every host
 * of a DeepSpeed-style hostfile, each started over ssh; {@code launch status} and {@code launch
 * stop} find them again through the run folder.
 */
@Command(
    name = "launch",
    mixinStandardHelpOptions = true,
    defaultValueProvider = TrainOptions.ReferenceDefaults.class,
    subcommands = {LaunchCommand.Status.class, LaunchCommand.Stop.class},
    description = {
      "Start a training run on several hosts over ssh: the coordinator on the first host of"
          + " --hosts (or --coordinator), then one worker per slot on every host, each a"
          + " background process whose log, pid and exit code go to RUN/launch/. Returns once all"
          + " are started (or, with --wait, when the run ends).",
      "--hosts FILE: one 'HOST slots=N' per line, as DeepSpeed's hostfile; '#' comments and"
          + " blank lines are skipped. HOST is what ssh connects to and what the node binds and"
          + " advertises, so it must reach that host from every other one (an address is"
          + " safest).",
      "Every host must see the run folder, --base_dir and the omnibiote distribution at the same"
          + " paths (shared storage), and accept ssh without a password (keys or an agent; your"
          + " ~/.ssh/config applies). Launching a run folder again resumes it from its latest"
          + " checkpoint.",
      "The training flags are those of `train` and go to the coordinator; the launcher's own"
          + " are --hosts, --run-dir, --coordinator, --port, --ssh, --omnibiote, --slot-device,"
          + " --min-workers, --wait and --start-timeout. Subcommands: status, stop."
    },
    footer = {
      "",
      "Example (hosts.txt: '10.0.0.1 slots=1' and '10.0.0.2 slots=2'):",
      "  bin/omnibiote launch --hosts hosts.txt --run-dir /shared/runs/r1 --base_dir"
          + " /shared/shards --n_layer 2 --n_embd 128 --n_head 4 --ctx_len 256 --batch_size 16"
          + " --mini_batch_size 4 --token_budget 2e6",
      "  bin/omnibiote launch status --run-dir /shared/runs/r1",
      "  bin/omnibiote launch stop --run-dir /shared/runs/r1    (checkpoint, then exit)",
      "  (the same launch command again resumes the run)"
    })
final class LaunchCommand implements Callable<Integer> {

  /** Options of the launcher itself: everything else is forwarded to the coordinator. */
  private static final Set<String> OWN =
      Set.of(
          "--hosts",
          "--run-dir",
          "--coordinator",
          "--port",
          "--ssh",
          "--omnibiote",
          "--slot-device",
          "--min-workers",
          "--wait",
          "--start-timeout",
          "--help",
          "--version");

  /** Path-valued flags, made absolute: the nodes run in other folders on other hosts. */
  private static final Set<String> PATHS =
      Set.of("--base_dir", "--save_name", "--tokenizer", "--config");

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;
  @Mixin ConfigOption configOption = new ConfigOption();
  @Mixin ConsoleOptions console = new ConsoleOptions();
  @Mixin TrainOptions trainOptions;
  @Mixin Remote remote = new Remote();

  @Option(
      names = "--hosts",
      paramLabel = "FILE",
      description = "The hostfile: 'HOST slots=N' per line (N workers on HOST).")
  Path hosts;

  @Option(
      names = "--run-dir",
      paramLabel = "DIR",
      description =
          "The run folder on shared storage (or give --save_name DIR/NAME; default name"
              + " omnibiota).")
  Path runDir;

  @Option(
      names = "--coordinator",
      paramLabel = "HOST",
      description = "Where the coordinator runs (default: the first host of --hosts).")
  String coordinator;

  @Option(
      names = "--port",
      paramLabel = "PORT",
      defaultValue = "2551",
      description =
          "The coordinator's cluster port, the workers' seed (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(
      names = "--slot-device",
      paramLabel = "cpu|cuda",
      defaultValue = "cpu",
      description =
          "What a slot is: cpu (a worker on the CPU, the host's cores shared among its slots) or"
              + " cuda (slot i of a host is its GPU cuda:i) (default: ${DEFAULT-VALUE}).")
  String slotDevice;

  @Option(
      names = "--min-workers",
      paramLabel = "N",
      description = "Workers the first world waits for (default: every slot of --hosts).")
  Integer minWorkers;

  @Option(
      names = "--wait",
      description = "Stay until the run ends and exit with the coordinator's exit code.")
  boolean await;

  @Option(
      names = "--start-timeout",
      paramLabel = "SECONDS",
      defaultValue = "180",
      description =
          "How long the coordinator has to check the run and start (default: ${DEFAULT-VALUE}).")
  int startTimeout;

  @Override
  public Integer call() throws Exception {
    if (hosts == null) {
      throw new UserError(
          "launch: give --hosts FILE (or: launch status | launch stop --run-dir DIR);"
              + " see launch --help");
    }
    Hostfile hostfile = Hostfile.read(hosts);
    if (!slotDevice.equals("cpu") && !slotDevice.equals("cuda")) {
      throw new UserError("--slot-device " + slotDevice + ": give cpu or cuda");
    }
    if (port < 1 || port > 65_535) {
      throw new UserError("--port " + port + ": give a port 1-65535");
    }
    List<String> forwarded = forwardedFlags();
    Path run = runFolder(forwarded);
    // The settings are checked here first: a mistake is one line now, not a line in a remote log.
    TrainSettings.from(console.apply(TrainOptions.config(spec, configOption.load())));

    String coordinatorHost = coordinator != null ? coordinator : hostfile.hosts().get(0).name();
    LaunchRecord record = new LaunchRecord(run);
    SshCluster cluster = remote.cluster(record, false);
    if (record.exists()) {
      for (SshCluster.Status s : cluster.status()) {
        if (s.state() == SshCluster.State.RUNNING) {
          throw new UserError(
              run
                  + " is running ("
                  + s.node().name()
                  + " pid "
                  + s.node().pid()
                  + " on "
                  + s.node().host()
                  + "): see `launch status --run-dir "
                  + run
                  + "`, or stop it with `launch stop --run-dir "
                  + run
                  + "`");
        }
      }
    }
    record.begin(remote.sshCommand(record), remote.omnibioteCommand(record));
    String seed = coordinatorHost + ":" + port;

    List<String> coordinatorArgs =
        new ArrayList<>(
            List.of(
                "coordinator",
                "--host",
                coordinatorHost,
                "--port",
                Integer.toString(port),
                "--seed-nodes",
                seed,
                "--min-workers",
                Integer.toString(minWorkers != null ? minWorkers : hostfile.slots())));
    coordinatorArgs.addAll(forwarded);
    var out = spec.commandLine().getOut();
    LaunchRecord.Node c =
        cluster.start(LaunchRecord.COORDINATOR, coordinatorHost, 0, coordinatorArgs);
    out.printf(
        "coordinator on %s: pid %d, log %s%n", coordinatorHost, c.pid(), record.log(c.name()));
    out.flush();
    awaitCoordinator(record, coordinatorHost);

    for (Hostfile.Host h : hostfile.hosts()) {
      for (int slot = 0; slot < h.slots(); slot++) {
        String name = "worker-" + h.name().replaceAll("[^A-Za-z0-9_.-]", "_") + "-" + slot;
        List<String> args =
            List.of(
                "worker",
                "--host",
                h.name(),
                "--port",
                "0",
                "--seed-nodes",
                seed,
                "--devices",
                slotDevice.equals("cpu") ? "cpu" : "cuda:" + slot);
        LaunchRecord.Node w = cluster.start(name, h.name(), h.slots(), args);
        out.printf("%s on %s: pid %d, log %s%n", name, h.name(), w.pid(), record.log(name));
        out.flush();
      }
    }
    out.printf(
        "started %d workers on %d hosts for %s%n  watch: bin/omnibiote launch status --run-dir %s%n"
            + "  stop:  bin/omnibiote launch stop --run-dir %s (checkpoint, then exit; launch"
            + " again to resume)%n",
        hostfile.slots(), hostfile.hosts().size(), run, run, run);
    out.flush();
    if (!await) {
      return 0;
    }
    cluster.awaitEnd(List.of(LaunchRecord.COORDINATOR), Duration.ofDays(3650), out);
    int code = record.exitCode(LaunchRecord.COORDINATOR).orElse(1);
    out.println("the coordinator exited with " + code);
    return code;
  }

  /** Waits until the coordinator has checked the run (it prints "run folder:") or has failed. */
  private void awaitCoordinator(LaunchRecord record, String host) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(startTimeout).toNanos();
    while (record.lastLine(LaunchRecord.COORDINATOR, "run folder: ") == null) {
      var exit = record.exitCode(LaunchRecord.COORDINATOR);
      if (exit.isPresent()) {
        String why = record.lastLine(LaunchRecord.COORDINATOR, "error: ");
        throw new UserError(
            "the coordinator on "
                + host
                + " exited with "
                + exit.getAsInt()
                + (why != null ? ": " + why.replaceFirst("^.*error: ", "") : "")
                + " (log: "
                + record.log(LaunchRecord.COORDINATOR)
                + ")");
      }
      if (System.nanoTime() > deadline) {
        throw new UserError(
            "the coordinator on "
                + host
                + " did not start within "
                + startTimeout
                + " s (log: "
                + record.log(LaunchRecord.COORDINATOR)
                + "); stop it with launch stop");
      }
      Thread.sleep(500);
    }
  }

  /** The flags given that are not the launcher's own, as the coordinator gets them. */
  private List<String> forwardedFlags() {
    List<String> out = new ArrayList<>();
    for (OptionSpec o : spec.commandLine().getParseResult().matchedOptions()) {
      if (OWN.contains(o.longestName())) {
        continue;
      }
      List<String> values = o.originalStringValues();
      if (values.isEmpty()) {
        out.add(o.longestName());
      }
      for (String v : values) {
        out.add(o.longestName());
        out.add(
            PATHS.contains(o.longestName())
                ? Path.of(v).toAbsolutePath().normalize().toString()
                : v);
      }
    }
    return out;
  }

  /** The run folder from --run-dir and/or --save_name; adds --save_name when only DIR is given. */
  private Path runFolder(List<String> forwarded) {
    int i = forwarded.indexOf("--save_name");
    Path save = i >= 0 ? Path.of(forwarded.get(i + 1)) : null;
    Path dir = runDir == null ? null : runDir.toAbsolutePath().normalize();
    if (save == null && dir == null) {
      throw new UserError("launch: give the run folder, --run-dir DIR (on shared storage)");
    }
    if (save == null) {
      forwarded.add("--save_name");
      forwarded.add(dir.resolve("omnibiota").toString());
      save = dir.resolve("omnibiota");
    }
    if (dir != null && !save.getParent().equals(dir)) {
      throw new UserError(
          "--run-dir " + dir + " and --save_name " + save + " name different run folders");
    }
    Path run = save.getParent();
    try {
      Files.createDirectories(run);
    } catch (java.io.IOException e) {
      throw new UserError("cannot make the run folder " + run + ": " + e.getMessage());
    }
    return run;
  }

  /** How the nodes are reached: shared by launch, status and stop. */
  static final class Remote {
    @Option(
        names = "--ssh",
        paramLabel = "COMMAND",
        description =
            "The ssh command and its options, split on spaces (env OMNIBIOTE_SSH; default: what"
                + " the last launch of the run used, else ssh). BatchMode=yes is always added.")
    String ssh;

    @Option(
        names = "--omnibiote",
        paramLabel = "PATH",
        description =
            "bin/omnibiote as every host sees it (default: what the last launch used, else this"
                + " distribution's, which must then be at the same path on every host).")
    String omnibiote;

    String sshCommand(LaunchRecord record) throws java.io.IOException {
      if (ssh != null) {
        return ssh;
      }
      String env = System.getenv("OMNIBIOTE_SSH");
      if (env != null && !env.isBlank()) {
        return env;
      }
      return record.settings().getProperty("ssh", "ssh");
    }

    String omnibioteCommand(LaunchRecord record) throws java.io.IOException {
      if (omnibiote != null) {
        return omnibiote;
      }
      String home = System.getProperty("omnibiote.home");
      String mine = home == null ? null : Path.of(home, "bin", "omnibiote").toString();
      String last = record.settings().getProperty("omnibiote");
      if (last != null) {
        return last;
      }
      if (mine == null) {
        throw new UserError("give --omnibiote PATH: bin/omnibiote as every host sees it");
      }
      return mine;
    }

    SshCluster cluster(LaunchRecord record, boolean mustExist) throws java.io.IOException {
      if (mustExist && !record.exists()) {
        throw new UserError(
            record.dir().resolve("nodes.tsv")
                + " does not exist: was this run started with launch (--run-dir)?");
      }
      return new SshCluster(new Ssh(sshCommand(record)), record, omnibioteCommand(record));
    }
  }

  /** {@code launch status}: every node of the last launch, then the console's status. */
  @Command(
      name = "status",
      mixinStandardHelpOptions = true,
      description = {
        "Show every node of the run's last launch (host, pid, running or its exit code, log),"
            + " checked over ssh, then the run's status from its console (admin status, run on"
            + " the coordinator's host)."
      },
      footer = {"", "Example:", "  bin/omnibiote launch status --run-dir /shared/runs/r1"})
  static final class Status implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;
    @Mixin Remote remote = new Remote();

    @Option(
        names = "--run-dir",
        required = true,
        paramLabel = "DIR",
        description = "The run folder of the launch.")
    Path runDir;

    @Override
    public Integer call() throws Exception {
      Path run = runDir.toAbsolutePath().normalize();
      LaunchRecord record = new LaunchRecord(run);
      SshCluster cluster = remote.cluster(record, true);
      var out = spec.commandLine().getOut();
      List<SshCluster.Status> all = cluster.status();
      String fmt = "%-" + width(all) + "s  %-16s  %8s  %-30s  %s%n";
      out.printf(fmt, "NODE", "HOST", "PID", "STATE", "LOG");
      SshCluster.Status coordinator = null;
      for (SshCluster.Status s : all) {
        out.printf(
            fmt,
            s.node().name(),
            s.node().host(),
            s.node().pid(),
            s.describe(),
            record.log(s.node().name()));
        if (s.node().coordinator()) {
          coordinator = s;
        }
      }
      if (coordinator != null && coordinator.state() == SshCluster.State.RUNNING) {
        out.println();
        Ssh.Result r =
            cluster.run(
                coordinator.node().host(), List.of("admin", "status", "--run", run.toString()));
        out.print(r.out());
        if (r.exit() != 0) {
          out.println("(admin status on " + coordinator.node().host() + ": exit " + r.exit() + ")");
        }
      } else if (coordinator != null) {
        String last = record.lastLine(LaunchRecord.COORDINATOR, "stopped by SIGTERM");
        out.println();
        out.println(
            "the coordinator is not running"
                + (last != null ? "; " + last.strip() : "")
                + "; launch again to resume from the latest checkpoint");
      }
      out.flush();
      return 0;
    }

    private static int width(List<SshCluster.Status> all) {
      int w = 4;
      for (SshCluster.Status s : all) {
        w = Math.max(w, s.node().name().length());
      }
      return w;
    }
  }

  /** {@code launch stop}: SIGTERM to the coordinator (checkpoint, exit 0), then to what is left. */
  @Command(
      name = "stop",
      mixinStandardHelpOptions = true,
      description = {
        "Stop the run of a launch cleanly: SIGTERM to the coordinator, which checkpoints at the"
            + " next step boundary, tells its workers the run is over and exits 0; then waits for"
            + " the workers to exit and sends SIGTERM to any still running after --grace.",
        "Exit 0 when the coordinator exited 0 and no node is left running. `launch` with the same"
            + " run folder then resumes from that checkpoint."
      },
      footer = {"", "Example:", "  bin/omnibiote launch stop --run-dir /shared/runs/r1"})
  static final class Stop implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;
    @Mixin Remote remote = new Remote();

    @Option(
        names = "--run-dir",
        required = true,
        paramLabel = "DIR",
        description = "The run folder of the launch.")
    Path runDir;

    @Option(
        names = "--timeout",
        paramLabel = "SECONDS",
        defaultValue = "420",
        description =
            "How long the coordinator has to checkpoint and exit (default: ${DEFAULT-VALUE}; its"
                + " own omnibiote.distributed.stop-timeout is 5 min).")
    int timeout;

    @Option(
        names = "--grace",
        paramLabel = "SECONDS",
        defaultValue = "60",
        description =
            "How long workers have to exit by themselves, then again after their SIGTERM"
                + " (default: ${DEFAULT-VALUE}).")
    int grace;

    @Override
    public Integer call() throws Exception {
      Path run = runDir.toAbsolutePath().normalize();
      LaunchRecord record = new LaunchRecord(run);
      SshCluster cluster = remote.cluster(record, true);
      var out = spec.commandLine().getOut();
      List<SshCluster.Status> all = cluster.status();
      boolean ok = true;
      List<String> workers = new ArrayList<>();
      for (SshCluster.Status s : all) {
        if (!s.node().coordinator()) {
          workers.add(s.node().name());
          continue;
        }
        if (s.state() != SshCluster.State.RUNNING) {
          out.println("the coordinator is not running (" + s.describe() + ")");
          continue;
        }
        out.printf(
            "SIGTERM to the coordinator (pid %d on %s): it checkpoints at the next step boundary,"
                + " then exits%n",
            s.node().pid(), s.node().host());
        out.flush();
        cluster.terminate(s.node());
        List<SshCluster.Status> after =
            cluster.awaitEnd(List.of(s.node().name()), Duration.ofSeconds(timeout), out);
        SshCluster.Status c = find(after, s.node().name());
        if (c.state() == SshCluster.State.RUNNING) {
          throw new UserError(
              "the coordinator still runs after "
                  + timeout
                  + " s (log: "
                  + record.log(c.node().name())
                  + "); run launch stop again to send a second SIGTERM (exit at once, no new"
                  + " checkpoint)");
        }
        String line = record.lastLine(LaunchRecord.COORDINATOR, "stopped by SIGTERM");
        out.println("the coordinator " + c.describe() + (line != null ? ": " + line.strip() : ""));
        ok = c.exit().isPresent() && c.exit().getAsInt() == 0;
      }
      out.flush();
      List<SshCluster.Status> left = cluster.awaitEnd(workers, Duration.ofSeconds(grace), out);
      List<SshCluster.Status> running = running(left, workers);
      if (!running.isEmpty()) {
        for (SshCluster.Status s : running) {
          out.printf(
              "SIGTERM to %s (pid %d on %s)%n", s.node().name(), s.node().pid(), s.node().host());
          cluster.terminate(s.node());
        }
        out.flush();
        left = cluster.awaitEnd(workers, Duration.ofSeconds(grace), out);
        running = running(left, workers);
      }
      for (SshCluster.Status s : left) {
        if (!s.node().coordinator()) {
          out.println(s.node().name() + " on " + s.node().host() + ": " + s.describe());
        }
      }
      if (!running.isEmpty()) {
        out.println(running.size() + " worker(s) still running; kill them on their hosts");
        ok = false;
      }
      out.flush();
      return ok ? 0 : 1;
    }

    private static SshCluster.Status find(List<SshCluster.Status> all, String name) {
      return all.stream().filter(s -> s.node().name().equals(name)).findFirst().orElseThrow();
    }

    private static List<SshCluster.Status> running(
        List<SshCluster.Status> all, List<String> names) {
      return all.stream()
          .filter(s -> names.contains(s.node().name()) && s.state() == SshCluster.State.RUNNING)
          .toList();
    }
  }
}
