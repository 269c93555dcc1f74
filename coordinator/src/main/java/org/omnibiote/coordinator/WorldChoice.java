package org.omnibiote.coordinator;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Which world to form next, a pure decision: the ranks (members of the previous world keep their
 * order, newcomers follow in a stable order), and which member's state the world starts from. A
 * member whose replica holds the run's state after exactly the current step (its last step was
 * committed, or it failed before its optimiser update) becomes rank 0 and the others take its
 * state; when none does, the world must load the last checkpoint (the run rewinds).
 *
 * @param ranks the world in rank order
 * @param root the member whose state the world keeps (rank 0), or null: rewind
 */
public record WorldChoice<W>(List<W> ranks, W root) {

  /**
   * Chooses the next world.
   *
   * @param candidates the workers that can be in the world
   * @param previous the previous world, in rank order
   * @param validAt after how many steps each worker's replica holds the run's state (absent:
   *     unknown)
   * @param step the run's committed steps now
   * @param name a stable name of a worker, to order newcomers
   */
  public static <W> WorldChoice<W> choose(
      List<W> candidates,
      List<W> previous,
      Map<W, Long> validAt,
      long step,
      Function<W, String> name) {
    List<W> ranks = new ArrayList<>(candidates);
    ranks.sort(
        Comparator.<W>comparingInt(
                w -> previous.contains(w) ? previous.indexOf(w) : Integer.MAX_VALUE)
            .thenComparing(name));
    W root =
        ranks.stream().filter(w -> validAt.getOrDefault(w, -1L) == step).findFirst().orElse(null);
    if (root != null) {
      ranks.remove(root);
      ranks.add(0, root);
    }
    return new WorldChoice<>(List.copyOf(ranks), root);
  }

  /** Whether the world keeps a member's state (else it loads the last checkpoint). */
  public boolean keepsState() {
    return root != null;
  }
}
