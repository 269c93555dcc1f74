package org.omnibiote.data;

import java.util.List;
import java.util.Locale;
import org.omnibiote.UserError;
import org.omnibiote.shards.Dataset;

/**
 * The original's {@code --train_type}: which datasets the rows come from and in what share. The
 * genbank share is the exact fraction {@code genbankNum / genbankDen}, so that which dataset a
 * sample comes from is integer arithmetic (see {@link SampleMix}).
 */
public enum TrainType {
  /** uniref100 only. */
  PROTEIN("protein", 0, 1),
  /** genbank only. */
  NUCLEOTIDE("nucleotide", 1, 1),
  /** 0.8 genbank / 0.2 uniref100. */
  MIXED("mixed", 4, 5),
  /** 0.5 genbank / 0.5 uniref100. */
  HALFNHALF("halfnhalf", 1, 2);

  private final String flag;
  private final long genbankNum;
  private final long genbankDen;

  TrainType(String flag, long genbankNum, long genbankDen) {
    this.flag = flag;
    this.genbankNum = genbankNum;
    this.genbankDen = genbankDen;
  }

  /** "protein" | "nucleotide" | "mixed" | "halfnhalf", as the original's flag. */
  public static TrainType parse(String flag) {
    for (TrainType t : values()) {
      if (t.flag.equals(flag)) {
        return t;
      }
    }
    throw new UserError(
        "--train_type " + flag + ": expected one of protein, nucleotide, mixed, halfnhalf");
  }

  /** The value of {@code --train_type}. */
  public String flag() {
    return flag;
  }

  long genbankNum() {
    return genbankNum;
  }

  long genbankDen() {
    return genbankDen;
  }

  /** The datasets this type trains on, genbank first. */
  public List<Dataset> datasets() {
    if (genbankNum == 0) {
      return List.of(Dataset.UNIREF100);
    }
    if (genbankNum == genbankDen) {
      return List.of(Dataset.GENBANK);
    }
    return List.of(Dataset.GENBANK, Dataset.UNIREF100);
  }

  /** E.g. "mixed (0.8 genbank / 0.2 uniref100)" or "protein (uniref100 only)". */
  public String describe() {
    if (datasets().size() == 1) {
      return flag + " (" + datasets().get(0).folder() + " only)";
    }
    double g = (double) genbankNum / genbankDen;
    return String.format(Locale.ROOT, "%s (%.1f genbank / %.1f uniref100)", flag, g, 1 - g);
  }
}
