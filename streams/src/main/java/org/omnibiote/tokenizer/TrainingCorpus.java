package org.omnibiote.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.omnibiote.UserError;

/**
 * The training text as SentencePiece's trainer sees it (trainer_interface.cc, LoadSentences and
 * SplitSentencesByWhitespace, as in spm 0.1.97): documents sampled and filtered, normalised with
 * the dummy prefix, meta pieces replaced by a boundary mark, split into whitespace-led words and
 * counted, and the alphabet chosen by character coverage.
 *
 * <p>Because meta pieces become a boundary rather than a space, a document {@code <DNA>ACGT<EOS>}
 * is the single word {@code ▁|ACGT|}: the dummy prefix cannot merge into the sequence, just as at
 * encoding time, where the tag separates them. (The original OmniBioTE models come from an older
 * spm that blanked meta pieces to spaces and learned pieces like {@code ▁AC} that encoding never
 * uses.)
 */
final class TrainingCorpus {
  /** SentencePiece's whitespace mark (the dummy prefix). */
  static final int WS = 0x2581;

  /** SentencePiece's reserved stand-in for characters left out of the alphabet. */
  static final int UNK_CHAR = 0x2585;

  /** What meta pieces become (spm's kUPPBoundaryChar): never in the alphabet, never merged. */
  static final char BOUNDARY = '\t';

  /** Distinct words and how often each occurs. */
  final String[] words;

  final long[] wordCounts;

  /** The alphabet (required characters), most frequent first, ties by code point. */
  final int[] chars;

  final long[] charCounts;
  final Stats stats;

  record Stats(
      long documentsRead,
      long documentsUsed,
      long skippedTooLong,
      long skippedReservedChar,
      long skippedEmpty,
      long bytesUsed,
      long charsDroppedByCoverage) {}

  private TrainingCorpus(
      String[] words, long[] wordCounts, int[] chars, long[] charCounts, Stats stats) {
    this.words = words;
    this.wordCounts = wordCounts;
    this.chars = chars;
    this.charCounts = charCounts;
    this.stats = stats;
  }

  /** Collects documents one at a time, then {@link #build()} the corpus. */
  static final class Loader {
    private final BpeTrainer.Options options;
    private final MetaPieceBlanker blanker;
    private final SplittableRandom random;
    private final List<String> sample = new ArrayList<>();
    private long read;
    private long tooLong;
    private long reserved;
    private long accepted;

    Loader(BpeTrainer.Options options, List<String> metaPieces) {
      this.options = options;
      this.blanker = new MetaPieceBlanker(metaPieces);
      this.random = new SplittableRandom(options.seed());
    }

    long documentsRead() {
      return read;
    }

    /** Offers one document (one input line, without its line terminator). */
    void add(String document) {
      read++;
      if (options.maxSentenceLength() > 0 && utf8Length(document) > options.maxSentenceLength()) {
        tooLong++;
        return;
      }
      if (document.indexOf(UNK_CHAR) >= 0) {
        reserved++;
        return;
      }
      accepted++;
      long limit = options.inputSentenceSize();
      if (limit <= 0 || sample.size() < limit) {
        sample.add(document);
      } else {
        // Reservoir sampling, as spm_train does with shuffle_input_sentence: every accepted
        // document has the same chance to be among the `limit` kept.
        long j = random.nextLong(accepted);
        if (j < limit) {
          sample.set((int) j, document);
        }
      }
    }

    TrainingCorpus build() {
      Map<String, long[]> counts = new HashMap<>();
      long empty = 0;
      long bytes = 0;
      StringBuilder normalized = new StringBuilder();
      for (int d = 0; d < sample.size(); d++) {
        String document = sample.get(d);
        sample.set(d, null); // let the raw text go as soon as its words are counted
        bytes += utf8Length(document);
        normalize(document, normalized);
        blanker.blank(normalized);
        if (normalized.length() == 0) {
          empty++;
          continue;
        }
        int start = 0;
        for (int i = 1; i <= normalized.length(); i++) {
          if (i == normalized.length() || normalized.charAt(i) == WS) {
            counts.computeIfAbsent(normalized.substring(start, i), k -> new long[1])[0]++;
            start = i;
          }
        }
      }
      long used = sample.size() - empty;
      sample.clear();
      if (counts.isEmpty()) {
        throw new UserError(
            "no usable documents: read "
                + read
                + ", of which "
                + tooLong
                + " were longer than the maximum document length and "
                + empty
                + " were empty once the special pieces were removed");
      }

      // Words sorted by count (descending), then text, like spm's Sorted(): a deterministic order.
      String[] words = counts.keySet().toArray(new String[0]);
      Arrays.sort(
          words,
          Comparator.<String>comparingLong(w -> -counts.get(w)[0])
              .thenComparing(TrainingCorpus::compareCodePoints));
      long[] wordCounts = new long[words.length];
      Map<Integer, long[]> charCount = new HashMap<>();
      long allChars = 0;
      for (int i = 0; i < words.length; i++) {
        wordCounts[i] = counts.get(words[i])[0];
        long weight = wordCounts[i];
        String w = words[i];
        for (int k = 0; k < w.length(); ) {
          int c = w.codePointAt(k);
          k += Character.charCount(c);
          charCount.computeIfAbsent(c, x -> new long[1])[0] += weight;
          allChars += weight;
        }
      }

      // The alphabet: most frequent characters until character_coverage of all is reached.
      Integer[] byCount = charCount.keySet().toArray(new Integer[0]);
      Arrays.sort(
          byCount,
          Comparator.<Integer>comparingLong(c -> -charCount.get(c)[0]).thenComparing(c -> c));
      List<Integer> required = new ArrayList<>();
      long covered = 0;
      for (Integer c : byCount) {
        if ((double) covered / allChars >= options.characterCoverage()) {
          break;
        }
        covered += charCount.get(c)[0];
        if (c != BOUNDARY) {
          required.add(c);
        }
      }
      int[] chars = required.stream().mapToInt(Integer::intValue).toArray();
      long[] charCounts = required.stream().mapToLong(c -> charCount.get(c)[0]).toArray();
      long dropped = 0;
      for (Integer c : byCount) {
        if (!required.contains(c) && c != BOUNDARY) {
          dropped += charCount.get(c)[0];
        }
      }
      Stats stats = new Stats(read, used, tooLong, reserved, empty, bytes, dropped);
      return new TrainingCorpus(words, wordCounts, chars, charCounts, stats);
    }

    /**
     * SentencePiece's normaliser with the identity rule: trim and collapse spaces, add the dummy
     * prefix and turn every space into the whitespace mark.
     */
    private static void normalize(String text, StringBuilder out) {
      out.setLength(0);
      boolean pendingSpace = true; // the dummy prefix
      for (int i = 0; i < text.length(); i++) {
        char c = text.charAt(i);
        if (c == ' ') {
          pendingSpace = true;
          continue;
        }
        if (pendingSpace) {
          out.append((char) WS);
          pendingSpace = false;
        }
        out.append(c);
      }
    }
  }

  static int utf8Length(String s) {
    int n = s.length();
    int ascii = 0;
    while (ascii < n && s.charAt(ascii) < 0x80) {
      ascii++;
    }
    return ascii == n ? n : ascii + s.substring(ascii).getBytes(StandardCharsets.UTF_8).length;
  }

  /** Code point order, which is the byte order of UTF-8 that SentencePiece compares in. */
  static int compareCodePoints(CharSequence a, CharSequence b) {
    int n = Math.min(a.length(), b.length());
    for (int i = 0; i < n; i++) {
      char x = a.charAt(i);
      char y = b.charAt(i);
      if (x != y) {
        return codePointOrder(x) - codePointOrder(y);
      }
    }
    return a.length() - b.length();
  }

  /** Shifts UTF-16 units so that surrogates sort above U+FFFF's BMP neighbours. */
  static int codePointOrder(char c) {
    if (c >= 0xD800) {
      return c >= 0xE000 ? c - 0x800 : c + 0x2000;
    }
    return c;
  }

  /**
   * Replaces every meta piece (unk, control and user-defined symbols), longest match first, with
   * the boundary mark, so that their characters neither enter the alphabet nor get merged: spm's
   * meta_pieces_matcher.GlobalReplace(normalized, kUPPBoundaryStr).
   */
  static final class MetaPieceBlanker {
    private final Map<Character, String[]> byFirstChar = new HashMap<>();

    MetaPieceBlanker(List<String> pieces) {
      Map<Character, List<String>> groups = new HashMap<>();
      for (String p : pieces) {
        if (!p.isEmpty()) {
          groups.computeIfAbsent(p.charAt(0), k -> new ArrayList<>()).add(p);
        }
      }
      groups.forEach(
          (c, list) -> {
            list.sort(Comparator.comparingInt(String::length).reversed());
            byFirstChar.put(c, list.toArray(new String[0]));
          });
    }

    /** Rewrites {@code text} in place. */
    void blank(StringBuilder text) {
      int out = 0;
      for (int i = 0; i < text.length(); ) {
        String[] candidates = byFirstChar.get(text.charAt(i));
        String match = null;
        if (candidates != null) {
          for (String p : candidates) {
            if (startsWith(text, p, i)) {
              match = p;
              break;
            }
          }
        }
        if (match == null) {
          text.setCharAt(out++, text.charAt(i++));
        } else {
          text.setCharAt(out++, BOUNDARY);
          i += match.length();
        }
      }
      text.setLength(out);
    }

    private static boolean startsWith(CharSequence text, String p, int at) {
      if (at + p.length() > text.length()) {
        return false;
      }
      for (int k = 0; k < p.length(); k++) {
        if (text.charAt(at + k) != p.charAt(k)) {
          return false;
        }
      }
      return true;
    }
  }
}
