package org.omnibiote.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.omnibiote.cli.CliRun.run;
import static org.omnibiote.cli.CliRun.shared;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizeCommandTest {
  static final Path MODEL = shared().resolve("tokenizers/nucleotide_bpe.model");
  static final List<String> LINES =
      List.of("<DNA>ACGTTTGACCANNNN<EOS>", "", "  two  words ", "acgt é ＡＢＣ", "<protein>MKV<EOS>");

  private static String spmEncode(Path input, String format) throws Exception {
    Process p =
        new ProcessBuilder("spm_encode", "--model=" + MODEL, "--output_format=" + format)
            .redirectInput(input.toFile())
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(
        p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0,
        "spm_encode (Debian sentencepiece) ran");
    return out;
  }

  @Test
  void idsAndPiecesFilesEqualSpmEncodeOutput(@TempDir Path tmp) throws Exception {
    Path in = Files.write(tmp.resolve("in.txt"), LINES, StandardCharsets.UTF_8);
    for (String format : List.of("id", "piece")) {
      Path out = tmp.resolve("out-" + format + ".txt");
      int code =
          Main.execute(
              "tokenize",
              "--tokenizer",
              MODEL.toString(),
              "--input",
              in.toString(),
              "--output-format",
              format,
              "--output",
              out.toString());
      assertEquals(0, code);
      assertEquals(spmEncode(in, format), Files.readString(out, StandardCharsets.UTF_8), format);
    }
    try (var files = Files.list(tmp)) {
      assertFalse(
          files.anyMatch(f -> f.getFileName().toString().endsWith(".tmp")),
          "no temporary file left");
    }
  }

  @Test
  void aFileThatIsNotAModelIsAUserErrorWithExitCode2(@TempDir Path tmp) throws Exception {
    Path notModel = Files.writeString(tmp.resolve("x.model"), "hello\n");
    CliRun r = run("tokenize", "--tokenizer", notModel.toString(), "--input", notModel.toString());
    assertEquals(2, r.exitCode());
    String message = r.err();
    assertTrue(message.contains("error: " + notModel), message);
    assertTrue(message.contains("not a SentencePiece model"), message);
    assertFalse(message.contains("\tat "), "no stack trace: " + message);
  }
}
