package org.omnibiote.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** Which world forms next and whose state it keeps: the decision alone, on names. */
class WorldChoiceTest {
  private static final Function<String, String> NAME = Function.identity();

  @Test
  void aSurvivorThatHoldsTheCommittedStateBecomesRankZeroAndTheWorldKeepsIt() {
    // a and b were ranks 0 and 1; a applied the aborted step's update (state unknown), b failed
    // before its update and still holds the state after step 7.
    WorldChoice<String> c =
        WorldChoice.choose(List.of("a", "b"), List.of("a", "b"), Map.of("b", 7L), 7, NAME);
    assertTrue(c.keepsState());
    assertEquals("b", c.root());
    assertEquals(List.of("b", "a"), c.ranks());
  }

  @Test
  void membersKeepTheirOrderAndNewcomersFollowInAStableOrder() {
    WorldChoice<String> c =
        WorldChoice.choose(
            List.of("z-new", "b", "a-new", "a"),
            List.of("a", "b"),
            Map.of("a", 3L, "b", 3L),
            3,
            NAME);
    assertEquals(List.of("a", "b", "a-new", "z-new"), c.ranks());
    assertEquals("a", c.root(), "the first member that holds the state");
  }

  @Test
  void aStateFromAnotherStepIsNotTheRunsAndWithoutOneTheWorldRewinds() {
    // b holds the state after step 5, but the run is at step 6: nobody holds it.
    WorldChoice<String> c =
        WorldChoice.choose(List.of("a", "b"), List.of("a", "b"), Map.of("b", 5L), 6, NAME);
    assertFalse(c.keepsState());
    assertNull(c.root());
    assertEquals(List.of("a", "b"), c.ranks());
  }

  @Test
  void aFirstWorldOfNewcomersHasNoStateToKeep() {
    WorldChoice<String> c = WorldChoice.choose(List.of("w2", "w1"), List.of(), Map.of(), 0, NAME);
    assertFalse(c.keepsState());
    assertEquals(List.of("w1", "w2"), c.ranks());
  }
}
