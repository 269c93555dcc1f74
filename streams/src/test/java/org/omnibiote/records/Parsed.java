package org.omnibiote.records;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.omnibiote.sources.RecordSources;

/** Everything our parser made of one file: records, problems and counts. */
public record Parsed(List<SeqRecord> records, List<Problem> problems, ParseCounts counts) {

  public static Parsed of(Path file, SeqFormat format) throws Exception {
    List<Problem> problems = new ArrayList<>();
    List<SeqRecord> records = new ArrayList<>();
    try (RecordSource src = RecordSources.open(file, format, problems::add, false)) {
      SeqRecord r;
      while ((r = src.next()) != null) {
        records.add(r);
      }
      return new Parsed(records, problems, src.counts());
    }
  }

  public List<String> documents() {
    return records.stream().map(SeqRecord::document).toList();
  }

  public List<String> ids() {
    return records.stream().map(SeqRecord::id).toList();
  }
}
