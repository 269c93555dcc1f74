package org.omnibiote.tokenizer;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.omnibiote.UserError;
import org.omnibiote.io.AtomicFiles;
import org.omnibiote.tokenizer.proto.SentencepieceModel.ModelProto;

/**
 * Writes a model as spm_train does: {@code PREFIX.model} (the serialised ModelProto) and {@code
 * PREFIX.vocab} (piece TAB score per line). Each file is written through {@link AtomicFiles}
 * (temporary file in the same folder, synced, renamed), so a crash never leaves half a model.
 */
public final class ModelWriter {
  private ModelWriter() {}

  /** The .model path for {@code output}: taken as is if it ends in .model, else + ".model". */
  public static Path modelPath(Path output) {
    String name = output.getFileName().toString();
    return name.endsWith(".model") ? output : output.resolveSibling(name + ".model");
  }

  /** The .vocab path that goes with a .model path. */
  public static Path vocabPath(Path modelPath) {
    String name = modelPath.getFileName().toString();
    return modelPath.resolveSibling(
        name.substring(0, name.length() - ".model".length()) + ".vocab");
  }

  /** Writes {@code model} to {@link #modelPath}(output) and its .vocab; returns the .model path. */
  public static Path write(ModelProto model, Path output) {
    Path modelFile = modelPath(output.toAbsolutePath());
    Path vocabFile = vocabPath(modelFile);
    Path dir = modelFile.getParent();
    if (!Files.isDirectory(dir)) {
      throw new UserError("output folder " + dir + " does not exist");
    }
    String prefix = modelFile.getFileName().toString().replaceFirst("\\.model$", "");
    ModelProto named =
        model.toBuilder()
            .setTrainerSpec(model.getTrainerSpec().toBuilder().setModelPrefix(prefix))
            .build();
    writeAtomically(vocabFile, vocabText(named).getBytes(StandardCharsets.UTF_8));
    writeAtomically(modelFile, named.toByteArray());
    return modelFile;
  }

  static String vocabText(ModelProto model) {
    StringBuilder sb = new StringBuilder(model.getPiecesCount() * 12);
    for (ModelProto.SentencePiece p : model.getPiecesList()) {
      sb.append(p.getPiece()).append('\t').append(formatScore(p.getScore())).append('\n');
    }
    return sb.toString();
  }

  /**
   * A float as C++ streams print it by default (%g, 6 significant digits): "-0", "-12", "-1.5e+06".
   */
  static String formatScore(float score) {
    if (score == 0) {
      return (Float.floatToRawIntBits(score) < 0) ? "-0" : "0";
    }
    if (Float.isNaN(score) || Float.isInfinite(score)) {
      return Float.isNaN(score) ? "nan" : (score > 0 ? "inf" : "-inf");
    }
    BigDecimal rounded = new BigDecimal(score).round(new MathContext(6));
    int exponent = rounded.precision() - rounded.scale() - 1;
    if (exponent < -4 || exponent >= 6) {
      BigDecimal mantissa = rounded.movePointLeft(exponent).stripTrailingZeros();
      String e = String.format("%s%02d", exponent < 0 ? "-" : "+", Math.abs(exponent));
      return mantissa.toPlainString() + "e" + e;
    }
    return rounded.stripTrailingZeros().toPlainString();
  }

  private static void writeAtomically(Path target, byte[] bytes) {
    try {
      AtomicFiles.write(target, bytes);
    } catch (IOException e) {
      throw new UserError("cannot write " + target + ": " + e.getMessage(), e);
    }
  }
}
