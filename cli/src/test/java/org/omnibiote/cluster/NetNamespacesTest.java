package org.omnibiote.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The harness itself: isolated namespaces, a full mesh over the veths, nothing left behind. */
class NetNamespacesTest {

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void eachNamespaceHasOnlyItsLoopbackAndItsOwnVethAddress() throws Exception {
    try (NetNamespaces ns = NetNamespaces.create(2)) {
      for (int i = 0; i < 2; i++) {
        String own = ns.address(i);
        String addrs = ns.run(i, "ip", "-4", "-o", "addr", "show");
        List<String> lines = addrs.lines().toList();
        assertEquals(2, lines.size(), addrs);
        assertTrue(
            lines.stream().anyMatch(l -> l.contains(" lo ") && l.contains("127.0.0.1/8")), addrs);
        assertTrue(
            lines.stream()
                .anyMatch(
                    l ->
                        l.contains(" " + NetNamespaces.INTERFACE + " ")
                            && l.contains(" " + own + "/24 ")),
            addrs);
        String links = ns.run(i, "ip", "-o", "link", "show", "up");
        assertTrue(links.contains(NetNamespaces.INTERFACE + "@"), links);
        assertEquals(2, links.lines().count(), "only lo and the veth are up:\n" + links);
      }
    }
  }

  @Test
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void everyNamespaceReachesEveryOtherOverItsVethAddress(@TempDir Path dir) throws Exception {
    int n = 3;
    try (NetNamespaces ns = NetNamespaces.create(n)) {
      List<Process> probes = new ArrayList<>();
      List<Path> logs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        List<String> args = new ArrayList<>(List.of(ns.address(i), "7070", "45"));
        for (int j = 0; j < n; j++) {
          if (j != i) {
            args.add(ns.address(j));
          }
        }
        Path log = dir.resolve("probe" + i + ".log");
        logs.add(log);
        probes.add(
            ns.exec(
                i,
                NetNamespaces.java(
                    TcpProbeMain.class, List.of("-Xmx64m", "-XX:TieredStopAtLevel=1"), args),
                log));
      }
      for (int i = 0; i < n; i++) {
        String own = ns.address(i);
        ns.awaitLine(
            probes.get(i),
            logs.get(i),
            l -> l.startsWith("all peers reached") || l.startsWith("some peers"),
            "probe " + i + " result",
            Duration.ofSeconds(60));
        for (int j = 0; j < n; j++) {
          if (j != i) {
            String peer = ns.address(j);
            // Local address = this namespace's own veth address: the packets left by eth0.
            ns.awaitLine(
                probes.get(i),
                logs.get(i),
                l -> l.equals("reached " + peer + " from " + own + ": hello from " + peer),
                i + " reaching " + peer,
                Duration.ofSeconds(1));
          }
        }
      }
      for (int i = 0; i < n; i++) {
        assertTrue(ns.rxBytes(i) > 0 && ns.txBytes(i) > 0, "no traffic on eth0 of " + i);
      }
    }
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void disconnectTakesTheCarrierAwayAndReconnectGivesItBack() throws Exception {
    try (NetNamespaces ns = NetNamespaces.create(2)) {
      String carrier = "/sys/class/net/" + NetNamespaces.INTERFACE + "/carrier";
      assertEquals("1", ns.run(1, "cat", carrier).trim());
      ns.disconnect(1);
      assertEquals("0", ns.run(1, "cat", carrier).trim());
      assertEquals("1", ns.run(0, "cat", carrier).trim(), "the others stay connected");
      ns.reconnect(1);
      assertEquals("1", ns.run(1, "cat", carrier).trim());
    }
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void closeKillsTheProcessesAndDeletesEveryNamespace(@TempDir Path dir) throws Exception {
    NetNamespaces ns = NetNamespaces.create(2);
    List<String> names = List.of(ns.name(0), ns.name(1));
    Process sleeper;
    try {
      sleeper = ns.exec(1, List.of("sleep", "600"), dir.resolve("sleep.log"));
      assertTrue(NetNamespaces.list().containsAll(names), NetNamespaces.list().toString());
    } finally {
      ns.close();
    }
    assertTrue(sleeper.waitFor(10, TimeUnit.SECONDS), "sleep still running after close");
    List<String> left = NetNamespaces.list();
    for (String name : names) {
      assertFalse(left.contains(name), name + " left behind: " + left);
    }
    String prefix = names.get(0).substring(0, names.get(0).lastIndexOf('-') + 1);
    assertTrue(left.stream().noneMatch(l -> l.startsWith(prefix)), "left behind: " + left);
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void namespacesLeftByACrashedRunAreRemovedByTheNextOne(@TempDir Path dir) throws Exception {
    // A finished process's pid stands for a test JVM that died without closing its harness.
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    String stale = "obt-" + gone.pid() + "-1-0";
    new ProcessBuilder("ip", "netns", "add", stale).inheritIO().start().waitFor();
    try {
      assertTrue(NetNamespaces.list().contains(stale), "could not make " + stale);
      assertTrue(NetNamespaces.stale().contains(stale), NetNamespaces.stale().toString());
      try (NetNamespaces ns = NetNamespaces.create(1)) {
        assertFalse(NetNamespaces.list().contains(stale), "stale " + stale + " not removed");
        // A live run's namespaces are never taken for stale ones.
        assertFalse(NetNamespaces.stale().contains(ns.name(0)));
      }
    } finally {
      if (NetNamespaces.list().contains(stale)) {
        new ProcessBuilder("ip", "netns", "delete", stale).inheritIO().start().waitFor();
      }
    }
  }
}
