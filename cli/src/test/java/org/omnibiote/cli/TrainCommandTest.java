package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.omnibiote.cli.CliRun.run;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.settings.LossNorm;
import org.omnibiote.settings.TrainSettings;
import picocli.CommandLine;

/** The train command's settings (defaults, profile, flags) and its refusals before any work. */
class TrainCommandTest {
  @TempDir Path dir;

  private TrainSettings parse(String... args) {
    TrainCommand command = new TrainCommand();
    new CommandLine(command).parseArgs(args);
    return command.settings();
  }

  @Test
  void defaultsAreTheOriginalTrainEncoderFlags() {
    TrainSettings s = parse();
    assertEquals(1024, s.batchSize());
    assertEquals(8, s.miniBatchSize());
    assertEquals(1024, s.nEmbd());
    assertEquals(8, s.nLayer());
    assertEquals(2048, s.ctxLen());
    assertEquals(1e-2, s.lr());
    assertEquals(20e9, s.tokenBudget());
    assertEquals(0.05, s.warmupPeriod());
    assertEquals("mixed", s.trainType());
    assertEquals(LossNorm.GLOBAL, s.lossNorm());
    assertTrue(s.saveName().startsWith(Path.of("runs")), s.saveName().toString());
    assertEquals("omnibiota", s.checkpointName());
  }

  @Test
  void flagsOverrideTheProfileWhichOverridesTheDefaults() throws Exception {
    Path profile = dir.resolve("run.conf");
    Files.writeString(
        profile, "omnibiote.train { batch_size = 64, n_layer = 3, use_padding = true }\n");
    TrainSettings s =
        parse(
            "--config",
            profile.toString(),
            "--batch_size",
            "32",
            "--batch_ramp",
            "--save_name",
            dir.resolve("r/m").toString());
    assertEquals(32, s.batchSize(), "the flag wins over the profile");
    assertEquals(3, s.nLayer(), "the profile wins over the default");
    assertTrue(s.usePadding());
    assertTrue(s.batchRamp(), "a bare boolean flag means true, as argparse's store_true");
    assertEquals(dir.resolve("r").toAbsolutePath(), s.runDir());
    assertEquals("m", s.checkpointName());
  }

  @Test
  void fsdpIsRefusedWithAClearMessage() {
    CliRun r = run("train", "--base_dir", dir.toString(), "--FSDP");
    assertEquals(2, r.exitCode(), r.err());
    assertTrue(r.err().startsWith("error: --FSDP"), r.err());
    assertFalse(r.err().contains("\tat "), r.err());
  }

  @Test
  void aBatchThatIsNotWholeMicroBatchesIsRefused() {
    CliRun r =
        run("train", "--base_dir", dir.toString(), "--batch_size", "12", "--mini_batch_size", "8");
    assertEquals(2, r.exitCode(), r.err());
    assertTrue(
        r.err().contains("--batch_size 12 is not divisible by --mini_batch_size 8"), r.err());
  }

  @Test
  void aMissingOrEmptyBaseDirIsRefusedBeforeAnyWork() throws Exception {
    Path save = dir.resolve("run/omnibiota");
    CliRun missing =
        run("train", "--base_dir", dir.resolve("nope").toString(), "--save_name", save.toString());
    assertEquals(2, missing.exitCode(), missing.err());
    assertTrue(missing.err().contains("nope"), missing.err());
    Path empty = Files.createDirectories(dir.resolve("empty"));
    CliRun none = run("train", "--base_dir", empty.toString(), "--save_name", save.toString());
    assertEquals(2, none.exitCode(), none.err());
    assertTrue(none.err().contains("empty"), none.err());
    assertFalse(Files.exists(dir.resolve("run")), "nothing written");
  }

  @Test
  void aShardWithFourBytesOverwrittenStopsTheRunWithOneLineNamingItAndTheRepair() throws Exception {
    Path shards = dir.resolve("shards");
    org.omnibiote.shards.Manifest m =
        org.omnibiote.data.IngestOutputs.smallVocabularyIngest(shards, 512);
    String relative =
        m.shards().stream()
            .filter(s -> s.split().equals("train") && s.dataset().equals("genbank"))
            .findFirst()
            .orElseThrow()
            .path();
    Path shard = shards.resolve(relative);
    byte[] bytes = Files.readAllBytes(shard);
    for (int i = 200; i < 204; i++) {
      bytes[i] ^= 1; // neighbouring ids: inside the vocabulary, so only the SHA-256 tells
    }
    Files.write(shard, bytes);
    String[] tiny = {
      "train",
      "--base_dir",
      shards.toString(),
      "--save_name",
      dir.resolve("run/m").toString(),
      "--n_layer",
      "1",
      "--n_embd",
      "32",
      "--n_head",
      "2",
      "--ctx_len",
      "64",
      "--batch_size",
      "8",
      "--mini_batch_size",
      "8",
      "--token_budget",
      "5120",
      "--test_freq",
      "1e9",
      "--save_freq",
      "1e9"
    };
    CliRun r = run(tiny);
    assertEquals(2, r.exitCode(), r.err());
    List<String> errors = r.err().lines().filter(l -> l.startsWith("error:")).toList();
    assertEquals(1, errors.size(), r.err());
    assertTrue(errors.get(0).contains("shard " + shard + " is damaged"), errors.get(0));
    assertTrue(errors.get(0).contains("rm " + shard + " && bin/omnibiote ingest"), errors.get(0));
    assertFalse(r.err().contains("\tat org."), "no stack trace: " + r.err());

    // The same run on the intact folder trains to its end.
    Path intact = dir.resolve("intact");
    org.omnibiote.data.IngestOutputs.smallVocabularyIngest(intact, 512);
    tiny[2] = intact.toString();
    tiny[4] = dir.resolve("run2/m").toString();
    CliRun ok = run(tiny);
    assertEquals(0, ok.exitCode(), ok.err());
  }

  @Test
  void helpListsTheOriginalFlagsWithTheirDefaults() {
    CliRun r = run("train", "--help");
    assertEquals(0, r.exitCode());
    for (String flag :
        new String[] {
          "--batch_size",
          "--mini_batch_size",
          "--n_head",
          "--n_embd",
          "--n_layer",
          "--ctx_len",
          "--dropout",
          "--lr",
          "--beta1",
          "--beta2",
          "--epsilon",
          "--weight_decay",
          "--token_budget",
          "--test_freq",
          "--save_freq",
          "--save_name",
          "--disable_flash",
          "--wandb_project_name",
          "--base_dir",
          "--force_lr",
          "--checkpoint_freq",
          "--banned_token",
          "--warmup_period",
          "--batch_ramp",
          "--train_type",
          "--FSDP",
          "--use_padding",
          "--resume_from",
          "--config"
        }) {
      assertTrue(r.out().contains(flag), flag + " in\n" + r.out());
    }
    assertTrue(r.out().contains("(default: 1024)"), r.out());
  }

  @Test
  void localWorkersNeedOneCudaDeviceEachOrTheCpu() {
    CliRun r = run("train", "--base_dir", dir.toString(), "--workers", "2", "--devices", "cuda:0");
    assertEquals(2, r.exitCode(), r.err());
    assertTrue(r.err().contains("lists 1 devices for --workers 2"), r.err());
    CliRun bad =
        run("train", "--base_dir", dir.toString(), "--workers", "2", "--devices", "gpu0,gpu1");
    assertEquals(2, bad.exitCode(), bad.err());
    assertTrue(bad.err().contains("give cpu, or one cuda:N per worker"), bad.err());
  }
}
