package org.omnibiote.shards;

/** The two corpora the original trainer mixes; the name is the folder under the output. */
public enum Dataset {
  GENBANK("genbank", 0),
  UNIREF100("uniref100", 1);

  private final String folder;
  private final int seedStream;

  Dataset(String folder, int seedStream) {
    this.folder = folder;
    this.seedStream = seedStream;
  }

  public String folder() {
    return folder;
  }

  /** This corpus's number in the seeds of its row order and masks: fixed, runs depend on it. */
  public int seedStream() {
    return seedStream;
  }

  public static Dataset ofFolder(String name) {
    for (Dataset d : values()) {
      if (d.folder.equals(name)) {
        return d;
      }
    }
    throw new IllegalArgumentException("no dataset " + name);
  }
}
