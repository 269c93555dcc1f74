package org.omnibiote.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.model.OmniBioTA;
import org.omnibiote.settings.OmniBioTAConfig;

/**
 * The README's conversion scripts (tools/, torch + numpy only, on Debian's python3-torch): our
 * weights -> original state_dict .pt -> our weights is bit-exact, and an original-style checkpoint
 * (pickled whole module, or a state_dict with torch.compile/DDP prefixes, bf16 tensors and a RoPE
 * buffer) converts to a file our loader takes.
 */
class ConversionScriptsTest {
  private static final String PYTHON = "/usr/bin/python3";
  private static final OmniBioTAConfig CONFIG = new OmniBioTAConfig(101, 16, 2, 2, 32, 0.1);

  @TempDir static Path dir;
  private static Path tools;
  private static OmniBioTA model;
  private static Path ours;

  @BeforeAll
  static void weights() throws Exception {
    tools = toolsFolder();
    requireTorch();
    torch.manual_seed(23);
    model = new OmniBioTA(CONFIG);
    ours = dir.resolve("ours.safetensors");
    ModelWeights.save(model, ours);
  }

  @Test
  void oursToStateDictAndBackIsBitExact() throws Exception {
    Path pt = dir.resolve("state_dict.pt");
    Result toPt =
        python(
            tools.resolve("safetensors_to_state_dict.py").toString(),
            ours.toString(),
            pt.toString());
    assertEquals(0, toPt.code(), toPt.output());
    assertTrue(
        toPt.output().contains("\"n_head\": 2") && toPt.output().contains("\"vocab_size\": 101"),
        "prints the config: " + toPt.output());
    Path back = dir.resolve("back.safetensors");
    Result toOurs =
        python(
            tools.resolve("state_dict_to_safetensors.py").toString(),
            pt.toString(),
            back.toString(),
            "--n_head",
            "2",
            "--ctx_len",
            "32",
            "--dropout",
            "0.1");
    assertEquals(0, toOurs.code(), toOurs.output());
    OmniBioTA loaded = ModelWeights.load(back);
    assertEquals(CONFIG, loaded.config());
    assertSameWeights(model.stateDict(), loaded, false);
  }

  @Test
  void originalStyleCheckpointsConvert() throws Exception {
    Path pt = dir.resolve("plain.pt");
    assertEquals(
        0,
        python(
                tools.resolve("safetensors_to_state_dict.py").toString(),
                ours.toString(),
                pt.toString())
            .code());
    Path reference =
        Path.of(ConversionScriptsTest.class.getResource("/omnibiota_reference.py").toURI())
            .getParent();
    Path prefixed = dir.resolve("compiled_ddp_bf16.pt");
    Path module = dir.resolve("whole_module.pt");
    // As the original saves them: keys behind DDP/torch.compile wrappers, bf16, a RoPE
    // buffer in the state_dict; or torch.save of the module itself (its class importable).
    String make =
        """
        import sys, torch
        sys.path.insert(0, sys.argv[4])
        import omnibiota_reference as ref
        sd = torch.load(sys.argv[1])
        wrapped = {'module._orig_mod.' + k: v.to(torch.bfloat16) for k, v in sd.items()}
        wrapped['module._orig_mod.transformer.freqs_cis'] = torch.polar(torch.ones(4, 2), torch.zeros(4, 2))
        torch.save(wrapped, sys.argv[2])
        m = ref.OmniBioTA(vocab_size=101, n_embd=16, n_layer=2, n_head=2)
        m.load_state_dict(sd)
        torch.save(m, sys.argv[3])""";
    Result made =
        python(
            "-c",
            make,
            pt.toString(),
            prefixed.toString(),
            module.toString(),
            reference.toString());
    assertEquals(0, made.code(), made.output());

    Path fromPrefixed = dir.resolve("from_prefixed.safetensors");
    Result r =
        python(
            tools.resolve("state_dict_to_safetensors.py").toString(),
            prefixed.toString(),
            fromPrefixed.toString(),
            "--n_head",
            "2",
            "--ctx_len",
            "32",
            "--dropout",
            "0.1");
    assertEquals(0, r.code(), r.output());
    assertTrue(
        r.output().contains("dropped (not OmniBioTA parameters): transformer.freqs_cis"),
        r.output());
    assertSameWeights(model.stateDict(), ModelWeights.load(fromPrefixed), true);

    Path fromModule = dir.resolve("from_module.safetensors");
    r =
        python(
            tools.resolve("state_dict_to_safetensors.py").toString(),
            module.toString(),
            fromModule.toString(),
            "--n_head",
            "2",
            "--ctx_len",
            "32",
            "--dropout",
            "0.1",
            "--python_path",
            reference.toString());
    assertEquals(0, r.code(), r.output());
    OmniBioTA loaded = ModelWeights.load(fromModule);
    assertEquals(CONFIG, loaded.config());
    assertSameWeights(model.stateDict(), loaded, false);
  }

  @Test
  void aConfigThatDoesNotFitTheWeightsIsRefused() throws Exception {
    Path pt = dir.resolve("refused.pt");
    assertEquals(
        0,
        python(
                tools.resolve("safetensors_to_state_dict.py").toString(),
                ours.toString(),
                pt.toString())
            .code());
    Path out = dir.resolve("refused.safetensors");
    String script = tools.resolve("state_dict_to_safetensors.py").toString();
    Result heads = python(script, pt.toString(), out.toString(), "--n_head", "3");
    assertNotEquals(0, heads.code());
    assertTrue(
        heads.output().contains("error: n_embd 16 does not split into 3 heads"), heads.output());
    Result width = python(script, pt.toString(), out.toString(), "--n_head", "2", "--n_embd", "32");
    assertNotEquals(0, width.code());
    assertTrue(
        width.output().contains("error: --n_embd 32, but the weights have 16"), width.output());
    Result noHeads = python(script, pt.toString(), out.toString());
    assertNotEquals(0, noHeads.code());
    assertTrue(noHeads.output().contains("--n_head"), noHeads.output());
    assertTrue(!Files.exists(out), "nothing written");
  }

  /** Every tensor equal to ours (or to ours rounded to bf16), bit for bit. */
  private static void assertSameWeights(
      Map<String, Tensor> expected, OmniBioTA loaded, boolean viaBf16) {
    try (PointerScope scope = new PointerScope()) {
      Map<String, Tensor> got = loaded.stateDict();
      assertEquals(expected.keySet(), got.keySet());
      for (String name : expected.keySet()) {
        Tensor want =
            viaBf16
                ? expected.get(name).to(ScalarType.BFloat16).to(ScalarType.Float)
                : expected.get(name);
        assertTrue(torch.equal(want, got.get(name)), name);
      }
    }
  }

  private record Result(int code, String output) {}

  private static Result python(String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(PYTHON));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().put("OMP_NUM_THREADS", "1");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("python timed out: " + command);
    }
    return new Result(p.exitValue(), out);
  }

  /** The repository's tools/ folder (surefire runs in the module folder). */
  private static Path toolsFolder() {
    Path t = Path.of("").toAbsolutePath().resolveSibling("tools");
    if (!Files.isRegularFile(t.resolve("state_dict_to_safetensors.py"))) {
      fail("tools/state_dict_to_safetensors.py not found at " + t);
    }
    return t;
  }

  /** Fails (never skips) when Debian's torch is missing, saying what to install. */
  private static void requireTorch() throws Exception {
    if (!Files.isExecutable(Path.of(PYTHON))) {
      fail(PYTHON + " not found; apt-get install -y python3-torch python3-numpy");
    }
    Result r = python("-c", "import torch, numpy");
    if (r.code() != 0) {
      fail(
          "the conversion scripts need Debian's python3-torch and python3-numpy under "
              + PYTHON
              + ": apt-get install -y python3-torch python3-numpy\n"
              + r.output());
    }
  }
}
