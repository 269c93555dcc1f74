package org.omnibiote.cluster;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.MemberStatus;

/**
 * Pekko Management's readiness check ({@code /ready}): true once this node is an Up (or WeaklyUp)
 * member of the cluster, so a Kubernetes readiness probe says whether the node has joined.
 * Instantiated by Pekko Management from {@code pekko.management.health-checks.readiness-checks}.
 */
public final class MemberUpCheck implements Supplier<CompletionStage<Boolean>> {
  private final Cluster cluster;

  public MemberUpCheck(ActorSystem system) {
    this.cluster = Cluster.get(system);
  }

  @Override
  public CompletionStage<Boolean> get() {
    MemberStatus status = cluster.selfMember().status();
    return CompletableFuture.completedFuture(
        status == MemberStatus.up() || status == MemberStatus.weaklyUp());
  }
}
