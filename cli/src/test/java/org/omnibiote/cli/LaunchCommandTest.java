package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.launch.Hostfile;

/**
 * {@code launch}'s input checks, which run before any ssh: the hostfile (DeepSpeed's format), the
 * run folder, and a host ssh cannot reach. The launch itself is SshLaunchTest (sshd in network
 * namespaces, tagged long).
 */
class LaunchCommandTest {
  @TempDir Path dir;

  @Test
  void aHostfileGivesItsHostsAndSlotsSkippingCommentsAndBlankLines() throws Exception {
    Path f = dir.resolve("hosts");
    Files.writeString(
        f, "# the cluster\n\nnode-1 slots=4\n  10.0.0.2   slots = 2   # two GPUs\nnode-3\n\t\n");
    Hostfile h = Hostfile.read(f);
    assertEquals(
        List.of(
            new Hostfile.Host("node-1", 4, 3),
            new Hostfile.Host("10.0.0.2", 2, 4),
            new Hostfile.Host("node-3", 1, 5)),
        h.hosts());
    assertEquals(7, h.slots());
  }

  @Test
  void eachBadHostfileLineIsOneErrorNamingFileAndLine() throws Exception {
    String[][] cases = {
      {"a slots=2\nb slots=two\n", ":2: slots=two is not a whole number"},
      {"a slots=2\n\n# x\na slots=1\n", ":4: a is already on line 1"},
      {"a slots=0\n", ":1: slots=0: give 1 to 1024 workers for a"},
      {"a gpus=2\n", ":1: 'a gpus=2' is not 'HOST slots=N'"},
      {"a/b slots=1\n", ":1: 'a/b' is not a host name or address"},
      {"# nothing\n\n", ": no hosts (one 'HOST slots=N' per line)"},
    };
    for (String[] c : cases) {
      Path f = dir.resolve("hosts");
      Files.writeString(f, c[0]);
      CliRun r = CliRun.run("launch", "--hosts", f.toString(), "--run-dir", dir + "/run");
      assertEquals(2, r.exitCode(), r.err());
      assertEquals("error: " + f + c[1] + "\n", r.err(), c[0]);
      // Nothing was started or recorded.
      assertTrue(!Files.exists(dir.resolve("run/launch")), c[0]);
    }
    CliRun missing = CliRun.run("launch", "--hosts", dir + "/none", "--run-dir", dir + "/run");
    assertEquals("error: --hosts " + dir + "/none: no such file\n", missing.err());
  }

  @Test
  void aHostThatRefusesSshIsOneErrorWithSshsOwnReason() throws Exception {
    Path f = dir.resolve("hosts");
    Files.writeString(f, "127.0.0.1 slots=1\n");
    // Port 1: nothing listens there, ssh is refused at once.
    CliRun r =
        CliRun.run(
            "launch",
            "--hosts",
            f.toString(),
            "--run-dir",
            dir + "/run",
            "--ssh",
            "ssh -p 1 -F /dev/null",
            "--omnibiote",
            "/opt/omnibiote/bin/omnibiote",
            "--base_dir",
            dir.toString());
    assertEquals(2, r.exitCode(), r.err());
    assertTrue(
        r.err()
            .startsWith(
                "error: could not start the coordinator on 127.0.0.1: ssh: connect to"
                    + " host 127.0.0.1 port 1: Connection refused (exit 255)"),
        r.err());
    assertEquals(1, r.err().lines().count(), r.err());
  }

  @Test
  void statusAndStopOfAFolderNeverLaunchedSayWhy() {
    for (String what : List.of("status", "stop")) {
      CliRun r = CliRun.run("launch", what, "--run-dir", dir.toString());
      assertEquals(2, r.exitCode(), r.err());
      assertEquals(
          "error: "
              + dir.resolve("launch/nodes.tsv")
              + " does not exist: was this run started with launch (--run-dir)?\n",
          r.err());
    }
  }

  @Test
  void launchWithoutHostsOrRunFolderSaysWhatToGive() throws Exception {
    CliRun r = CliRun.run("launch");
    assertEquals(2, r.exitCode());
    assertTrue(r.err().startsWith("error: launch: give --hosts FILE"), r.err());
    Path f = dir.resolve("hosts");
    Files.writeString(f, "a\n");
    CliRun noRun = CliRun.run("launch", "--hosts", f.toString());
    assertEquals(
        "error: launch: give the run folder, --run-dir DIR (on shared storage)\n", noRun.err());
  }
}
