package org.omnibiote.sources;

import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;
import org.omnibiote.UserError;
import org.omnibiote.fasta.FastaParser;
import org.omnibiote.genbank.GenBankParser;
import org.omnibiote.io.Compressed;
import org.omnibiote.io.CountingInputStream;
import org.omnibiote.records.LineReader;
import org.omnibiote.records.Problem;
import org.omnibiote.records.RecordSource;
import org.omnibiote.records.SeqFormat;

/** Opens record files (plain or gzip, told apart by their first bytes) and sniffs formats. */
public final class RecordSources {
  /** How far into a file sniffing looks for the first LOCUS line (release headers are short). */
  private static final int SNIFF_BYTES = 1 << 16;

  private RecordSources() {}

  /**
   * Opens a record file.
   *
   * @param problems receives each refused record (file, line, accession, message)
   * @param strict throw a {@link UserError} at the first problem instead
   */
  public static RecordSource open(
      Path file, SeqFormat format, Consumer<Problem> problems, boolean strict) {
    try {
      return open(Files.newInputStream(file), file, format, problems, strict);
    } catch (NoSuchFileException e) {
      throw new UserError("no such file: " + file);
    } catch (IOException e) {
      throw new UserError("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Opens a record stream (plain or gzip); {@code file} names it in problems and errors. The stream
   * is closed with the source.
   */
  public static RecordSource open(
      InputStream raw, Path file, SeqFormat format, Consumer<Problem> problems, boolean strict)
      throws IOException {
    CountingInputStream counted = new CountingInputStream(raw);
    LineReader lines = new LineReader(decompressed(counted, file));
    return switch (format) {
      case GENBANK -> new GenBankParser(file, lines, counted::count, problems, strict);
      case FASTA -> new FastaParser(file, lines, counted::count, problems, strict);
    };
  }

  /**
   * The format of a file from its content (gunzipped first): GenBank when a LOCUS line comes first,
   * or after a release header (e.g. "GBPRI1.SEQ Genetic Sequence Data Bank"); FASTA when the first
   * non-blank line starts with '>'.
   *
   * @throws UserError for anything else
   */
  public static SeqFormat sniff(Path file) {
    return sniffContent(file)
        .orElseThrow(
            () ->
                new UserError(
                    "not a GenBank or FASTA file: "
                        + file
                        + " (no LOCUS line in its first "
                        + SNIFF_BYTES / 1024
                        + " KiB, and it does not start"
                        + " with '>')"));
  }

  /**
   * The format of a file from its content as {@link #sniff} tells it, or empty when the content is
   * neither (a file that cannot be read is a {@link UserError}).
   */
  public static java.util.Optional<SeqFormat> sniffContent(Path file) {
    byte[] head = new byte[SNIFF_BYTES];
    int n = 0;
    try (InputStream in = decompressed(Files.newInputStream(file), file)) {
      int r;
      while (n < head.length && (r = in.read(head, n, head.length - n)) > 0) {
        n += r;
      }
    } catch (NoSuchFileException e) {
      throw new UserError("no such file: " + file);
    } catch (IOException e) {
      throw new UserError("cannot read " + file + ": " + e.getMessage(), e);
    }
    String text = new String(head, 0, n, StandardCharsets.ISO_8859_1);
    boolean firstNonBlank = true;
    for (String line : text.split("\r\n|\r|\n", -1)) {
      if (line.isBlank()) {
        continue;
      }
      if (line.startsWith("LOCUS ")) {
        return java.util.Optional.of(SeqFormat.GENBANK);
      }
      if (firstNonBlank && line.startsWith(">")) {
        return java.util.Optional.of(SeqFormat.FASTA);
      }
      firstNonBlank = false;
    }
    return java.util.Optional.empty();
  }

  /** Gunzips when the stream starts with the gzip magic bytes; a broken gzip is a UserError. */
  static InputStream decompressed(InputStream raw, Path file) throws IOException {
    try {
      InputStream in = Compressed.decompressed(raw);
      return in instanceof GZIPInputStream ? new GzipErrors(in, file) : in;
    } catch (EOFException | ZipException e) {
      raw.close();
      throw GzipErrors.broken(file, e);
    }
  }

  /** Turns the gzip stream's EOF/format exceptions into a UserError naming the file. */
  private static final class GzipErrors extends FilterInputStream {
    private final Path file;

    GzipErrors(InputStream in, Path file) {
      super(in);
      this.file = file;
    }

    static UserError broken(Path file, IOException e) {
      String why = e instanceof EOFException ? "truncated" : "corrupt";
      return new UserError(why + " gzip file: " + file + " (" + e.getMessage() + ")", e);
    }

    @Override
    public int read() throws IOException {
      try {
        return super.read();
      } catch (EOFException | ZipException e) {
        throw broken(file, e);
      }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      try {
        return super.read(b, off, len);
      } catch (EOFException | ZipException e) {
        throw broken(file, e);
      }
    }
  }
}
