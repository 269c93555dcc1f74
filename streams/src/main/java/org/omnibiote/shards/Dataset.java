package org.omnibiote.shards;

/** The two corpora the original trainer mixes; the name is the folder under the output. */
public enum Dataset {
  GENBANK("genbank"),
  UNIREF100("uniref100");

  private final String folder;

  Dataset(String folder) {
    this.folder = folder;
  }

  public String folder() {
    return folder;
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
