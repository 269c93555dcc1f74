package org.omnibiote.tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A plain BPE trainer for tests: recounts every pair before every merge, straight from the rules of
 * spm's BPE trainer, so the incremental bookkeeping of {@link BpeMergeLearner} can be checked
 * against it. Only for alphabets of one Unicode script plus the whitespace mark.
 */
final class NaiveBpe {
  private NaiveBpe() {}

  static List<String> merges(
      List<String> documents, List<String> metaPieces, int maxLength, int count) {
    // Words: spaces normalised to the whitespace mark (with the dummy prefix), then meta
    // pieces replaced by a tab that no piece may contain, then split before each mark.
    Map<String, Long> wordCounts = new LinkedHashMap<>();
    List<String> longestFirst = new ArrayList<>(metaPieces);
    longestFirst.sort((a, b) -> b.length() - a.length());
    for (String d : documents) {
      String text = "\u2581" + d.trim().replaceAll(" +", "\u2581");
      StringBuilder sb = new StringBuilder();
      outer:
      for (int i = 0; i < text.length(); ) {
        for (String m : longestFirst) {
          if (text.startsWith(m, i)) {
            sb.append('\t');
            i += m.length();
            continue outer;
          }
        }
        sb.append(text.charAt(i++));
      }
      for (String w : sb.toString().split("(?=\u2581)", -1)) {
        wordCounts.merge(w, 1L, Long::sum);
      }
    }
    List<List<String>> words = new ArrayList<>();
    List<Long> weights = new ArrayList<>();
    wordCounts.forEach(
        (w, c) -> {
          List<String> symbols = new ArrayList<>();
          w.codePoints().forEach(cp -> symbols.add(new String(Character.toChars(cp))));
          words.add(symbols);
          weights.add(c);
        });

    List<String> result = new ArrayList<>();
    Set<String> pieces = new HashSet<>();
    Set<List<String>> dropped = new HashSet<>();
    while (result.size() < count) {
      Map<List<String>, Long> pairCounts = new HashMap<>();
      for (int w = 0; w < words.size(); w++) {
        List<String> s = words.get(w);
        for (int i = 0; i + 1 < s.size(); i++) {
          String a = s.get(i);
          String b = s.get(i + 1);
          if (a.codePointCount(0, a.length()) + b.codePointCount(0, b.length()) > maxLength
              || b.startsWith("\u2581")
              || a.contains("\t")
              || b.contains("\t")) {
            continue;
          }
          pairCounts.merge(List.of(a, b), weights.get(w), Long::sum);
          if (a.equals(b) && i + 2 < s.size() && s.get(i + 2).equals(a)) {
            i++; // "AAA" holds one "AA" that a merge can take
          }
        }
      }
      List<String> best = null;
      long bestCount = 0;
      for (Map.Entry<List<String>, Long> e : pairCounts.entrySet()) {
        if (dropped.contains(e.getKey())) {
          continue;
        }
        if (best == null || better(e.getKey(), e.getValue(), best, bestCount)) {
          best = e.getKey();
          bestCount = e.getValue();
        }
      }
      if (best == null) {
        break;
      }
      String merged = best.get(0) + best.get(1);
      if (!pieces.add(merged)) {
        dropped.add(best);
        continue;
      }
      result.add(merged);
      dropped.add(best);
      for (List<String> s : words) {
        for (int i = 0; i + 1 < s.size(); i++) {
          if (s.get(i).equals(best.get(0)) && s.get(i + 1).equals(best.get(1))) {
            s.set(i, merged);
            s.remove(i + 1);
          }
        }
      }
    }
    return result;
  }

  private static boolean better(List<String> x, long cx, List<String> y, long cy) {
    if (cx != cy) {
      return cx > cy;
    }
    String sx = x.get(0) + x.get(1);
    String sy = y.get(0) + y.get(1);
    int lx = sx.codePointCount(0, sx.length());
    int ly = sy.codePointCount(0, sy.length());
    if (lx != ly) {
      return lx < ly;
    }
    return sx.compareTo(sy) < 0;
  }
}
