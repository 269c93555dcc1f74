package org.omnibiote.data;

import java.util.ArrayList;
import java.util.List;
import org.omnibiote.UserError;

/**
 * A data generation a run adopted, and the first global sample drawn with it: samples from {@code
 * firstSample} on are drawn from the corpus grown by generation {@code generation} (and less what
 * it superseded). A run's list of adoptions, with its seed, decides every sample, so a resumed or
 * restarted run that is given the same list draws the same rows.
 */
public record Adoption(long generation, long firstSample) {
  public Adoption {
    if (generation < 1 || firstSample < 0) {
      throw new IllegalArgumentException("bad adoption " + generation + "@" + firstSample);
    }
  }

  @Override
  public String toString() {
    return generation + "@" + firstSample;
  }

  /** {@code "1@0,2@4096"}: the form that travels in messages and checkpoints ("" for none). */
  public static String encode(List<Adoption> adoptions) {
    StringBuilder sb = new StringBuilder();
    for (Adoption a : adoptions) {
      if (sb.length() > 0) {
        sb.append(',');
      }
      sb.append(a);
    }
    return sb.toString();
  }

  /** The list {@link #encode} wrote; generations in increasing order, samples not decreasing. */
  public static List<Adoption> decode(String text) {
    List<Adoption> out = new ArrayList<>();
    if (text == null || text.isBlank()) {
      return out;
    }
    for (String part : text.split(",", -1)) {
      int at = part.indexOf('@');
      try {
        if (at < 0) {
          throw new NumberFormatException("no @");
        }
        Adoption a =
            new Adoption(
                Long.parseLong(part.substring(0, at).trim()),
                Long.parseLong(part.substring(at + 1).trim()));
        if (!out.isEmpty()) {
          Adoption last = out.get(out.size() - 1);
          if (a.generation() <= last.generation() || a.firstSample() < last.firstSample()) {
            throw new NumberFormatException("out of order after " + last);
          }
        }
        out.add(a);
      } catch (IllegalArgumentException e) {
        throw new UserError(
            "bad list of adopted data generations \""
                + text
                + "\" at \""
                + part
                + "\": "
                + e.getMessage());
      }
    }
    return out;
  }
}
