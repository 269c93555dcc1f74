package org.omnibiote.cli;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.omnibiote.UserError;
import org.omnibiote.io.AtomicOutput;
import org.omnibiote.io.ProgressLine;
import org.omnibiote.records.ParseCounts;
import org.omnibiote.records.RecordSource;
import org.omnibiote.records.SeqFormat;
import org.omnibiote.records.SeqRecord;
import org.omnibiote.sources.RecordSources;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code omnibiote preprocess}: GenBank or FASTA files to one document per line, as the original's
 * preprocessing writes them with Biopython ({@code <molecule_type>SEQ<EOS>}).
 */
@Command(
    name = "preprocess",
    mixinStandardHelpOptions = true,
    description = {
      "Parse GenBank/GenPept or (UniProt/UniRef100) FASTA files, plain or gzip, into one"
          + " document per line: <molecule_type>SEQUENCE<EOS> for GenBank (the molecule type"
          + " as Biopython reports it from the LOCUS line) and <protein>SEQUENCE<EOS> for"
          + " FASTA, sequences upper case.",
      "Records Biopython refuses are reported on stderr as file:line (accession): message"
          + " and skipped (or, with --strict, stop the run). Records without a sequence"
          + " (CONTIG-only records, WGS/TSA/TLS masters) are skipped and counted.",
      "The output appears only when complete (written to a temporary file, synced, renamed)."
    })
public final class PreprocessCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--format",
      paramLabel = "genbank|fasta",
      description = "Input format (default: told from each file's content).")
  String format;

  @Option(
      names = "--input",
      arity = "1..*",
      required = true,
      paramLabel = "FILE",
      description = "Input files, plain or gzip (told apart by content, not by name).")
  List<Path> inputs;

  @Option(
      names = "--output",
      required = true,
      paramLabel = "FILE",
      description = "Where to write the documents, one per line.")
  Path output;

  @Option(
      names = "--strict",
      description = "Stop with an error (exit 2, no output) at the first refused record.")
  boolean strict;

  @Override
  public Integer call() throws IOException {
    SeqFormat fixed = parseFormat();
    long totalBytes = 0;
    for (Path in : inputs) {
      if (Files.isDirectory(in)) {
        throw new UserError(in + " is a folder: give the files to preprocess");
      }
      if (!Files.isRegularFile(in)) {
        throw new UserError("no such file: " + in);
      }
      totalBytes += Files.size(in);
    }
    PrintStream err = System.err;
    ParseCounts total = ParseCounts.ZERO;
    try (ProgressLine progress =
            new ProgressLine("preprocess", totalBytes, Duration.ofSeconds(5), err);
        AtomicOutput atomic = new AtomicOutput(output)) {
      OutputStream out = new BufferedOutputStream(atomic.stream(), 1 << 20);
      for (Path in : inputs) {
        SeqFormat f = fixed != null ? fixed : RecordSources.sniff(in);
        try (RecordSource src = RecordSources.open(in, f, p -> err.println(p), strict)) {
          long read = 0;
          SeqRecord r;
          while ((r = src.next()) != null) {
            writeDocument(out, r);
            progress.record(src.bytesRead() - read);
            read = src.bytesRead();
          }
          progress.inputBytes(Files.size(in) - read);
          total = total.plus(src.counts());
        }
      }
      out.flush();
      atomic.commit();
      progress.finish();
    }
    spec.commandLine()
        .getOut()
        .printf(
            Locale.ROOT,
            "preprocess: %,d documents written to %s; %,d records without sequence skipped;"
                + " %,d problems%n",
            total.records(),
            output,
            total.skippedNoSequence(),
            total.problems());
    spec.commandLine().getOut().flush();
    return 0;
  }

  private SeqFormat parseFormat() {
    if (format == null) {
      return null;
    }
    return switch (format.toLowerCase(Locale.ROOT)) {
      case "genbank" -> SeqFormat.GENBANK;
      case "fasta" -> SeqFormat.FASTA;
      default ->
          throw new CommandLine.ParameterException(
              spec.commandLine(), "--format must be genbank or fasta, not '" + format + "'");
    };
  }

  /** {@code <tag>SEQUENCE<EOS>\n} without building the document String (sequences are long). */
  private static void writeDocument(OutputStream out, SeqRecord r) throws IOException {
    out.write(("<" + r.moleculeType() + ">").getBytes(StandardCharsets.UTF_8));
    out.write(r.sequence().getBytes(StandardCharsets.UTF_8));
    out.write(EOS_LINE);
  }

  private static final byte[] EOS_LINE = "<EOS>\n".getBytes(StandardCharsets.US_ASCII);
}
