package org.omnibiote.shards;

/** Training or validation documents; the name is the folder under the dataset's. */
public enum Split {
  TRAIN("train"),
  VAL("val");

  private final String folder;

  Split(String folder) {
    this.folder = folder;
  }

  public String folder() {
    return folder;
  }
}
