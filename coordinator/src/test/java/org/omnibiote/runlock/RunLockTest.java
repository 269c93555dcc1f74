package org.omnibiote.runlock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.UserError;

/**
 * The run folder lock on real files. The two-processes case (two real {@code train} runs, kill -9
 * of the owner) is RunFolderLockTest in the cli module; here are the rules for locks written by
 * another host, which one machine can only show with a lock file naming another host.
 */
class RunLockTest {
  private static final RunLock.Timing FAST =
      new RunLock.Timing(Duration.ofMillis(100), Duration.ofMillis(1500));

  @TempDir Path dir;

  /** A lock as a process on another host writes it. */
  private static RunLock.Owner elsewhere(long beat) {
    return new RunLock.Owner(
        "node-17", 4242, "2026-01-02T03:04:05Z", "coordinator", "other-boot", "pid:[1]", beat);
  }

  @Test
  void theOwnerIsWrittenAndTheLockIsGoneAfterClose() throws Exception {
    try (RunLock lock = RunLock.acquire(dir, "train", FAST)) {
      RunLock.Owner o = RunLock.owner(dir).orElseThrow();
      assertEquals(ProcessHandle.current().pid(), o.pid());
      assertEquals("train", o.command());
      // The same JVM (the coordinator singleton of train's own run) finds it held.
      try (RunLock again = RunLock.acquire(dir, "coordinator", FAST)) {
        assertTrue(Files.exists(dir.resolve(RunLock.FILE)));
      }
      assertTrue(Files.exists(dir.resolve(RunLock.FILE)), "the inner handle released nothing");
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (RunLock.owner(dir).orElseThrow().heartbeat() < 2) {
        assertTrue(System.nanoTime() < deadline, "the owner beats");
        Thread.sleep(50);
      }
    }
    assertFalse(Files.exists(dir.resolve(RunLock.FILE)));
  }

  @Test
  void foldersTheLockCreatedAreRemovedWhenTheRunLeftThemEmpty() throws Exception {
    Path refused = dir.resolve("a/b/run");
    RunLock.acquire(refused, "train", FAST).close();
    assertFalse(Files.exists(dir.resolve("a")), "a refused run leaves no folder behind");
    Path ran = dir.resolve("c/run");
    try (RunLock lock = RunLock.acquire(ran, "train", FAST)) {
      Files.writeString(ran.resolve("metrics.jsonl"), "{}\n");
    }
    assertTrue(Files.exists(ran.resolve("metrics.jsonl")));
    assertFalse(Files.exists(ran.resolve(RunLock.FILE)));
  }

  @Test
  void aForeignLockWhoseHeartbeatGoesOnIsRefusedWithItsOwner() throws Exception {
    Path file = dir.resolve(RunLock.FILE);
    Files.writeString(file, elsewhere(0).text(), StandardCharsets.UTF_8);
    AtomicBoolean beating = new AtomicBoolean(true);
    Thread owner =
        new Thread(
            () -> {
              for (long beat = 1; beating.get(); beat++) {
                try {
                  Thread.sleep(100);
                  Files.writeString(file, elsewhere(beat).text(), StandardCharsets.UTF_8);
                } catch (Exception e) {
                  return;
                }
              }
            });
    owner.start();
    try {
      UserError e = assertThrows(UserError.class, () -> RunLock.acquire(dir, "train", FAST));
      assertTrue(e.getMessage().contains("is in use by pid 4242 on host node-17"), e.getMessage());
    } finally {
      beating.set(false);
      owner.join();
    }
    assertEquals("node-17", RunLock.owner(dir).orElseThrow().host());
  }

  @Test
  void aForeignLockWithoutHeartbeatIsTakenOverAfterStaleAfter() throws Exception {
    Files.writeString(dir.resolve(RunLock.FILE), elsewhere(7).text(), StandardCharsets.UTF_8);
    long t0 = System.nanoTime();
    try (RunLock lock = RunLock.acquire(dir, "train", FAST)) {
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(ms >= 1500, "taken over after " + ms + " ms, before stale-after");
      assertEquals(ProcessHandle.current().pid(), RunLock.owner(dir).orElseThrow().pid());
    }
  }

  @Test
  void aLockOfThisMachineWhoseProcessIsGoneIsTakenOverAtOnce() throws Exception {
    Process p = new ProcessBuilder("true").start();
    p.waitFor();
    RunLock.Owner me = RunLock.ownerNow("train");
    RunLock.Owner gone =
        new RunLock.Owner(
            me.host(), p.pid(), me.started(), "train", me.bootId(), me.pidNamespace(), 3);
    Files.writeString(dir.resolve(RunLock.FILE), gone.text(), StandardCharsets.UTF_8);
    long t0 = System.nanoTime();
    try (RunLock lock = RunLock.acquire(dir, "train", FAST)) {
      assertTrue((System.nanoTime() - t0) / 1_000_000 < 1000, "no wait for a local dead pid");
      assertEquals(ProcessHandle.current().pid(), RunLock.owner(dir).orElseThrow().pid());
    }
  }

  @Test
  void aLiveProcessOfThisMachineIsRefusedEvenIfItNeverBeats() throws Exception {
    RunLock.Owner me = RunLock.ownerNow("coordinator");
    // This very JVM as written by another handle: alive, same start time, never beating.
    Files.writeString(dir.resolve(RunLock.FILE), me.text(), StandardCharsets.UTF_8);
    UserError e = assertThrows(UserError.class, () -> RunLock.acquire(dir, "train", FAST));
    assertTrue(e.getMessage().contains("pid " + me.pid()), e.getMessage());
  }

  @Test
  void staleAfterShorterThanThreeHeartbeatsIsRefused() {
    var c =
        com.typesafe.config.ConfigFactory.parseString(
            "omnibiote.run-lock { heartbeat = 5s, stale-after = 10s }");
    UserError e = assertThrows(UserError.class, () -> RunLock.Timing.from(c));
    assertTrue(e.getMessage().contains("at least 3 heartbeats"), e.getMessage());
  }
}
