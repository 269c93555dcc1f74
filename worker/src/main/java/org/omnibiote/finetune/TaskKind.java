package org.omnibiote.finetune;

import java.util.Locale;
import org.omnibiote.UserError;

/** What the head predicts: a class (cross-entropy) or a value (mean squared error). */
public enum TaskKind {
  CLASSIFICATION,
  REGRESSION;

  public String flag() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static TaskKind parse(String flag) {
    for (TaskKind k : values()) {
      if (k.flag().equals(flag)) {
        return k;
      }
    }
    throw new UserError("--task-type: '" + flag + "' is neither classification nor regression");
  }
}
