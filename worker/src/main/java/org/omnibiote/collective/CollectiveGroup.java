package org.omnibiote.collective;

import java.time.Duration;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.Backend;
import org.bytedeco.pytorch.BackendOptional;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.GlooDeviceVector;
import org.bytedeco.pytorch.PrefixStore;
import org.bytedeco.pytorch.ProcessGroup;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.Store;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ErrorType;
import org.bytedeco.pytorch.nccl.ProcessGroupNCCL;

/**
 * One world generation of {@code size} ranks joined by c10d Gloo: the rendezvous store (a {@link
 * TCPStore}, hosted here by rank 0 or by someone else), a {@link PrefixStore}
 * "gen-"gen-&lt;n&gt;/"lt;n"gen-&lt;n&gt;/"gt;/" so that each generation's keys never meet an older
 * one's, a {@link ProcessGroupGloo} with a short collective timeout, and the {@link ProcessGroup}
 * wrapper the c10d Reducer needs.
 *
 * <p>Failures: a peer that dies or stops answering makes the collectives (and the rendezvous in
 * {@link #open}) throw a {@link RuntimeException} (from libtorch: "Connection closed by peer",
 * "Timed out waiting ...") within about the collective timeout; never a hang. The group is then
 * unusable: close it and open a new generation.
 *
 * <p>With NCCL (CUDA tensors) a collective only enqueues a kernel; a dead peer leaves that kernel
 * spinning, and whatever waits on the GPU stream behind it would hang. So: the worker's {@link
 * NcclEnvironment} makes ProcessGroupNCCL's watchdog abort the communicators of a collective that
 * outlives the timeout, without taking the process down; every NCCL collective here is waited on
 * with the timeout (a blocking wait that aborts and throws on a timeout or an NCCL error); {@link
 * #fence} does the same for the Reducer's bucket all-reduces, which libtorch waits on without one;
 * and {@link #abortNccl} frees the communicators of a generation that is left (not yet verified on
 * a GPU: no GPU here).
 *
 * <p>Not thread-safe: one thread (the worker's training thread) drives it.
 */
public final class CollectiveGroup implements AutoCloseable {
  /** Where the rendezvous store is, whether this process hosts it, and the timeouts. */
  public record Rendezvous(
      String storeHost, int storePort, boolean hostStore, String bindAddress, Duration timeout) {
    public Rendezvous {
      if (storePort <= 0 || storePort > 65535) {
        throw new IllegalArgumentException("store port " + storePort + " is not in 1..65535");
      }
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("collective timeout must be positive, got " + timeout);
      }
    }

    /** Rank 0 hosts the store on {@code host:port}; every rank binds Gloo to {@code host}. */
    public static Rendezvous local(String host, int port, int rank, Duration timeout) {
      return new Rendezvous(host, port, rank == 0, host, timeout);
    }
  }

  private final int rank;
  private final int size;
  private final long generation;
  private final Duration timeout;
  // Held so that libtorch never sees a freed peer while the group lives.
  private final TCPStore tcpStore;
  private final Store store;
  private final ProcessGroupGloo gloo;
  // NCCL for CUDA tensors when the ranks train on GPUs (null on CPU): the Reducer's buckets and
  // the state broadcast go through it; Gloo keeps the small CPU collectives (as the original
  // kept a Gloo group for metadata beside its NCCL group).
  private final Backend nccl;
  // The NCCL backend's own store view: held, as the Gloo one, so libtorch never sees it freed.
  private final Store ncclStore;
  private final ProcessGroup processGroup;
  // The fence's one-element CUDA tensor, kept with the world (a timed-out collective may still
  // hold its address until its communicator is aborted).
  private Tensor fenceTensor;
  private boolean ncclAborted;

  private CollectiveGroup(
      int rank,
      int size,
      long generation,
      Duration timeout,
      TCPStore tcpStore,
      Store store,
      ProcessGroupGloo gloo,
      Backend nccl,
      Store ncclStore,
      ProcessGroup processGroup) {
    this.rank = rank;
    this.size = size;
    this.generation = generation;
    this.timeout = timeout;
    this.tcpStore = tcpStore;
    this.store = store;
    this.gloo = gloo;
    this.nccl = nccl;
    this.ncclStore = ncclStore;
    this.processGroup = processGroup;
  }

  /**
   * Joins generation {@code generation} as {@code rank} of {@code size}; returns once every rank
   * has joined. Throws a {@link RuntimeException} if the others do not all join within the timeout.
   */
  public static CollectiveGroup open(Rendezvous at, long generation, int rank, int size) {
    return open(at, generation, rank, size, false);
  }

  /**
   * As {@link #open(Rendezvous, long, int, int)}; with {@code cuda} the group also has an NCCL
   * backend for CUDA tensors (this needs the GPU build of the natives and NCCL on the host).
   */
  public static CollectiveGroup open(
      Rendezvous at, long generation, int rank, int size, boolean cuda) {
    return open(at, "gen-" + generation, generation, rank, size, cuda);
  }

  /**
   * As above, with the store keys of this world under {@code key} (unique per world: a worker's
   * store outlives many worlds, and may serve the worlds of more than one coordinator).
   */
  public static CollectiveGroup open(
      Rendezvous at, String key, long generation, int rank, int size, boolean cuda) {
    if (size < 1 || rank < 0 || rank >= size) {
      throw new IllegalArgumentException("rank " + rank + " is not in a world of " + size);
    }
    Milliseconds ms = new Milliseconds(at.timeout().toMillis());
    TCPStore tcp =
        new TCPStore(
            at.storeHost(),
            RendezvousStore.options(at.storePort(), at.hostStore(), size, at.timeout()));
    try {
      // PrefixStore puts the "/" between prefix and key itself.
      Store prefixed = new PrefixStore(key, tcp);
      ProcessGroupGloo.Options options = ProcessGroupGloo.Options.create(ms);
      options.devices(
          new GlooDeviceVector(ProcessGroupGloo.createDeviceForHostname(at.bindAddress())));
      ProcessGroupGloo gloo = new ProcessGroupGloo(prefixed, rank, size, options);
      // The (store, rank, size) ProcessGroup constructor aborts the JVM (platform.md): wrap.
      ProcessGroup group = new ProcessGroup(rank, size);
      group.setBackend(DeviceType.CPU, ProcessGroup.BackendType.GLOO, new BackendOptional(gloo));
      Backend nccl = null;
      Store ncclStore = null;
      if (cuda) {
        NcclEnvironment.apply(); // read by ProcessGroupNCCL's constructor
        ProcessGroupNCCL.Options ncclOptions = ProcessGroupNCCL.Options.create();
        ncclOptions.timeout(ms); // the watchdog's limit for every NCCL collective of the world
        // Its own prefix: the NCCL unique id exchange must not meet Gloo's keys.
        ncclStore = new PrefixStore(key + "-nccl", tcp);
        nccl = new ProcessGroupNCCL(ncclStore, rank, size, ncclOptions);
        group.setBackend(DeviceType.CUDA, ProcessGroup.BackendType.NCCL, new BackendOptional(nccl));
      }
      return new CollectiveGroup(
          rank, size, generation, at.timeout(), tcp, prefixed, gloo, nccl, ncclStore, group);
    } catch (RuntimeException e) {
      tcp.close(); // a rank-0 store server must not keep the port after a failed rendezvous
      throw e;
    }
  }

  public int rank() {
    return rank;
  }

  public int size() {
    return size;
  }

  public long generation() {
    return generation;
  }

  /** The ProcessGroup (with the Gloo backend set for CPU) that the c10d Reducer takes. */
  ProcessGroup processGroup() {
    return processGroup;
  }

  /** Sums {@code t} over the ranks, in place; throws a RuntimeException on a dead peer/timeout. */
  public void allReduceSum(Tensor t) {
    AllreduceOptions o = new AllreduceOptions();
    o.timeout(new Milliseconds(timeout.toMillis()));
    finish(backendFor(t).allreduce(new TensorVector(t), o), t.is_cuda());
  }

  /** Copies {@code root}'s {@code t} into every rank's {@code t}, in place. */
  public void broadcast(Tensor t, int root) {
    BroadcastOptions o = new BroadcastOptions();
    o.rootRank(root);
    o.timeout(new Milliseconds(timeout.toMillis()));
    finish(backendFor(t).broadcast(new TensorVector(t), o), t.is_cuda());
  }

  /**
   * Returns once every NCCL collective this rank has enqueued has finished, or throws a
   * RuntimeException within about the collective timeout if one cannot (a dead or hung peer, an
   * NCCL error, a communicator the watchdog aborted); a no-op without NCCL, where every collective
   * is finished when it returns. How: one more all-reduce of one element on the same communicator,
   * waited on with the timeout: NCCL runs a communicator's collectives in order, so it finishes
   * only after the earlier ones. Every rank calls it at the same point of the step (after its last
   * backward), so the collectives still match across ranks. {@code like}: any tensor on this rank's
   * CUDA device.
   */
  public void fence(Tensor like) {
    if (nccl == null) {
      return;
    }
    if (fenceTensor == null) {
      fenceTensor = torch.zeros(new long[] {1}, like.options());
      // One reference more than the step's PointerScope takes back: the world owns the tensor.
      fenceTensor.retainReference();
    }
    allReduceSum(fenceTensor);
    ErrorType error = nccl.getError();
    if (error.value != ErrorType.SUCCESS.value) {
      throw new IllegalStateException(
          "the NCCL backend of world generation " + generation + " reports " + error);
    }
  }

  /**
   * Aborts the NCCL communicators of this world (ncclCommAbort: local, never waits for a peer),
   * which frees their GPU buffers and stops the backend's watchdog thread; the C++ objects stay
   * allocated (see GradientReducer). Call it when the world is left, healthy or failed, before the
   * next world's communicators are made. A no-op without NCCL, or when done already.
   */
  public void abortNccl() {
    if (nccl != null && !ncclAborted) {
      ncclAborted = true;
      nccl.abort();
    }
  }

  /** Whether this world has an NCCL backend (its ranks train on CUDA devices). */
  public boolean hasNccl() {
    return nccl != null;
  }

  private Backend backendFor(Tensor t) {
    if (t.is_cuda()) {
      if (nccl == null) {
        throw new IllegalStateException("a CUDA tensor in a group opened without NCCL");
      }
      return nccl;
    }
    return gloo;
  }

  /** Returns once every rank has called it. */
  public void barrier() {
    finish(gloo.barrier(), false);
  }

  /**
   * Waits for {@code work}. Gloo's wait blocks, bounded by the group's timeout. NCCL's plain wait
   * only makes the current CUDA stream wait; with a timeout it blocks this thread until the kernel
   * finished, and on a timeout or an NCCL error aborts the communicator and throws.
   */
  private void finish(Work work, boolean onNccl) {
    if (!onNccl) {
      work._wait();
      return;
    }
    work._wait(new Milliseconds(timeout.toMillis()));
    if (!work.isCompleted()) { // not expected: libtorch throws first; never go on unfinished
      abortNccl();
      throw new IllegalStateException(
          "an NCCL collective of world generation "
              + generation
              + " did not finish within "
              + timeout.toMillis()
              + " ms");
    }
  }

  @Override
  public void close() {
    abortNccl(); // a ProcessGroupNCCL freed with live communicators may wait on them
    processGroup.close();
    if (nccl != null) {
      nccl.close();
      ncclStore.close();
    }
    gloo.close();
    store.close();
    tcpStore.close();
  }
}
