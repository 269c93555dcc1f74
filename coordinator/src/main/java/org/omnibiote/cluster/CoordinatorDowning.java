package org.omnibiote.cluster;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.actor.AbstractActorWithTimers;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.Props;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.DowningProvider;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Option;
import scala.concurrent.duration.FiniteDuration;

/**
 * How unreachable nodes leave the cluster, given that the run has one owner: the oldest node of
 * role {@code coordinator}. That node downs every node that has been unreachable for {@code
 * unreachable-after}; every other node (workers, standby coordinators) downs itself when that node
 * has been unreachable to it as long. Nobody else downs anyone.
 *
 * <p>Why not the Split Brain Resolver's keep-oldest: with workers killed 12 s apart its
 * reachability decisions overlapped ("double DownIndirectlyConnected decision, downing all
 * instead") and it downed the coordinator's node too, which ended the run. Workers are replaceable
 * and the coordinator owns the run, so the rule here never downs the oldest coordinator because of
 * workers: churn of workers cannot cost the run. What it gives up: if the oldest coordinator node
 * crashes, the others down themselves (as keep-oldest did); workers then join again through the
 * seed nodes, and a standby coordinator must be restarted.
 */
public final class CoordinatorDowning extends DowningProvider {
  /**
   * Config key (in the ActorSystem's config) of how long a node stays unreachable before it goes.
   */
  public static final String UNREACHABLE_AFTER = "omnibiote.cluster.downing.unreachable-after";

  static final String ROLE = "coordinator";

  private final ActorSystem system;

  public CoordinatorDowning(ActorSystem system) {
    this.system = system;
  }

  @Override
  public FiniteDuration downRemovalMargin() {
    // Singletons move only after a leave or after their node is removed: no extra margin.
    return FiniteDuration.Zero();
  }

  @Override
  public Option<Props> downingActorProps() {
    Duration after = system.settings().config().getDuration(UNREACHABLE_AFTER);
    return Option.apply(Props.create(Downer.class, () -> new Downer(after)));
  }

  /** The per-node actor that applies the rule once a second. */
  static final class Downer extends AbstractActorWithTimers {
    private static final Logger log = LoggerFactory.getLogger(CoordinatorDowning.class);
    private static final Object TICK = "tick";

    private final Duration after;
    private final Cluster cluster = Cluster.get(getContext().getSystem());

    /** Members unreachable (to any node, as the gossip says) and since when, in nanoTime. */
    private final Map<Address, Long> unreachableSince = new HashMap<>();

    Downer(Duration after) {
      this.after = after;
    }

    @Override
    public void preStart() {
      cluster.subscribe(
          getSelf(),
          ClusterEvent.initialStateAsEvents(),
          ClusterEvent.ReachabilityEvent.class,
          ClusterEvent.MemberRemoved.class);
      getTimers().startTimerWithFixedDelay(TICK, TICK, java.time.Duration.ofSeconds(1));
    }

    @Override
    public void postStop() {
      cluster.unsubscribe(getSelf());
    }

    @Override
    public Receive createReceive() {
      return receiveBuilder()
          .match(
              ClusterEvent.UnreachableMember.class,
              u -> unreachableSince.putIfAbsent(u.member().address(), System.nanoTime()))
          .match(
              ClusterEvent.ReachableMember.class,
              r -> unreachableSince.remove(r.member().address()))
          .match(
              ClusterEvent.MemberRemoved.class, r -> unreachableSince.remove(r.member().address()))
          .matchEquals(TICK, t -> decide())
          .build();
    }

    private void decide() {
      Optional<Member> owner = oldestCoordinator();
      if (owner.isEmpty()) {
        return; // no coordinator (yet): nobody decides
      }
      Address self = cluster.selfAddress();
      long now = System.nanoTime();
      if (owner.get().address().equals(self)) {
        for (Member m : cluster.state().getUnreachable()) {
          Long since = unreachableSince.get(m.address());
          if (since != null
              && now - since >= after.toNanos()
              && m.status() != MemberStatus.down()) {
            log.warn(
                "downing {} (roles {}): unreachable for {} s",
                m.address(),
                m.getRoles(),
                after.toSeconds());
            cluster.down(m.address());
          }
        }
      } else {
        Long since = unreachableSince.get(owner.get().address());
        if (since != null && now - since >= after.toNanos()) {
          log.warn(
              "the run's coordinator {} has been unreachable for {} s: this node leaves the"
                  + " cluster (downs itself)",
              owner.get().address(),
              after.toSeconds());
          cluster.down(self);
        }
      }
    }

    /** The oldest Up (or Leaving) member of role coordinator: the singleton's node. */
    private Optional<Member> oldestCoordinator() {
      Member oldest = null;
      for (Member m : cluster.state().getMembers()) {
        boolean live = m.status() == MemberStatus.up() || m.status() == MemberStatus.leaving();
        if (live && m.hasRole(ROLE) && (oldest == null || m.isOlderThan(oldest))) {
          oldest = m;
        }
      }
      return Optional.ofNullable(oldest);
    }
  }
}
