package org.omnibiote.finetune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.omnibiote.UserError;

/**
 * The cross-validation split grouped by protein, on the real ProNAB file: no protein sequence is in
 * two folds, every measurement is in exactly one test fold, the folds are near equal, and the split
 * depends on the seed alone.
 */
class GroupedFoldsTest {
  private static final Path PRONAB =
      Path.of(
          System.getProperty("omnibiote.shared"),
          "data/omnibiote-datasets/pronab_no_mutations.json");

  @Test
  void noProteinIsInTwoFoldsAndEveryMeasurementIsTestedOnce() throws Exception {
    JsonNode root = new ObjectMapper().readTree(PRONAB.toFile());
    List<String> groups = new ArrayList<>();
    root.properties()
        .forEach(
            e -> {
              for (JsonNode row : e.getValue().get("binding data")) {
                groups.add(e.getValue().get("Sequence").asText());
              }
            });
    assertTrue(groups.size() > 10_000, "the real file: " + groups.size());
    int k = 10;
    int[] fold = GroupedFolds.assign(groups, k, 0);
    assertEquals(groups.size(), fold.length);
    Map<String, Integer> foldOfProtein = new HashMap<>();
    int[] tested = new int[groups.size()];
    int[] size = new int[k];
    for (int f = 0; f < k; f++) {
      for (int i = 0; i < fold.length; i++) {
        if (fold[i] == f) {
          tested[i]++;
          size[f]++;
          Integer before = foldOfProtein.putIfAbsent(groups.get(i), f);
          assertTrue(
              before == null || before == f, "protein of measurement " + i + " in two folds");
        }
      }
    }
    for (int i = 0; i < tested.length; i++) {
      assertEquals(1, tested[i], "measurement " + i + " is in exactly one test fold");
    }
    int min = java.util.Arrays.stream(size).min().orElseThrow();
    int max = java.util.Arrays.stream(size).max().orElseThrow();
    // The largest protein has a few hundred measurements; the folds stay within that of each other.
    assertTrue(
        max - min < 0.1 * groups.size() / k + 300,
        "near equal folds: " + java.util.Arrays.toString(size));
    assertArrayEquals(fold, GroupedFolds.assign(groups, k, 0), "the seed alone decides");
    int[] other = GroupedFolds.assign(groups, k, 1);
    assertTrue(!java.util.Arrays.equals(fold, other), "another seed, another split");
  }

  @Test
  void fewerProteinsThanFoldsIsRefused() {
    UserError e =
        assertThrows(UserError.class, () -> GroupedFolds.assign(List.of("A", "A", "B"), 3, 0));
    assertTrue(e.getMessage().contains("only 2 groups"), e.getMessage());
  }
}
