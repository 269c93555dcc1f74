package org.omnibiote.coordinator;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.omnibiote.settings.TrainSettings;

/**
 * What a coordinator tells a worker, and who a worker is. The worker actor (module {@code worker})
 * receives these; it answers with the coordinator's own {@link Coordinator.Command}s, as in Pekko's
 * distributed-workers sample, so the coordinator never depends on the worker's code (or on
 * libtorch).
 */
public final class WorkerProtocol {
  private WorkerProtocol() {}

  /** The Receptionist key the coordinator watches for. */
  public static final ServiceKey<Command> KEY =
      ServiceKey.create(Command.class, "omnibiote-worker");

  /** What a worker receives. */
  public sealed interface Command
      permits Describe, Watch, JoinWorld, RunStep, Save, LeaveWorld, Finish, Evicted {}

  /** Asks for the worker's {@link Description}. */
  public record Describe(ActorRef<Description> replyTo) implements Command, ClusterMessage {}

  /**
   * The coordinator knows this worker: send it a {@link Coordinator.Heartbeat} every second
   * (memory, the new lines of the node's log), so the console shows a live worker's state and a
   * departed one's last words.
   */
  public record Watch(ActorRef<Coordinator.Command> coordinator)
      implements Command, ClusterMessage {}

  /**
   * Who a worker is: its device, host and process id, the training settings its node was started
   * with ({@code --config}; a JSON object of omnibiote.train keys, "{}" when none), which the
   * coordinator checks against the run's, and the rendezvous store it hosts (a c10d TCPStore: when
   * this worker is rank 0 of a world, every rank meets there, as torchrun's rank 0 hosts the
   * store).
   */
  public record Description(
      String device, String host, long pid, String ownSettings, String storeHost, int storePort)
      implements ClusterMessage {
    @Override
    public String toString() {
      return device + "@" + host + " pid " + pid;
    }
  }

  /**
   * Join world generation {@code generation} as {@code rank} of {@code size}: rendezvous at rank
   * 0's store under the key prefix {@code worldKey} (unique per generation and coordinator), first
   * putting the replica in the state {@code restore} says, then take rank 0's state.
   *
   * @param settings the run's settings (paths absolute, the devices field not the worker's: each
   *     worker trains on its own device)
   * @param dataFingerprint the coordinator's view of the shards; a worker that reads other shards
   *     refuses to join
   */
  public record JoinWorld(
      long generation,
      String worldKey,
      int rank,
      int size,
      String storeHost,
      int storePort,
      long collectiveTimeoutMs,
      TrainSettings settings,
      Restore restore,
      String dataFingerprint,
      ActorRef<Coordinator.Command> replyTo)
      implements Command, ClusterMessage {}

  /** The state a replica takes before joining a world. */
  public sealed interface Restore {}

  /** Keep the state held (it is the run's: this worker is rank 0, or rank 0 broadcasts over it). */
  public record KeepState() implements Restore, ClusterMessage {}

  /** Fresh weights from the seed (the run restarts before any checkpoint). */
  public record InitFromSeed() implements Restore, ClusterMessage {}

  /** Load the committed checkpoint whose manifest is {@code manifest}. */
  public record LoadCheckpoint(String manifest) implements Restore, ClusterMessage {}

  /**
   * Train this rank's share of global step {@code step}: {@code microBatches} micro-batches from
   * global sample {@code firstSample}, in a step of {@code stepMicroBatches} micro-batches over all
   * ranks (the original's loss normalisation needs it), at peak lr * {@code lrFactor}. {@code
   * dataGenerations}: the data generations the run has adopted ({@code "1@0,2@4096"}, see {@code
   * org.omnibiote.data.Adoption}); a worker adopts those it does not hold yet before it reads.
   */
  public record RunStep(
      long generation,
      long step,
      long firstSample,
      int microBatches,
      int stepMicroBatches,
      double lrFactor,
      boolean evaluate,
      String dataGenerations,
      ActorRef<Coordinator.Command> replyTo)
      implements Command, ClusterMessage {}

  /** Rank 0: save checkpoint {@code name} with the run's counters after step {@code step}. */
  public record Save(
      long generation,
      long step,
      String name,
      long tokens,
      long samples,
      ActorRef<Coordinator.Command> replyTo)
      implements Command, ClusterMessage {}

  /** Leave generation {@code generation}. */
  public record LeaveWorld(long generation) implements Command, ClusterMessage {}

  /** The run is over: the node leaves the cluster and its command exits 0. */
  public record Finish(String summary) implements Command, ClusterMessage {}

  /**
   * The coordinator will not use this worker (a user error, it hung, or an operator removed it):
   * the node exits, with 2 for a user error, 0 when an operator removed it (a launcher does not
   * start it again), 1 otherwise (a launcher starts a fresh one).
   */
  public record Evicted(String reason, boolean userError, boolean byOperator)
      implements Command, ClusterMessage {}
}
