package org.omnibiote.encode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.omnibiote.UserError;
import org.omnibiote.ingest.DocumentTokenizer;
import org.omnibiote.records.RecordSource;
import org.omnibiote.records.SeqFormat;
import org.omnibiote.records.SeqRecord;
import org.omnibiote.sources.RecordSources;

/**
 * A FASTA file (plain or gzip) as encode inputs: each record becomes {@code <tag>SEQUENCE<EOS>}
 * through ingest's {@link DocumentTokenizer} (so the banned {@code ▁} piece is removed exactly as
 * in training data), the tag from --tag or {@link SequenceTag}. Any record the parser refuses, and
 * any record without a sequence, is a {@link UserError}: encode's output must have one row per
 * record of the input.
 */
public final class FastaInput {
  private final DocumentTokenizer tokens;
  private final String fixedTag;

  /** {@code fixedTag} (e.g. {@code <DNA>}) for every record, or null to choose per record. */
  public FastaInput(DocumentTokenizer tokens, String fixedTag) {
    this.tokens = tokens;
    this.fixedTag = fixedTag;
    if (fixedTag != null) {
      checkTag(fixedTag);
    }
  }

  public List<Sequence> read(Path file) throws IOException {
    if (Files.isRegularFile(file) && Files.size(file) == 0) {
      throw new UserError(file + ": empty file, no FASTA records to encode");
    }
    SeqFormat format = RecordSources.sniff(file);
    if (format != SeqFormat.FASTA) {
      throw new UserError(
          file
              + ": is "
              + format.toString().toLowerCase(Locale.ROOT)
              + ", not FASTA (encode reads --input-format fasta or ids)");
    }
    List<Sequence> out = new ArrayList<>();
    boolean[] checkedTags = new boolean[3];
    try (RecordSource source = RecordSources.open(file, SeqFormat.FASTA, p -> {}, true)) {
      String previous = null;
      SeqRecord r;
      while ((r = source.next()) != null) {
        if (source.counts().skippedNoSequence() > 0) {
          throw withoutSequence(file, previous);
        }
        String sequence = r.sequence().toUpperCase(Locale.ROOT);
        String tag = fixedTag != null ? fixedTag : SequenceTag.of(sequence);
        if (fixedTag == null) {
          checkOnce(tag, checkedTags);
        }
        String document = tag + sequence + DocumentTokenizer.EOS_PIECE;
        DocumentTokenizer.Ids ids = tokens.encode(document);
        if (ids == null) {
          throw new UserError(
              file
                  + ":"
                  + r.line()
                  + " ("
                  + r.id()
                  + "): the tokenized record does"
                  + " not end in "
                  + DocumentTokenizer.EOS_PIECE
                  + "; is this the right tokenizer?");
        }
        out.add(new Sequence(r.id(), Arrays.copyOf(ids.ids(), ids.length())));
        previous = r.id();
      }
      if (source.counts().skippedNoSequence() > 0) {
        throw withoutSequence(file, previous);
      }
    }
    if (out.isEmpty()) {
      throw new UserError(file + ": no FASTA records to encode");
    }
    return out;
  }

  private static UserError withoutSequence(Path file, String previous) {
    return new UserError(
        file
            + ": a record without sequence "
            + (previous == null ? "comes first" : "follows record " + previous)
            + " (encode needs a sequence for every record)");
  }

  private void checkOnce(String tag, boolean[] checked) {
    int slot = tag.equals(SequenceTag.DNA) ? 0 : tag.equals(SequenceTag.RNA) ? 1 : 2;
    if (!checked[slot]) {
      checkTag(tag);
      checked[slot] = true;
    }
  }

  /** The tag must be one piece of the vocabulary, or the model never saw it as a tag. */
  private void checkTag(String tag) {
    if (tokens.tokenizer().pieceToId(tag) < 0 || !tokens.isSinglePiece(tag)) {
      throw new UserError(
          "tag "
              + tag
              + " is not a piece of the tokenizer's vocabulary"
              + " (tags such as <DNA>, <RNA>, <protein>)");
    }
  }
}
