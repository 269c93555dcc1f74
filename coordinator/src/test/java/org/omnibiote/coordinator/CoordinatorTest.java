package org.omnibiote.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.checkpoint.CheckpointManifest;
import org.omnibiote.checkpoint.Checkpoints;
import org.omnibiote.checkpoint.TrainingState;
import org.omnibiote.coordinator.WorkerProtocol.Describe;
import org.omnibiote.coordinator.WorkerProtocol.Evicted;
import org.omnibiote.coordinator.WorkerProtocol.Finish;
import org.omnibiote.coordinator.WorkerProtocol.JoinWorld;
import org.omnibiote.coordinator.WorkerProtocol.LeaveWorld;
import org.omnibiote.coordinator.WorkerProtocol.RunStep;
import org.omnibiote.coordinator.WorkerProtocol.Save;
import org.omnibiote.data.IngestOutputs;
import org.omnibiote.metrics.MetricsLog;
import org.omnibiote.schedule.Ledger;
import org.omnibiote.settings.TrainSettings;

/**
 * The Coordinator's decisions, in seconds: a real one-node Pekko Cluster in this JVM, a real run
 * folder and real shards, and TestProbes in the workers' place, answering the protocol by hand (no
 * libtorch here). Each test is one behaviour of docs/distributed.md: forming a world and committing
 * steps, a worker lost or hung mid-step, a late joiner, a worker leaving during a save, stale
 * messages, a restart from the ledger, a refused worker, the end of a run.
 *
 * <p>Timeouts are short (settle 100 ms, abort-settle 200 ms, step-timeout 2 s, join-timeout 2 s,
 * outcome-timeout 1 s). Every run has 12 rows per step in micro-batches of 4 (3 micro-batches:
 * ranks of a world of two get 2 and 1) at ctx_len 64.
 */
class CoordinatorTest {
  private static final int BATCH = 12;
  private static final int MINI = 4;
  private static final int CTX = 64;
  private static final Duration WAIT = Duration.ofSeconds(5);
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path shards;
  @TempDir Path dir;

  private ActorTestKit kit;
  private Listener listener;
  private ActorRef<Coordinator.Command> coordinator;
  private final List<Worker> workers = new ArrayList<>();

  @BeforeAll
  static void ingest() throws IOException {
    IngestOutputs.realIngest(shards);
  }

  /** A one-node cluster with the coordinator's cluster config (Kryo bindings, SBR, ...). */
  @BeforeEach
  void startCluster() {
    Map<String, Object> node = new HashMap<>();
    node.put("pekko.actor.provider", "cluster");
    node.put("pekko.remote.artery.canonical.hostname", "127.0.0.1");
    node.put("pekko.remote.artery.canonical.port", 0);
    node.put("pekko.cluster.roles", List.of("coordinator"));
    node.put("pekko.cluster.jmx.enabled", "off");
    // Listings reach subscribers sooner than the 500 ms default: a deregistered probe is lost fast.
    node.put(
        "pekko.cluster.typed.receptionist.distributed-data.notify-subscribers-interval", "50ms");
    node.put("pekko.actor.serialize-messages", "off");
    // The system is thrown away after each test: no graceful leave of the cluster first (a
    // second per test), nor the coordinator aborting its world when its own node goes.
    node.put("pekko.coordinated-shutdown.run-by-actor-system-terminate", "off");
    Config config =
        ConfigFactory.parseMap(node)
            .withFallback(ConfigFactory.load().getConfig("omnibiote.cluster.system"))
            .withFallback(ConfigFactory.load());
    kit = ActorTestKit.create("CoordinatorTest", config);
    Cluster cluster = Cluster.get(kit.system());
    cluster.manager().tell(Join.create(cluster.selfMember().address()));
    TestProbe<Object> probe = kit.createTestProbe();
    probe.awaitAssert(
        WAIT,
        () -> {
          assertEquals(MemberStatus.up(), cluster.selfMember().status());
          return null;
        });
    listener = new Listener();
  }

  @AfterEach
  void stopCluster() {
    kit.shutdownTestKit();
  }

  // ---- 1 --------------------------------------------------------------------------------------

  @Test
  void twoWorkersFormGenerationOneTheStepIsSplitAndCommittedWhenBothReported() throws Exception {
    RunSpec spec = spec(10, Map.of(), 2);
    start(spec);
    Worker a = worker("a").up();
    Worker b = worker("b").up();

    JoinWorld ja = a.expect(JoinWorld.class);
    JoinWorld jb = b.expect(JoinWorld.class);
    assertEquals(1, ja.generation());
    assertEquals(1, jb.generation());
    assertEquals(Set.of(0, 1), Set.of(ja.rank(), jb.rank()));
    assertEquals(2, ja.size());
    assertEquals(2, jb.size());
    assertEquals(ja.worldKey(), jb.worldKey());
    assertTrue(ja.worldKey().endsWith("-gen-1"), ja.worldKey());
    assertInstanceOf(
        WorkerProtocol.InitFromSeed.class, ja.restore(), "a new run starts from the seed");
    assertEquals(ja.restore(), jb.restore());
    assertEquals(spec.dataFingerprint(), ja.dataFingerprint());
    assertEquals(spec.settings(), ja.settings(), "the run's settings");
    assertEquals(1000, ja.collectiveTimeoutMs());
    Worker r0 = ja.rank() == 0 ? a : b;
    Worker r1 = r0 == a ? b : a;
    for (JoinWorld j : List.of(ja, jb)) {
      assertEquals(r0.description.storeHost(), j.storeHost(), "every rank meets at rank 0's store");
      assertEquals(r0.description.storePort(), j.storePort());
    }
    // No step before every rank joined.
    a.joined(ja);
    a.probe.expectNoMessage(Duration.ofMillis(300));
    b.joined(jb);

    RunStep s0 = r0.expect(RunStep.class);
    RunStep s1 = r1.expect(RunStep.class);
    assertEquals(
        List.of(1L, 0L, 0L, 2, 3),
        List.of(
            s0.generation(),
            s0.step(),
            s0.firstSample(),
            s0.microBatches(),
            s0.stepMicroBatches()));
    assertEquals(
        List.of(1L, 0L, 8L, 1, 3),
        List.of(
            s1.generation(),
            s1.step(),
            s1.firstSample(),
            s1.microBatches(),
            s1.stepMicroBatches()));
    assertEquals(1.0, s0.lrFactor());
    assertFalse(s0.evaluate() || s1.evaluate(), "test_freq is not reached");

    r0.done(s0, 3.25, 70, "", 1500, 2048);
    r1.probe.expectNoMessage(Duration.ofMillis(200));
    assertTrue(ledger(spec).isEmpty(), "nothing is committed before every rank reported");
    r1.done(s1, 2.5, 30, "", 1800, 1900);

    RunStep next0 = r0.expect(RunStep.class);
    RunStep next1 = r1.expect(RunStep.class);
    assertEquals(
        List.of(1L, 1L, 12L, 2),
        List.of(next0.generation(), next0.step(), next0.firstSample(), next0.microBatches()));
    assertEquals(
        List.of(1L, 1L, 20L, 1),
        List.of(next1.generation(), next1.step(), next1.firstSample(), next1.microBatches()));
    assertEquals(1.0 - 1.0 / 10, next0.lrFactor(), 1e-12);

    List<Ledger.Entry> ledger = ledger(spec);
    assertEquals(1, ledger.size(), ledger.toString());
    Ledger.Entry e = ledger.get(0);
    assertEquals(
        new Ledger.Entry(
            0,
            1,
            Ledger.Entry.COMMITTED,
            List.of(
                new Ledger.Part(0, r0.description.toString(), 0, 8),
                new Ledger.Part(1, r1.description.toString(), 8, 4))),
        e);
    List<JsonNode> metrics = metrics(spec);
    assertEquals(1, metrics.size(), metrics.toString());
    JsonNode m = metrics.get(0);
    assertEquals(5.75, m.get("loss").asDouble(), "the sum of the ranks' loss parts");
    assertEquals(1, m.get("step").asLong());
    assertEquals(BATCH, m.get("samples").asLong());
    assertEquals((long) BATCH * CTX, m.get("tokens").asLong());
    assertEquals(100, m.get("masked_tokens").asLong());
    assertEquals(2, m.get("workers").asInt());
    assertEquals(1, m.get("generation").asLong());
    assertEquals(1800, m.get("gpu_mem_mb").asDouble(), "the largest worker's peak allocated");
    assertEquals(2048, m.get("gpu_reserved_mb").asDouble(), "the largest worker's peak reserved");
    assertNull(listener.outcome(), "the run goes on");
  }

  // ---- 2 --------------------------------------------------------------------------------------

  @Test
  void aWorkerLostMidStepAbortsItAndTheSurvivorKeepsItsStateAsRankZeroOfANewWorld()
      throws Exception {
    RunSpec spec = spec(10, Map.of(), 2);
    start(spec);
    List<Worker> world = formWorldOfTwo();
    Worker r0 = world.get(0);
    Worker r1 = world.get(1);
    RunStep s0 = r0.expect(RunStep.class);
    RunStep s1 = r1.expect(RunStep.class);
    r0.done(s0, 3.0, 60);
    r1.done(s1, 3.0, 40);
    RunStep a0 = r0.expect(RunStep.class);
    RunStep a1 = r1.expect(RunStep.class);
    assertEquals(1, a0.step());

    // Rank 0 dies mid-step (its node leaves, its registration with it).
    r0.deregister();
    assertEquals(1, r1.expect(LeaveWorld.class).generation());
    assertEquals(1, r0.expect(LeaveWorld.class).generation());
    List<Ledger.Entry> ledger = ledger(spec);
    assertEquals(Ledger.Entry.ABORTED, ledger.get(ledger.size() - 1).status());
    assertEquals(1, ledger.get(ledger.size() - 1).step());
    assertEquals(1, ledger.get(ledger.size() - 1).generation());
    // No new world before the survivor said how its step ended.
    r1.probe.expectNoMessage(Duration.ofMillis(400));
    r1.failed(a1, Coordinator.Operation.STEP, "connection reset by peer", false);

    JoinWorld j = r1.expect(JoinWorld.class);
    assertTrue(j.generation() > 1, "a new generation: " + j.generation());
    assertEquals(0, j.rank());
    assertEquals(1, j.size());
    assertInstanceOf(
        WorkerProtocol.KeepState.class, j.restore(), "its step failed before the update");
    assertEquals(r1.description.storePort(), j.storePort());
    r1.joined(j);
    RunStep again = r1.expect(RunStep.class);
    assertEquals(j.generation(), again.generation());
    assertEquals(1, again.step(), "the aborted step again");
    assertEquals(a0.firstSample(), again.firstSample(), "from the same first sample");
    assertEquals(3, again.microBatches());
    assertEquals(3, again.stepMicroBatches());
    r0.probe.expectNoMessage(Duration.ofMillis(100));

    r1.done(again, 2.0, 100);
    r1.expect(RunStep.class);
    List<Ledger.Entry> after = ledger(spec);
    Ledger.checkExactlyOnce(after, 2L * BATCH);
    assertEquals(
        List.of("committed", "aborted", "committed"),
        after.stream().map(Ledger.Entry::status).toList());
    assertNull(listener.outcome());
  }

  // ---- 3 --------------------------------------------------------------------------------------

  @Test
  void aHungWorkerTimesTheStepOutAndIsEvictedWhenSilentPastTheOutcomeTimeout() throws Exception {
    // abort-settle (800 ms) is over by the eviction (outcome-timeout, 1 s after the abort).
    RunSpec spec =
        RunSpec.prepare(
            config(10, Map.of(), 2, Map.of("abort-settle", "800ms")), RunSpec.Start.NEW_OR_RESUMED);
    start(spec);
    List<Worker> world = formWorldOfTwo();
    Worker hung = world.get(0);
    Worker good = world.get(1);
    hung.expect(RunStep.class);
    RunStep s = good.expect(RunStep.class);
    long ordered = System.nanoTime();
    // The good rank waits in the all-reduce for the hung one: neither answers.
    assertInstanceOf(LeaveWorld.class, good.probe.receiveMessage(Duration.ofSeconds(4)));
    double waited = (System.nanoTime() - ordered) / 1e9;
    assertTrue(waited > 1.5, "aborted by the 2 s step-timeout, after " + waited + " s");
    assertEquals(1, hung.expect(LeaveWorld.class).generation());
    assertEquals(Ledger.Entry.ABORTED, ledger(spec).get(0).status());
    good.failed(s, Coordinator.Operation.STEP, "Gloo timed out", false);

    // The hung one never answers: evicted once outcome-timeout (1 s) is over.
    hung.probe.expectNoMessage(Duration.ofMillis(300));
    Evicted ev = hung.expect(Evicted.class);
    long evicted = System.nanoTime();
    assertFalse(ev.userError());
    assertTrue(ev.reason().contains("hung"), ev.reason());

    JoinWorld j = good.expect(JoinWorld.class);
    // abort-settle counts from the abort, not from the end of the recovery: the new world forms
    // a settle (100 ms) after the eviction, not another 800 ms later.
    double formedAfter = (System.nanoTime() - evicted) / 1e9;
    assertTrue(formedAfter < 0.5, "the new world formed " + formedAfter + " s after the eviction");
    assertTrue(j.generation() > 1);
    assertEquals(0, j.rank());
    assertEquals(1, j.size(), "the evicted worker is not in the new world");
    assertInstanceOf(WorkerProtocol.KeepState.class, j.restore());
    good.joined(j);
    RunStep again = good.expect(RunStep.class);
    assertEquals(
        List.of(0L, 0L, 3), List.of(again.step(), again.firstSample(), again.microBatches()));
    hung.probe.expectNoMessage(Duration.ofMillis(200));
    assertNull(listener.outcome());
  }

  // ---- 4 --------------------------------------------------------------------------------------

  @Test
  void aLateJoinerIsAdmittedAtTheNextStepBoundaryWithTheOldMemberAsRankZero() throws Exception {
    RunSpec spec = spec(20, Map.of(), 1);
    start(spec);
    Worker a = worker("a").up();
    JoinWorld j1 = a.expect(JoinWorld.class);
    assertEquals(List.of(1L, 0, 1), List.of(j1.generation(), j1.rank(), j1.size()));
    a.joined(j1);
    RunStep s = a.expect(RunStep.class);
    assertEquals(3, s.microBatches(), "alone, it trains every micro-batch");

    Worker b = worker("b").up(); // described while step 1 is in flight
    b.expect(WorkerProtocol.Watch.class); // its heartbeat's address
    b.probe.expectNoMessage(Duration.ofMillis(300)); // not admitted mid-step
    // A step boundary admits it: the one after this step (or, had its description come in
    // after the commit, the following one).
    int steps = 0;
    while (true) {
      a.done(s, 4.0, 100);
      steps++;
      WorkerProtocol.Command m = a.probe.receiveMessage(WAIT);
      if (m instanceof LeaveWorld l) {
        assertEquals(1, l.generation());
        break;
      }
      s = assertInstanceOf(RunStep.class, m);
      assertTrue(steps < 2, "admitted at the first step boundary after it was described");
    }
    JoinWorld ja = a.expect(JoinWorld.class);
    JoinWorld jb = b.expect(JoinWorld.class);
    assertEquals(2, ja.generation());
    assertEquals(2, jb.generation());
    assertEquals(0, ja.rank(), "the old member stays rank 0");
    assertEquals(1, jb.rank());
    assertEquals(2, jb.size());
    assertInstanceOf(WorkerProtocol.KeepState.class, ja.restore(), "rank 0 broadcasts its state");
    assertEquals(ja.restore(), jb.restore());
    assertEquals(a.description.storePort(), jb.storePort());
    a.joined(ja);
    b.joined(jb);
    RunStep n0 = a.expect(RunStep.class);
    RunStep n1 = b.expect(RunStep.class);
    assertEquals(
        List.of(2L, (long) steps, (long) steps * BATCH, 2),
        List.of(n0.generation(), n0.step(), n0.firstSample(), n0.microBatches()));
    assertEquals(
        List.of(2L, (long) steps, (long) steps * BATCH + 8, 1),
        List.of(n1.generation(), n1.step(), n1.firstSample(), n1.microBatches()));
    List<Ledger.Entry> ledger = ledger(spec);
    assertEquals(steps, ledger.size());
    assertTrue(
        ledger.stream().allMatch(e -> e.status().equals("committed") && e.generation() == 1),
        ledger.toString());
    assertNull(listener.outcome());
  }

  // ---- 5 --------------------------------------------------------------------------------------

  /**
   * Rank 0 leaves while writing a periodic checkpoint: the step stays committed, the checkpoint is
   * not counted, and the new world's rank 0 (the survivor, which holds the committed state) is
   * ordered to write the same checkpoint before the run goes on.
   */
  @Test
  void aWorkerLeavingDuringASaveMakesTheNextWorldSaveAgainBeforeTheRunGoesOn() throws Exception {
    // A checkpoint after every step.
    RunSpec spec = spec(10, Map.of("save_freq", (double) BATCH * CTX), 2);
    start(spec);
    List<Worker> world = formWorldOfTwo();
    Worker r0 = world.get(0);
    Worker r1 = world.get(1);
    RunStep s0 = r0.expect(RunStep.class);
    RunStep s1 = r1.expect(RunStep.class);
    r0.done(s0, 3.0, 60);
    r1.done(s1, 3.0, 40);
    Save save = r0.expect(Save.class);
    String name = spec.checkpointName() + "_" + (BATCH * CTX);
    assertEquals(
        List.of(1L, 1L, name, (long) BATCH * CTX, (long) BATCH),
        List.of(save.generation(), save.step(), save.name(), save.tokens(), save.samples()));
    r1.probe.expectNoMessage(Duration.ofMillis(200)); // no step while the checkpoint is written

    r0.deregister(); // gone mid-save
    assertEquals(1, r1.expect(LeaveWorld.class).generation());
    JoinWorld j = r1.expect(JoinWorld.class);
    assertTrue(j.generation() > 1);
    assertEquals(List.of(0, 1), List.of(j.rank(), j.size()));
    assertInstanceOf(
        WorkerProtocol.KeepState.class,
        j.restore(),
        "the survivor holds the committed state after step 1");
    r1.joined(j);
    Save again = r1.expect(Save.class);
    assertEquals(
        List.of(j.generation(), 1L, name, (long) BATCH * CTX, (long) BATCH),
        List.of(again.generation(), again.step(), again.name(), again.tokens(), again.samples()));
    r1.probe.expectNoMessage(Duration.ofMillis(200)); // still no step before it is saved
    // The departed rank 0's answer to the first order arrives late: it is not this world's
    // checkpoint (the survivor deletes that manifest before writing it again) and counts for
    // nothing.
    save.replyTo()
        .tell(new Coordinator.Saved(save.generation(), save.step(), "/nowhere/stale.json"));
    r1.probe.expectNoMessage(Duration.ofMillis(200));
    r1.saved(again, spec.runDir().resolve(name + Checkpoints.MANIFEST_SUFFIX));

    RunStep next = r1.expect(RunStep.class);
    assertEquals(
        List.of(j.generation(), 1L, (long) BATCH, 3),
        List.of(next.generation(), next.step(), next.firstSample(), next.microBatches()));
    List<Ledger.Entry> ledger = ledger(spec);
    assertEquals(
        List.of("committed"),
        ledger.stream().map(Ledger.Entry::status).toList(),
        "the committed step stands: nothing aborted, nothing rewound");
    r0.expect(LeaveWorld.class);
    r0.probe.expectNoMessage(Duration.ofMillis(100));
    assertNull(listener.outcome());
  }

  // ---- 6 --------------------------------------------------------------------------------------

  @Test
  void messagesOfAnOldGenerationAreIgnored() throws Exception {
    RunSpec spec = spec(10, Map.of(), 2);
    start(spec);
    List<Worker> world = formWorldOfTwo();
    Worker a = world.get(0);
    Worker b = world.get(1);
    RunStep s0 = a.expect(RunStep.class);
    RunStep s1 = b.expect(RunStep.class);
    a.done(s0, 3.0, 60);
    b.done(s1, 3.0, 40);
    RunStep old = a.expect(RunStep.class);
    b.expect(RunStep.class);
    b.deregister(); // generation 1 ends mid-step
    a.expect(LeaveWorld.class);
    a.failed(old, Coordinator.Operation.STEP, "peer gone", false);
    JoinWorld j = a.expect(JoinWorld.class);
    long gen = j.generation();
    assertTrue(gen > 1);

    // While the new world forms: a Joined of generation 1 does not complete it.
    a.coordinatorGets(new Coordinator.Joined(1, 0, a.ref(), 1e12));
    a.probe.expectNoMessage(Duration.ofMillis(300));
    a.joined(j);
    RunStep current = a.expect(RunStep.class);
    assertEquals(gen, current.generation());
    assertEquals(1, current.step());

    // While it runs: generation 1's StepDone (of this very step) commits nothing, and its
    // Failed aborts nothing.
    a.done(old, 1.0, 100);
    b.done(old, 1.0, 100);
    a.failed(old, Coordinator.Operation.STEP, "late news of generation 1", false);
    a.probe.expectNoMessage(Duration.ofMillis(300));
    List<Ledger.Entry> ledger = ledger(spec);
    assertEquals(
        List.of("committed", "aborted"), ledger.stream().map(Ledger.Entry::status).toList());

    a.done(current, 2.0, 100);
    assertEquals(2, a.expect(RunStep.class).step());
    Ledger.Entry committed = ledger(spec).get(2);
    assertEquals(
        List.of(1L, gen, 1L),
        List.of(committed.step(), committed.generation(), (long) committed.parts().size()));
    List<JsonNode> metrics = metrics(spec);
    assertEquals(
        2.0,
        metrics.get(metrics.size() - 1).get("loss").asDouble(),
        "the current generation's report");
    b.expect(LeaveWorld.class);
    b.probe.expectNoMessage(Duration.ofMillis(100));
    assertNull(listener.outcome());
  }

  // ---- 7 --------------------------------------------------------------------------------------

  @Test
  void aRestartedCoordinatorGoesBackToTheCheckpointInAGenerationPastTheLedgers() throws Exception {
    Config config = config(10, Map.of("save_freq", 2.0 * BATCH * CTX), 1);
    RunSpec first = RunSpec.prepare(config, RunSpec.Start.CONTINUE_RUN_FOLDER);
    Path manifest = writeCheckpoint(first, 2);
    // Steps 0..4 were committed (a failure in between), the coordinator died after step 5's
    // abort; only the checkpoint after step 2 survives it.
    try (Ledger l = Ledger.open(first.runDir())) {
      l.append(committed(0, 1, 0));
      l.append(committed(1, 1, BATCH));
      l.append(
          new Ledger.Entry(
              2, 1, Ledger.Entry.ABORTED, List.of(new Ledger.Part(0, "w", 2 * BATCH, BATCH))));
      l.append(committed(2, 3, 2 * BATCH));
      l.append(committed(3, 3, 3 * BATCH));
      l.append(committed(4, 5, 4 * BATCH));
      l.append(
          new Ledger.Entry(
              5, 5, Ledger.Entry.ABORTED, List.of(new Ledger.Part(0, "w", 5 * BATCH, BATCH))));
    }
    RunSpec spec = RunSpec.prepare(config, RunSpec.Start.CONTINUE_RUN_FOLDER);
    assertEquals(manifest, spec.resumePoint().manifest());
    start(spec);
    Worker a = worker("a").up();
    JoinWorld j = a.expect(JoinWorld.class);
    List<Ledger.Entry> ledger = ledger(spec);
    assertEquals(8, ledger.size());
    assertEquals(
        new Ledger.Entry(2, 5, Ledger.Entry.RESTORED, List.of()),
        ledger.get(7),
        "the steps after the checkpoint are void");
    assertTrue(j.generation() > 5, "past every generation of the ledger: " + j.generation());
    assertEquals(new WorkerProtocol.LoadCheckpoint(manifest.toString()), j.restore());
    a.joined(j);
    RunStep s = a.expect(RunStep.class);
    assertEquals(
        List.of(j.generation(), 2L, 2L * BATCH, 3),
        List.of(s.generation(), s.step(), s.firstSample(), s.microBatches()));
    a.done(s, 2.5, 100);
    assertEquals(3, a.expect(RunStep.class).step());
    List<Ledger.Entry> after = ledger(spec);
    assertEquals(9, after.size());
    Ledger.checkExactlyOnce(after, 3L * BATCH);
    assertEquals(3, Ledger.stepsDone(after));
    assertNull(listener.outcome());
  }

  @Test
  void aRestartedCoordinatorWithoutACheckpointStartsOverFromTheSeed() throws Exception {
    Config config = config(10, Map.of(), 1);
    RunSpec spec = RunSpec.prepare(config, RunSpec.Start.CONTINUE_RUN_FOLDER);
    try (Ledger l = Ledger.open(spec.runDir())) {
      l.append(committed(0, 1, 0));
      l.append(committed(1, 2, BATCH));
    }
    start(spec);
    Worker a = worker("a").up();
    JoinWorld j = a.expect(JoinWorld.class);
    List<Ledger.Entry> ledger = ledger(spec);
    assertEquals(3, ledger.size());
    assertEquals(new Ledger.Entry(0, 2, Ledger.Entry.RESTORED, List.of()), ledger.get(2));
    assertTrue(j.generation() > 2, "past every generation of the ledger: " + j.generation());
    assertInstanceOf(WorkerProtocol.InitFromSeed.class, j.restore());
    a.joined(j);
    RunStep s = a.expect(RunStep.class);
    assertEquals(List.of(0L, 0L), List.of(s.step(), s.firstSample()));
    assertNull(listener.outcome());
  }

  // ---- 8 --------------------------------------------------------------------------------------

  @Test
  void aUserErrorOnJoinEvictsThatWorkerAndTheRunWaitsForAnother() throws Exception {
    RunSpec spec = spec(10, Map.of(), 2);
    start(spec);
    List<Worker> world = formWorldOfTwo(false);
    Worker good = world.get(0);
    Worker bad = world.get(1);
    JoinWorld jg = good.expect(JoinWorld.class);
    JoinWorld jb = bad.expect(JoinWorld.class);
    good.joined(jg);
    bad.failed(
        jb.generation(),
        -1,
        Coordinator.Operation.JOIN,
        "worker reads other shards than the coordinator",
        true);

    Evicted ev = bad.expect(Evicted.class);
    assertTrue(ev.userError());
    assertEquals("worker reads other shards than the coordinator", ev.reason());
    assertEquals(1, bad.expect(LeaveWorld.class).generation(), "the world it was in is abandoned");
    assertEquals(1, good.expect(LeaveWorld.class).generation());
    // min-workers is 2 and the first world never formed: the run waits.
    good.probe.expectNoMessage(Duration.ofMillis(500));

    // A worker started with other settings is refused as soon as it describes itself.
    Worker other = worker("other", "{\"n_layer\":\"3\"}").up();
    Evicted refused = other.expect(Evicted.class);
    assertTrue(refused.userError());
    assertTrue(refused.reason().contains("n_layer 3 (worker) vs 1 (run)"), refused.reason());
    good.probe.expectNoMessage(Duration.ofMillis(300));

    Worker c = worker("c").up();
    JoinWorld j1 = good.expect(JoinWorld.class);
    JoinWorld j2 = c.expect(JoinWorld.class);
    assertTrue(j1.generation() > 1);
    assertEquals(j1.generation(), j2.generation());
    assertEquals(2, j1.size(), "the evicted workers are not in it");
    bad.probe.expectNoMessage(Duration.ofMillis(100));
    other.probe.expectNoMessage(Duration.ofMillis(100));
    assertNull(listener.outcome(), "a refused worker does not fail the run");
  }

  // ---- the end of a run -------------------------------------------------------------------------

  @Test
  void theLastStepIsEvaluatedAndSavedThenTheRunFinishes() throws Exception {
    RunSpec spec = spec(2, Map.of(), 1);
    start(spec);
    Worker a = worker("a").up();
    a.joined(a.expect(JoinWorld.class));
    RunStep s0 = a.expect(RunStep.class);
    assertFalse(s0.evaluate());
    a.done(s0, 5.0, 100);
    RunStep s1 = a.expect(RunStep.class);
    assertTrue(s1.evaluate(), "the final step is evaluated");
    a.done(s1, 4.0, 100, "{\"genbank\":4.5,\"uniref100\":4.25}");
    Save save = a.expect(Save.class);
    assertEquals(spec.checkpointName(), save.name(), "the final checkpoint");
    assertEquals(2, save.step());
    Path manifest = spec.runDir().resolve(spec.checkpointName() + Checkpoints.MANIFEST_SUFFIX);
    a.saved(save, manifest);

    assertTrue(a.expect(Finish.class).summary().contains("trained 2 steps"));
    Listener.Finished f = assertInstanceOf(Listener.Finished.class, listener.await());
    assertEquals(manifest, f.checkpoint());
    assertEquals(2, f.steps());
    assertEquals(2L * BATCH * CTX, f.tokens());
    assertEquals(4.0, f.loss());
    List<JsonNode> metrics = metrics(spec);
    JsonNode val = metrics.get(metrics.size() - 1);
    assertEquals(4.25, val.get("val_loss").get("uniref100").asDouble());
    assertEquals(2, val.get("step").asLong());
    assertEquals(
        List.of("committed", "committed"),
        ledger(spec).stream().map(Ledger.Entry::status).toList());
  }

  @Test
  void aNonFiniteLossAbortsTheStepAndFailsTheRunAsAUserError() throws Exception {
    RunSpec spec = spec(10, Map.of(), 1);
    start(spec);
    Worker a = worker("a").up();
    a.joined(a.expect(JoinWorld.class));
    a.done(a.expect(RunStep.class), Double.NaN, 100);
    assertTrue(a.expect(Finish.class).summary().startsWith("the run failed"));
    Listener.Failed f = assertInstanceOf(Listener.Failed.class, listener.await());
    assertTrue(f.userError());
    assertTrue(f.message().contains("the loss became NaN at step 1"), f.message());
    assertEquals(List.of("aborted"), ledger(spec).stream().map(Ledger.Entry::status).toList());
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** Settings of a tiny run of {@code steps} steps in {@code dir}/run. */
  private Config config(int steps, Map<String, Object> more, int minWorkers) {
    return config(steps, more, minWorkers, Map.of());
  }

  /** As above, with {@code distributed} over the test's omnibiote.distributed timeouts. */
  private Config config(
      int steps, Map<String, Object> more, int minWorkers, Map<String, Object> distributed) {
    Map<String, Object> m = new HashMap<>();
    m.put("base_dir", shards.toString());
    m.put("save_name", dir.resolve("run/omnibiota").toString());
    m.put("n_layer", 1);
    m.put("n_embd", 32);
    m.put("n_head", 2);
    m.put("ctx_len", CTX);
    m.put("batch_size", BATCH);
    m.put("mini_batch_size", MINI);
    m.put("token_budget", (double) steps * BATCH * CTX);
    m.put("test_freq", 1e12);
    m.put("save_freq", 1e12);
    m.put("progress_interval", 3600);
    m.putAll(more);
    Map<String, Object> d = new HashMap<>();
    d.put("settle", "100ms");
    d.put("abort-settle", "200ms");
    d.put("step-timeout", "2s");
    d.put("join-timeout", "2s");
    d.put("outcome-timeout", "1s");
    d.put("collective-timeout", "1s");
    d.put("min-workers", minWorkers);
    d.putAll(distributed);
    return ConfigFactory.parseMap(m)
        .atPath(TrainSettings.PATH)
        .withFallback(ConfigFactory.parseMap(d).atPath("omnibiote.distributed"))
        .withFallback(ConfigFactory.load());
  }

  private RunSpec spec(int steps, Map<String, Object> more, int minWorkers) {
    return RunSpec.prepare(config(steps, more, minWorkers), RunSpec.Start.NEW_OR_RESUMED);
  }

  private void start(RunSpec spec) {
    coordinator = kit.spawn(Coordinator.create(spec, listener), "coordinator");
  }

  private Worker worker(String name) {
    return worker(name, "{}");
  }

  private Worker worker(String name, String ownSettings) {
    Worker w = new Worker(name, workers.size() + 1, ownSettings);
    workers.add(w);
    return w;
  }

  /** Two workers registered together form generation 1; returned in rank order, joined. */
  private List<Worker> formWorldOfTwo() {
    return formWorldOfTwo(true);
  }

  /** Two workers registered together; in rank order of generation 1, joined if {@code join}. */
  private List<Worker> formWorldOfTwo(boolean join) {
    Worker a = worker("a").up();
    Worker b = worker("b").up();
    if (!join) {
      return a.ref().path().toString().compareTo(b.ref().path().toString()) < 0
          ? List.of(a, b)
          : List.of(b, a);
    }
    JoinWorld ja = a.expect(JoinWorld.class);
    JoinWorld jb = b.expect(JoinWorld.class);
    assertEquals(1, ja.generation());
    a.joined(ja);
    b.joined(jb);
    return ja.rank() == 0 ? List.of(a, b) : List.of(b, a);
  }

  private static Ledger.Entry committed(long step, long generation, long firstSample) {
    return new Ledger.Entry(
        step,
        generation,
        Ledger.Entry.COMMITTED,
        List.of(new Ledger.Part(0, "cpu@10.0.0.9 pid 9", firstSample, BATCH)));
  }

  private static List<Ledger.Entry> ledger(RunSpec spec) throws IOException {
    Path file = spec.runDir().resolve(Ledger.FILE);
    return Files.exists(file) ? Ledger.read(file) : List.of();
  }

  private static List<JsonNode> metrics(RunSpec spec) throws IOException {
    List<JsonNode> lines = new ArrayList<>();
    for (String line : Files.readAllLines(spec.runDir().resolve(MetricsLog.FILE))) {
      lines.add(JSON.readTree(line));
    }
    return lines;
  }

  /**
   * A committed checkpoint after {@code step} steps as the coordinator reads it: the real state
   * part and manifest, with small stand-ins for the tensor files (their sizes and SHA-256 in the
   * manifest; the coordinator never reads tensors).
   */
  private static Path writeCheckpoint(RunSpec spec, long step) throws IOException {
    long tokens = step * BATCH * CTX;
    String name = spec.checkpointName() + "_" + tokens;
    Path runDir = spec.runDir();
    Files.createDirectories(runDir);
    Map<String, Path> files = Checkpoints.partFiles(runDir, name);
    Files.write(
        files.get(Checkpoints.WEIGHTS), "weights stand-in".getBytes(StandardCharsets.UTF_8));
    Files.write(
        files.get(Checkpoints.OPTIMIZER), "moments stand-in".getBytes(StandardCharsets.UTF_8));
    TrainingState state =
        new TrainingState(
            step,
            tokens,
            step * BATCH,
            spec.settings().seed(),
            "rng",
            spec.model(),
            spec.settings().lr(),
            spec.settings().batchSize(),
            spec.plan().totalSteps(),
            spec.invariants());
    Files.write(files.get(Checkpoints.STATE), Checkpoints.stateBytes(state));
    Path manifest = Checkpoints.manifestOf(runDir, name);
    CheckpointManifest.of(name, state, files).write(manifest);
    return manifest;
  }

  /** A worker played by a TestProbe: it answers the protocol as the test says. */
  private final class Worker {
    final TestProbe<WorkerProtocol.Command> probe;
    final WorkerProtocol.Description description;

    Worker(String name, int n, String ownSettings) {
      probe = kit.createTestProbe("worker-" + name, WorkerProtocol.Command.class);
      description =
          new WorkerProtocol.Description(
              "cpu", "10.0.0." + n, 1000 + n, ownSettings, "10.0.0." + n, 29500 + n);
    }

    ActorRef<WorkerProtocol.Command> ref() {
      return probe.ref();
    }

    /** Registers with the Receptionist and answers the coordinator's Describe. */
    Worker up() {
      kit.system().receptionist().tell(Receptionist.register(WorkerProtocol.KEY, ref()));
      expect(Describe.class).replyTo().tell(description);
      return this;
    }

    /** What a dead or departed worker's node does: its registration goes. */
    void deregister() {
      kit.system().receptionist().tell(Receptionist.deregister(WorkerProtocol.KEY, ref()));
    }

    /** The next message but Watch (the heartbeat's address, which a real worker just keeps). */
    <T extends WorkerProtocol.Command> T expect(Class<T> c) {
      WorkerProtocol.Command m = probe.receiveMessage(WAIT);
      if (m instanceof WorkerProtocol.Watch && c != WorkerProtocol.Watch.class) {
        m = probe.receiveMessage(WAIT);
      }
      assertInstanceOf(c, m, "the worker's next message");
      return c.cast(m);
    }

    void coordinatorGets(Coordinator.Command c) {
      coordinator.tell(c);
    }

    void joined(JoinWorld j) {
      j.replyTo().tell(new Coordinator.Joined(j.generation(), j.rank(), ref(), 1e12));
    }

    void done(RunStep r, double lossPart, long masked) {
      done(r, lossPart, masked, "");
    }

    void done(RunStep r, double lossPart, long masked, String valJson) {
      done(r, lossPart, masked, valJson, 0, 0);
    }

    void done(
        RunStep r,
        double lossPart,
        long masked,
        String valJson,
        double gpuAllocatedMb,
        double gpuReservedMb) {
      r.replyTo()
          .tell(
              new Coordinator.StepDone(
                  r.generation(),
                  r.step(),
                  ref(),
                  lossPart,
                  masked,
                  (long) r.microBatches() * MINI * CTX,
                  100,
                  0.5,
                  0.01,
                  0.02,
                  0.75,
                  300,
                  gpuAllocatedMb,
                  gpuReservedMb,
                  valJson));
    }

    void failed(RunStep r, Coordinator.Operation what, String error, boolean userError) {
      r.replyTo()
          .tell(new Coordinator.Failed(r.generation(), r.step(), what, ref(), error, userError));
    }

    void failed(
        long generation, long step, Coordinator.Operation what, String error, boolean userError) {
      coordinator.tell(new Coordinator.Failed(generation, step, what, ref(), error, userError));
    }

    void saved(Save s, Path manifest) {
      s.replyTo().tell(new Coordinator.Saved(s.generation(), s.step(), manifest.toString()));
    }
  }

  /** The RunListener: how the run ended, once. */
  private static final class Listener implements Coordinator.RunListener {
    record Finished(Path checkpoint, long steps, long tokens, double loss) {}

    record Failed(String message, boolean userError) {}

    private final CompletableFuture<Object> outcome = new CompletableFuture<>();

    @Override
    public void finished(Path checkpoint, long steps, long tokens, double loss) {
      outcome.complete(new Finished(checkpoint, steps, tokens, loss));
    }

    @Override
    public void failed(String message, boolean userError) {
      outcome.complete(new Failed(message, userError));
    }

    /** The outcome so far, null while the run goes on. */
    Object outcome() {
      return outcome.getNow(null);
    }

    Object await() throws Exception {
      return outcome.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }
  }
}
