package org.omnibiote.encode;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.omnibiote.UserError;
import org.omnibiote.model.OmniBioTA;

/**
 * Token ids as text, one sequence per line (whitespace-separated, as spm_encode --output_format=id
 * prints them), used exactly as given: no tag, no EOS added. Record ids are {@code line1}, {@code
 * line2}, ... so another implementation can be compared on the same ids. Blank lines, non-numbers,
 * ids outside the vocabulary and PAD (which the model would silently ignore) are refused with the
 * line named.
 */
public final class IdsInput {
  private IdsInput() {}

  public static List<Sequence> read(Path file, int vocabSize) throws IOException {
    List<Sequence> out = new ArrayList<>();
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String line;
      int number = 0;
      while ((line = in.readLine()) != null) {
        number++;
        out.add(new Sequence("line" + number, parse(line, file, number, vocabSize)));
      }
    } catch (NoSuchFileException e) {
      throw new UserError("no such file: " + file);
    } catch (MalformedInputException e) {
      throw new UserError(file + ": not UTF-8 text; --input-format ids wants lines of token ids");
    }
    if (out.isEmpty()) {
      throw new UserError(file + ": no lines of token ids to encode");
    }
    return out;
  }

  private static int[] parse(String line, Path file, int number, int vocabSize) {
    String trimmed = line.strip();
    if (trimmed.isEmpty()) {
      throw new UserError(
          file + ":" + number + ": empty line (one sequence of token ids per line)");
    }
    String[] words = trimmed.split("\\s+", -1);
    int[] ids = new int[words.length];
    for (int i = 0; i < words.length; i++) {
      long id;
      try {
        id = Long.parseLong(words[i]);
      } catch (NumberFormatException e) {
        throw new UserError(file + ":" + number + ": '" + words[i] + "' is not a token id");
      }
      if (id < 0 || id >= vocabSize) {
        throw new UserError(
            file
                + ":"
                + number
                + ": token id "
                + id
                + " is outside the model's vocabulary (0.."
                + (vocabSize - 1)
                + ")");
      }
      if (id == OmniBioTA.PAD) {
        throw new UserError(
            file
                + ":"
                + number
                + ": token id "
                + id
                + " is PAD, which the model ignores; remove it");
      }
      ids[i] = (int) id;
    }
    return ids;
  }
}
