package org.omnibiote.launch;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.omnibiote.UserError;
import org.omnibiote.cluster.ClusterNode;
import org.omnibiote.cluster.RunCompletion;
import org.omnibiote.coordinator.RunSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code train --workers N}: a coordinator node in this JVM and N worker JVMs on this host, a real
 * multi-process run over 127.0.0.1 (Artery between the nodes, Gloo between the workers). A worker
 * JVM that dies before the run ends is started again; it joins at the next step boundary, and the
 * run goes on without it meanwhile.
 */
public final class LocalCluster {
  private static final Logger log = LoggerFactory.getLogger(LocalCluster.class);

  private final Config config;
  // The local cluster's address: omnibiote.cluster.host (127.0.0.1 by default).
  private final String host;
  private final int workers;
  private final PrintStream out;
  private final PrintStream err;
  private final List<Process> processes = new java.util.concurrent.CopyOnWriteArrayList<>();
  private volatile boolean ending;

  public LocalCluster(Config config, int workers, PrintStream out, PrintStream err) {
    this.config = config;
    this.host = config.getString("omnibiote.cluster.host");
    this.workers = workers;
    this.out = out;
    this.err = err;
  }

  public int run() throws IOException, InterruptedException {
    List<String> devices = devices();
    int port = freePort();
    Config c =
        config
            .withValue("omnibiote.distributed.min-workers", ConfigValueFactory.fromAnyRef(workers))
            // Local workers join this JVM's node as a seed, whatever a profile says.
            .withValue("omnibiote.cluster.discovery", ConfigValueFactory.fromAnyRef("seed-nodes"));
    // No libtorch in this JVM: the workers compute (each unpacks the natives under a lock).
    RunSpec spec = RunSpec.prepare(c, RunSpec.Start.NEW_OR_RESUMED);
    ClusterNode.Settings s = ClusterNode.Settings.resolve(c, host, port, host + ":" + port);
    out.printf("model: %s; data: %s%n", spec.model().toJson(), spec.dataDescription());
    out.printf(
        "run folder: %s; %d local workers (logs in %s)%n",
        spec.runDir(), workers, spec.runDir().resolve("workers"));
    RunCompletion completion = new RunCompletion(out, spec.runDir());
    ActorSystem<Void> system = ClusterNode.coordinator(c, s, spec, completion);
    Files.createDirectories(spec.runDir().resolve("workers"));
    Thread supervisor =
        new Thread(
            () -> supervise(spec.runDir(), port, devices, completion), "omnibiote-local-workers");
    supervisor.setDaemon(true);
    try {
      for (int i = 0; i < workers; i++) {
        processes.add(start(i, spec.runDir(), port, devices.get(i)));
      }
      supervisor.start();
      return completion.await(system, s);
    } finally {
      ending = true;
      stopWorkers();
    }
  }

  /** Starts worker JVM {@code i}: this JVM's java and classpath, one core's share of threads. */
  private Process start(int i, Path runDir, int coordinatorPort, String device) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd =
        new ArrayList<>(List.of(java, "-Xss4m", "-cp", System.getProperty("java.class.path")));
    String javaOpts = System.getenv("OMNIBIOTE_WORKER_JAVA_OPTS");
    if (javaOpts != null && !javaOpts.isBlank()) {
      cmd.addAll(List.of(javaOpts.trim().split("\\s+")));
    }
    cmd.addAll(
        List.of(
            "org.omnibiote.cli.Main",
            "worker",
            "--host",
            host,
            "--port",
            "0",
            "--seed-nodes",
            host + ":" + coordinatorPort,
            "--devices",
            device,
            "--store-port",
            "0",
            "--rejoin-for",
            "0s"));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    int threads = Math.max(1, Runtime.getRuntime().availableProcessors() / workers);
    pb.environment().put("OMP_NUM_THREADS", Integer.toString(threads));
    pb.environment().put("OPENBLAS_NUM_THREADS", Integer.toString(threads));
    pb.environment().putIfAbsent("OPENBLAS_THREAD_TIMEOUT", "4");
    Path logFile = runDir.resolve("workers").resolve("worker-" + i + ".log");
    pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
    Process p = pb.start();
    log.info("started local worker {} (pid {}), log {}", i, p.pid(), logFile);
    return p;
  }

  /** Restarts a worker JVM that exits before the run ends (killed, crashed, evicted as hung). */
  private void supervise(Path runDir, int port, List<String> devices, RunCompletion completion) {
    while (!ending) {
      for (int i = 0; i < processes.size() && !ending; i++) {
        Process p = processes.get(i);
        if (!p.isAlive() && !ending && !completion.ended()) {
          int code = p.exitValue();
          if (code == 0) {
            continue; // the run told it to finish
          }
          if (code == 2) {
            err.println(
                "error: local worker "
                    + i
                    + " refused to run (exit 2); see "
                    + runDir.resolve("workers").resolve("worker-" + i + ".log"));
            continue;
          }
          log.warn("local worker {} (pid {}) exited with {}: starting it again", i, p.pid(), code);
          try {
            processes.set(i, start(i, runDir, port, devices.get(i)));
          } catch (IOException e) {
            log.error("cannot restart local worker {}: {}", i, e.getMessage());
          }
        }
      }
      try {
        Thread.sleep(500);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /**
   * Each local worker's device: {@code --devices cpu} gives every worker the CPU; a list {@code
   * cuda:0,cuda:1,...} of N devices gives worker i the i-th.
   */
  @SuppressWarnings("StringSplitter") // as before, a trailing comma in --devices is ignored
  private List<String> devices() {
    String spec = config.getString("omnibiote.train.devices").trim();
    List<String> out = new ArrayList<>();
    if (spec.equals("cpu")) {
      for (int i = 0; i < workers; i++) {
        out.add("cpu");
      }
      return out;
    }
    for (String d : spec.split(",")) {
      if (!d.trim().matches("cuda:\\d+")) {
        throw new UserError(
            "--devices " + spec + ": with --workers give cpu, or one cuda:N per worker");
      }
      out.add(d.trim());
    }
    if (out.size() != workers) {
      throw new UserError(
          "--devices "
              + spec
              + " lists "
              + out.size()
              + " devices for --workers "
              + workers
              + ": give one cuda:N per worker (or cpu)");
    }
    return out;
  }

  private void stopWorkers() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    for (Process p : processes) {
      if (!p.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        p.destroy();
      }
    }
    for (Process p : processes) {
      if (!p.waitFor(5, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    }
  }

  private int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UserError(
          "no free port on " + host + " for the local coordinator: " + e.getMessage());
    }
  }
}
