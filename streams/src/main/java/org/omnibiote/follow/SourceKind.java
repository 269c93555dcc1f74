package org.omnibiote.follow;

import java.util.regex.Pattern;
import org.omnibiote.shards.Dataset;

/** The folders a follower watches, what their files are called and which dataset they feed. */
public enum SourceKind {
  /** A GenBank release folder: {@code gbDIVn.seq.gz}, a full snapshot every two months. */
  GENBANK_RELEASE(
      "genbank-release", Pattern.compile("gb[a-z]{3}\\d+\\.seq(\\.gz)?"), Dataset.GENBANK),
  /** GenBank's daily-nc folder: {@code ncMMDD.flat.gz}, new and updated records of a day. */
  GENBANK_DAILY("genbank-daily", Pattern.compile("nc\\d{4}\\.flat(\\.gz)?"), Dataset.GENBANK),
  /** A UniRef100 folder named by {@code RELEASE.metalink} (release YYYY_NN, sizes, MD5s). */
  UNIREF100("uniref100-release", Pattern.compile("uniref100.*\\.fasta(\\.gz)?"), Dataset.UNIREF100);

  private final String label;
  private final Pattern names;
  private final Dataset dataset;

  SourceKind(String label, Pattern names, Dataset dataset) {
    this.label = label;
    this.names = names;
    this.dataset = dataset;
  }

  public String label() {
    return label;
  }

  public boolean matches(String fileName) {
    return names.matcher(fileName).matches();
  }

  public Dataset dataset() {
    return dataset;
  }
}
