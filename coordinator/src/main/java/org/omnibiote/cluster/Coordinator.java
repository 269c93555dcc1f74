package org.omnibiote.cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;

/**
 * The run's owner, a Cluster Singleton on a node of role {@code coordinator}. For now it keeps
 * the world: the registered workers minus those on unreachable or removed nodes, each with its
 * {@link Worker.Description}, and logs "world: N workers [...]" whenever that changes.
 */
public final class Coordinator {

  /** What the coordinator receives. */
  public sealed interface Command
      permits Status, WorkersChanged, Membership, Described {}

  /** Asks for the current {@link World}. */
  public record Status(ActorRef<World> replyTo) implements Command, ClusterMessage {}

  /** The workers the coordinator counts now. */
  public record World(ArrayList<Worker.Description> workers) implements ClusterMessage {
    public World {
      workers = new ArrayList<>(workers);
    }
  }

  record WorkersChanged(Receptionist.Listing listing) implements Command {}

  record Membership(ClusterEvent.ClusterDomainEvent event) implements Command {}

  record Described(ActorRef<Worker.Command> worker, Worker.Description description)
      implements Command {}

  private static final Duration DESCRIBE_TIMEOUT = Duration.ofSeconds(5);

  private final ActorContext<Command> ctx;
  private final Map<ActorRef<Worker.Command>, Worker.Description> registered = new LinkedHashMap<>();
  private final Set<Address> unreachable = new HashSet<>();
  private String lastLogged = "";

  private Coordinator(ActorContext<Command> ctx) {
    this.ctx = ctx;
  }

  public static Behavior<Command> create() {
    return Behaviors.setup(ctx -> {
      ctx.getSystem().receptionist().tell(Receptionist.subscribe(Worker.KEY,
          ctx.messageAdapter(Receptionist.Listing.class, WorkersChanged::new)));
      Cluster.get(ctx.getSystem()).subscriptions().tell(Subscribe.create(
          ctx.messageAdapter(ClusterEvent.ClusterDomainEvent.class, Membership::new),
          ClusterEvent.ClusterDomainEvent.class));
      return new Coordinator(ctx).behavior();
    });
  }

  private Behavior<Command> behavior() {
    return Behaviors.receive(Command.class)
        .onMessage(WorkersChanged.class, this::onWorkers)
        .onMessage(Membership.class, this::onMembership)
        .onMessage(Described.class, this::onDescribed)
        .onMessage(Status.class, s -> {
          s.replyTo().tell(new World(new ArrayList<>(world().values())));
          return Behaviors.same();
        })
        .build();
  }

  private Behavior<Command> onWorkers(WorkersChanged changed) {
    Set<ActorRef<Worker.Command>> now = changed.listing().getServiceInstances(Worker.KEY);
    registered.keySet().retainAll(now);
    for (ActorRef<Worker.Command> w : now) {
      if (!registered.containsKey(w)) {
        registered.put(w, null);
        ctx.ask(Worker.Description.class, w, DESCRIBE_TIMEOUT, Worker.Describe::new,
            (d, failure) -> new Described(w, d));
      }
    }
    logWorld();
    return Behaviors.same();
  }

  private Behavior<Command> onMembership(Membership m) {
    ClusterEvent.ClusterDomainEvent e = m.event();
    if (e instanceof ClusterEvent.UnreachableMember u) {
      unreachable.add(u.member().address());
      ctx.getLog().warn("node {} unreachable", u.member().address());
    } else if (e instanceof ClusterEvent.ReachableMember r) {
      unreachable.remove(r.member().address());
      ctx.getLog().info("node {} reachable again", r.member().address());
    } else if (e instanceof ClusterEvent.MemberRemoved r) {
      // The Receptionist drops its workers soon after; count them out now.
      unreachable.add(r.member().address());
      ctx.getLog().info("node {} removed", r.member().address());
    } else if (e instanceof ClusterEvent.MemberUp up) {
      unreachable.remove(up.member().address());
      ctx.getLog().info("node {} up, roles {}", up.member().address(), up.member().getRoles());
    } else {
      return Behaviors.same();
    }
    logWorld();
    return Behaviors.same();
  }

  private Behavior<Command> onDescribed(Described d) {
    if (d.description() == null) {
      ctx.getLog().warn("worker {} did not describe itself within {}", d.worker().path(),
          DESCRIBE_TIMEOUT);
    } else if (registered.containsKey(d.worker())) {
      registered.put(d.worker(), d.description());
      logWorld();
    }
    return Behaviors.same();
  }

  /** Registered, described workers on nodes that are neither unreachable nor removed. */
  private Map<ActorRef<Worker.Command>, Worker.Description> world() {
    Map<ActorRef<Worker.Command>, Worker.Description> w = new LinkedHashMap<>();
    registered.forEach((ref, d) -> {
      if (d != null && !unreachable.contains(address(ref))) {
        w.put(ref, d);
      }
    });
    return w;
  }

  private Address address(ActorRef<?> ref) {
    Address a = ref.path().address();
    return a.hasLocalScope() ? Cluster.get(ctx.getSystem()).selfMember().address() : a;
  }

  private void logWorld() {
    List<Worker.Description> ws = new ArrayList<>(world().values());
    String line = "world: " + ws.size() + " workers " + ws;
    if (!line.equals(lastLogged)) {
      lastLogged = line;
      ctx.getLog().info(line);
    }
  }
}
