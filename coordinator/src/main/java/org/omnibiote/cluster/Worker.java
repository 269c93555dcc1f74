package org.omnibiote.cluster;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/** One per device on a worker node: registers with the Receptionist and says who it is. */
public final class Worker {

  /** The Receptionist key the coordinator watches for. */
  public static final ServiceKey<Command> KEY = ServiceKey.create(Command.class, "omnibiote-worker");

  /** What a worker answers. */
  public sealed interface Command permits Describe {}

  /** Asks for the worker's {@link Description}. */
  public record Describe(ActorRef<Description> replyTo) implements Command, ClusterMessage {}

  /** Who a worker is: its device, host and process id. */
  public record Description(String device, String host, long pid) implements ClusterMessage {
    @Override
    public String toString() {
      return device + "@" + host + " pid " + pid;
    }
  }

  private Worker() {}

  public static Behavior<Command> create(String device, String host) {
    Description me = new Description(device, host, ProcessHandle.current().pid());
    return Behaviors.setup(ctx -> {
      ctx.getSystem().receptionist().tell(Receptionist.register(KEY, ctx.getSelf()));
      ctx.getLog().info("worker {} registered", me);
      return Behaviors.receive(Command.class)
          .onMessage(Describe.class, d -> {
            d.replyTo().tell(me);
            return Behaviors.same();
          })
          .build();
    });
  }
}
