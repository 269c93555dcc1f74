package org.omnibiote.collective;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.bytedeco.pytorch.StringOptional;
import org.bytedeco.pytorch.global.torch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The environment ProcessGroupNCCL reads when it is constructed, set by the worker itself before
 * its first NCCL group, so that a dead or hung peer makes the survivors' collectives fail with an
 * exception within the collective timeout, their process lives on, and the coordinator re-forms the
 * world as on Gloo.
 *
 * <p>Why in-process and not in the launchers: a worker JVM is started by bin/omnibiote, by {@code
 * train --workers N} (LocalCluster), by deploy scripts, and by whatever a cluster's operator uses
 * (Slurm, Kubernetes, systemd); one launcher that forgets a variable would bring back PyTorch's
 * default, which takes the whole process down on the first timeout. libtorch binds its own {@code
 * c10::utils::set_env} (no JNA needed): it calls setenv under the lock that libtorch's {@code
 * get_env}, which ProcessGroupNCCL's readers use, takes too. It runs on the compute thread before
 * any NCCL group exists and only for a value that differs, so no libtorch reader can race it.
 *
 * <p>The values:
 *
 * <ul>
 *   <li>{@code TORCH_NCCL_ASYNC_ERROR_HANDLING=2} (required), "clean up only": on a timed-out or
 *       failed collective the watchdog aborts the communicators and does not tear the process down
 *       (1, and 3, PyTorch's defaults in recent versions, kill the process: every survivor would
 *       die with the dead peer and the run would fall back to its last checkpoint). The abort is
 *       what unblocks a GPU stream that waits on a collective nobody will finish, notably the c10d
 *       Reducer's bucket all-reduces, which are waited on without a timeout.
 *   <li>{@code TORCH_NCCL_BLOCKING_WAIT=0} (required): our own waits pass the collective timeout
 *       and block until then anyway ({@link CollectiveGroup}); 1 would make every wait block
 *       without the watchdog's clean-up, and a warned-about combination with the above.
 *   <li>{@code TORCH_NCCL_DUMP_ON_TIMEOUT=0} (a default, kept if set): the flight-recorder dump on
 *       a timeout delays the abort by up to {@code TORCH_NCCL_WAIT_TIMEOUT_DUMP_MILSEC}; set it to
 *       1 yourself (with {@code TORCH_NCCL_TRACE_BUFFER_SIZE}) to debug a hang.
 * </ul>
 */
public final class NcclEnvironment {
  private static final Logger log = LoggerFactory.getLogger(NcclEnvironment.class);

  /** Set whatever the environment says: other values break the recovery. */
  static final Map<String, String> REQUIRED = new LinkedHashMap<>();

  /** Set only when the environment does not name them. */
  static final Map<String, String> DEFAULTS = new LinkedHashMap<>();

  static {
    REQUIRED.put("TORCH_NCCL_ASYNC_ERROR_HANDLING", "2");
    REQUIRED.put("TORCH_NCCL_BLOCKING_WAIT", "0");
    DEFAULTS.put("TORCH_NCCL_DUMP_ON_TIMEOUT", "0");
  }

  /** A variable to set: its value now (null: unset) and the one it gets. */
  record Change(String name, String was, String to) {}

  private NcclEnvironment() {}

  /** What to set, given the environment {@code current} reads. */
  static List<Change> changes(Function<String, Optional<String>> current) {
    List<Change> out = new ArrayList<>();
    REQUIRED.forEach(
        (name, value) -> {
          Optional<String> now = current.apply(name);
          if (now.isEmpty() || !now.get().trim().equals(value)) {
            out.add(new Change(name, now.orElse(null), value));
          }
        });
    DEFAULTS.forEach(
        (name, value) -> {
          if (current.apply(name).isEmpty()) {
            out.add(new Change(name, null, value));
          }
        });
    return out;
  }

  /**
   * Sets what {@link #changes} says in this process's environment, through libtorch; call it before
   * the first ProcessGroupNCCL. Says in the log which user setting it overrides.
   */
  public static synchronized void apply() {
    for (Change c : changes(NcclEnvironment::get)) {
      if (c.was() != null) {
        log.warn(
            "{}={} in the environment would break the recovery of a world whose peer died;"
                + " the worker sets {}",
            c.name(),
            c.was(),
            c.to());
      }
      torch.set_env(c.name(), c.to(), true);
    }
    List<Change> left = changes(NcclEnvironment::get);
    if (!left.isEmpty()) {
      throw new IllegalStateException("could not set the NCCL environment: " + left);
    }
  }

  /** The value libtorch reads for {@code name}. */
  static Optional<String> get(String name) {
    StringOptional v = torch.get_env(name);
    return v.has_value() ? Optional.of(v.get().getString()) : Optional.empty();
  }
}
