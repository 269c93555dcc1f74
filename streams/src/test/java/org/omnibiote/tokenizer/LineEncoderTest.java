package org.omnibiote.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The loop of `omnibiote tokenize` (and our side of bench tokenizer) writes spm_encode's lines. */
class LineEncoderTest {
  @TempDir Path dir;

  @Test
  void writesOneLineOfSpaceSeparatedIdsPerInputLine() throws IOException {
    Path shared = Path.of(System.getProperty("omnibiote.shared"));
    SentencePieceTokenizer model =
        SentencePieceTokenizer.load(shared.resolve("tokenizers/nucleotide_bpe.model"));
    List<String> lines = List.of("<DNA>ACGTTGCAACGGATTACA<EOS>", "", "<RNA>ACGU<EOS>", "x y");
    Path in = Files.write(dir.resolve("in.txt"), lines, StandardCharsets.UTF_8);
    Path out = dir.resolve("out.ids");

    try (var input = Files.newInputStream(in);
        var output = Files.newOutputStream(out)) {
      assertEquals(4, LineEncoder.encode(model, input, output, LineEncoder.Output.ID, n -> {}));
    }

    String expected =
        lines.stream()
            .map(
                l ->
                    Arrays.stream(model.encode(l))
                            .mapToObj(Integer::toString)
                            .collect(Collectors.joining(" "))
                        + "\n")
            .collect(Collectors.joining());
    assertEquals(expected, Files.readString(out, StandardCharsets.UTF_8));
  }
}
