package org.omnibiote.finetune;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.omnibiote.UserError;

/**
 * K-fold cross-validation grouped by a key (for ProNAB the protein sequence): every measurement of
 * one group lands in the same fold, so no protein is seen in training and scored in test, which the
 * original's {@code i % 10} split over measurements allowed. The groups are shuffled by the seed,
 * then placed largest first into the fold holding the fewest measurements so far (ties: the lowest
 * fold), which keeps the folds near equal in measurements.
 */
public final class GroupedFolds {
  private GroupedFolds() {}

  /**
   * The fold (0..k-1) of each item, given each item's group key.
   *
   * @throws UserError when there are fewer groups than folds
   */
  public static int[] assign(List<String> groups, int k, long seed) {
    if (k < 2) {
      throw new UserError("--folds must be at least 2, got " + k);
    }
    Map<String, List<Integer>> members = new LinkedHashMap<>();
    for (int i = 0; i < groups.size(); i++) {
      members.computeIfAbsent(groups.get(i), g -> new ArrayList<>()).add(i);
    }
    if (members.size() < k) {
      throw new UserError(
          "--folds " + k + ": only " + members.size() + " groups (proteins) to split into folds");
    }
    List<List<Integer>> order = new ArrayList<>(members.values());
    Collections.shuffle(order, new Random(seed));
    // Stable sort: groups of equal size keep their shuffled order.
    order.sort(Comparator.comparingInt((List<Integer> g) -> g.size()).reversed());
    long[] load = new long[k];
    int[] fold = new int[groups.size()];
    Arrays.fill(fold, -1);
    for (List<Integer> g : order) {
      int f = 0;
      for (int j = 1; j < k; j++) {
        if (load[j] < load[f]) {
          f = j;
        }
      }
      load[f] += g.size();
      for (int i : g) {
        fold[i] = f;
      }
    }
    return fold;
  }
}
