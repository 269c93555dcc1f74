package org.omnibiote.encode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.UserError;

/** How encode reads its inputs: the alphabet's tag, checkpoint names, ids lines. */
class EncodeInputsTest {
  @TempDir Path dir;

  @Test
  void theTagFollowsTheAlphabet() {
    assertEquals("<DNA>", SequenceTag.of("ACGTNNACGT"));
    assertEquals("<DNA>", SequenceTag.of("ACGTRYKMSWBDHV-"), "IUPAC ambiguity codes and gaps");
    assertEquals("<RNA>", SequenceTag.of("ACGUUAGC"));
    assertEquals("<DNA>", SequenceTag.of("ACGUUTGC"), "U and T together: DNA");
    assertEquals("<protein>", SequenceTag.of("MKVLAAGIT"));
    assertEquals("<protein>", SequenceTag.of("MSEUAGCL"), "selenocysteine U in a protein");
    assertEquals("<protein>", SequenceTag.of("ACGTX"), "X is not a nucleotide code");
    assertEquals("<protein>", SequenceTag.normalise("protein"));
    assertEquals("<ss-RNA>", SequenceTag.normalise("<ss-RNA>"));
  }

  @Test
  void aCheckpointPrefixManifestOrStateNamesItsWeights() throws IOException {
    Path weights = Files.writeString(dir.resolve("omnibiota_500.safetensors"), "x");
    assertEquals(weights, WeightsPath.of(dir.resolve("omnibiota_500")));
    assertEquals(weights, WeightsPath.of(weights));
    assertEquals(weights, WeightsPath.of(dir.resolve("omnibiota_500.checkpoint.json")));
    assertEquals(weights, WeightsPath.of(dir.resolve("omnibiota_500.state.json")));
    UserError optimizer =
        assertThrows(
            UserError.class,
            () -> WeightsPath.of(dir.resolve("omnibiota_500.optimizer.safetensors")));
    assertTrue(optimizer.getMessage().contains("optimiser state"), optimizer.getMessage());
    UserError missing =
        assertThrows(UserError.class, () -> WeightsPath.of(dir.resolve("omnibiota")));
    assertTrue(
        missing.getMessage().contains("no weights file " + dir.resolve("omnibiota.safetensors")),
        missing.getMessage());
  }

  @Test
  void idsLinesAreUsedAsGivenAndCheckedAgainstTheVocabulary() throws IOException {
    Path ok = Files.writeString(dir.resolve("ok.txt"), "4 20 21 3\n  18\t30 3 \n");
    var seqs = IdsInput.read(ok, 64);
    assertEquals(2, seqs.size());
    assertEquals("line2", seqs.get(1).id());
    assertEquals(3, seqs.get(1).ids().length);
    assertEquals(20, seqs.get(0).ids()[1]);
    for (String[] bad :
        new String[][] {
          {"4 20\n\n4 3\n", ":2: empty line"},
          {"4 64 3\n", ":1: token id 64 is outside the model's vocabulary (0..63)"},
          {"4 -1\n", ":1: token id -1 is outside"},
          {"4 1 3\n", ":1: token id 1 is PAD"},
          {"4 2.5\n", ":1: '2.5' is not a token id"},
          {"", "no lines of token ids"}
        }) {
      Path f = Files.writeString(dir.resolve("bad.txt"), bad[0]);
      UserError e = assertThrows(UserError.class, () -> IdsInput.read(f, 64));
      assertTrue(e.getMessage().contains(bad[1]), e.getMessage());
    }
  }
}
