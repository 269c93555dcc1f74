package org.omnibiote.tokenizer;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.omnibiote.UserError;
import org.omnibiote.tokenizer.proto.SentencepieceModel.ModelProto;
import org.omnibiote.tokenizer.proto.SentencepieceModel.ModelProto.SentencePiece;
import org.omnibiote.tokenizer.proto.SentencepieceModel.NormalizerSpec;
import org.omnibiote.tokenizer.proto.SentencepieceModel.TrainerSpec;

/**
 * A SentencePiece BPE model (.model file) that encodes and decodes exactly as SentencePiece 0.1.97
 * (spm_encode / spm_decode) does. Immutable and thread-safe; each thread reuses its own scratch
 * arrays.
 */
public final class SentencePieceTokenizer implements Tokenizer {
  private static final String SPACE = "\u2581";

  private final Path file;
  private final String sha256;
  private final String[] pieces;
  private final SentencePiece.Type[] types;
  private final Map<String, Integer> idByPiece;
  private final int unkId;
  private final String unkSurface;
  private final int[] userDefinedIds;
  private final boolean stripLeadingSpaceOnDecode;
  private final SpmNormalizer normalizer;
  private final BpeMerger merger;

  /** Text of each extended symbol id that is not a piece id (characters), for pieces output. */
  private final String[] extraSymbolText;

  private final ThreadLocal<Workspace> workspaces = ThreadLocal.withInitial(Workspace::new);

  private SentencePieceTokenizer(Path file, byte[] bytes, ModelProto model) {
    this.file = file;
    this.sha256 = sha256Hex(bytes);
    int v = model.getPiecesCount();
    pieces = new String[v];
    types = new SentencePiece.Type[v];
    idByPiece = new HashMap<>(v * 2);
    Map<String, Integer> mergeable = new HashMap<>(v * 2);
    Map<String, Integer> reserved = new HashMap<>();
    List<byte[]> userPieces = new ArrayList<>();
    List<Integer> userIds = new ArrayList<>();
    int unk = -1;
    for (int i = 0; i < v; i++) {
      ModelProto.SentencePiece p = model.getPieces(i);
      String piece = p.getPiece();
      SentencePiece.Type type = p.getType();
      pieces[i] = piece;
      types[i] = type;
      if (piece.isEmpty()) {
        throw new UserError(file + ": piece " + i + " is empty; not a usable SentencePiece model");
      }
      boolean normal =
          type == SentencePiece.Type.NORMAL
              || type == SentencePiece.Type.USER_DEFINED
              || type == SentencePiece.Type.UNUSED;
      if ((normal ? mergeable : reserved).putIfAbsent(piece, i) != null) {
        throw new UserError(file + ": piece '" + piece + "' (id " + i + ") appears twice");
      }
      idByPiece.putIfAbsent(piece, i);
      if (type == SentencePiece.Type.USER_DEFINED) {
        userPieces.add(piece.getBytes(StandardCharsets.UTF_8));
        userIds.add(i);
      }
      if (type == SentencePiece.Type.UNKNOWN) {
        if (unk >= 0) {
          throw new UserError(file + ": more than one <unk> piece (ids " + unk + " and " + i + ")");
        }
        unk = i;
      }
      if (type == SentencePiece.Type.BYTE) {
        throw new UserError(file + ": byte-fallback pieces (id " + i + ") are not supported");
      }
    }
    if (unk < 0) {
      throw new UserError(file + ": the model has no <unk> piece");
    }
    this.unkId = unk;
    TrainerSpec trainer = model.getTrainerSpec();
    this.unkSurface = trainer.getUnkSurface();
    this.userDefinedIds = userIds.stream().mapToInt(Integer::intValue).toArray();
    NormalizerSpec ns = model.getNormalizerSpec();
    this.stripLeadingSpaceOnDecode = ns.getAddDummyPrefix() || ns.getRemoveExtraWhitespaces();

    UserSymbols userSymbols = new UserSymbols(userPieces, userIds);
    this.normalizer = charsMap(file, ns, userSymbols);

    // A duplicate normal piece was rejected above, so every normal piece is the one the
    // mergeable map holds for its text: no second look-up needed.
    byte[][] utf8 = new byte[v][];
    boolean[] isMergeable = new boolean[v];
    int mergeableCount = 0;
    for (int i = 0; i < v; i++) {
      utf8[i] = pieces[i].getBytes(StandardCharsets.UTF_8);
      SentencePiece.Type t = types[i];
      isMergeable[i] =
          t == SentencePiece.Type.NORMAL
              || t == SentencePiece.Type.USER_DEFINED
              || t == SentencePiece.Type.UNUSED;
      if (isMergeable[i]) {
        mergeableCount++;
      }
    }

    // Every character a symbol can start as, keyed by its packed UTF-8 bytes. Characters
    // inside pieces that are not pieces themselves still merge into pieces, so they get
    // symbol ids of their own after the piece ids; so do single characters that name a
    // control piece (spm reports that piece's id for them).
    Map<Integer, Integer> charSymbol = new HashMap<>();
    for (int i = 0; i < v; i++) {
      if (isMergeable[i] && Utf8.charLength(utf8[i][0]) == utf8[i].length) {
        charSymbol.put(BpeMerger.charKey(utf8[i], 0, utf8[i].length), i);
      }
    }
    List<byte[]> extraChars = new ArrayList<>();
    List<Integer> extraFinal = new ArrayList<>();
    for (int i = 0; i < v; i++) {
      byte[] b = utf8[i];
      for (int k = 0;
          isMergeable[i] && k < b.length;
          k += Math.min(b.length - k, Utf8.charLength(b[k]))) {
        int len = Math.min(b.length - k, Utf8.charLength(b[k]));
        if (charSymbol.putIfAbsent(BpeMerger.charKey(b, k, len), v + extraChars.size()) == null) {
          extraChars.add(Arrays.copyOfRange(b, k, k + len));
          extraFinal.add(unk);
        }
      }
    }
    for (Map.Entry<String, Integer> r : reserved.entrySet()) {
      byte[] b = r.getKey().getBytes(StandardCharsets.UTF_8);
      if (Utf8.charLength(b[0]) == b.length
          && charSymbol.putIfAbsent(BpeMerger.charKey(b, 0, b.length), v + extraChars.size())
              == null) {
        extraChars.add(b);
        extraFinal.add(r.getValue());
      }
    }
    int frozenBase = v + extraChars.size();
    int unknownBase = frozenBase + userPieces.size();
    int symbols = unknownBase + 4;
    if (symbols >= PairTable.MAX_ID) {
      throw new UserError(file + ": vocabulary too large (" + v + " pieces)");
    }
    this.extraSymbolText =
        extraChars.stream().map(b -> new String(b, StandardCharsets.UTF_8)).toArray(String[]::new);

    int[] symbolLength = new int[symbols];
    int[] finalId = new int[symbols];
    for (int i = 0; i < v; i++) {
      symbolLength[i] = utf8[i].length;
      finalId[i] = i;
    }
    for (int k = 0; k < extraChars.size(); k++) {
      symbolLength[v + k] = extraChars.get(k).length;
      finalId[v + k] = extraFinal.get(k);
    }
    for (int k = 0; k < userPieces.size(); k++) {
      symbolLength[frozenBase + k] = userPieces.get(k).length;
      finalId[frozenBase + k] = userIds.get(k);
    }
    for (int len = 1; len <= 4; len++) {
      symbolLength[unknownBase + len - 1] = len;
      finalId[unknownBase + len - 1] = unk;
    }
    int[] asciiSymbol = new int[128];
    for (int b = 0; b < 128; b++) {
      asciiSymbol[b] = charSymbol.getOrDefault(b, unknownBase);
    }

    // Every way a piece splits into two symbols (at character boundaries) is a merge.
    PieceIndex index = new PieceIndex(utf8, isMergeable);
    // (left, right, merged) triples, flat: no small array per merge.
    IntList merges = new IntList(3 * v);
    for (int i = 0; i < v; i++) {
      byte[] b = utf8[i];
      if (!isMergeable[i]) {
        continue;
      }
      for (int k = Math.min(b.length, Utf8.charLength(b[0]));
          k < b.length;
          k += Math.min(b.length - k, Utf8.charLength(b[k]))) {
        int left = symbolOf(b, 0, k, index, charSymbol);
        int right = left < 0 ? -1 : symbolOf(b, k, b.length - k, index, charSymbol);
        if (right >= 0) {
          merges.add(left);
          merges.add(right);
          merges.add(i);
        }
      }
    }
    int[] rank = new int[v];
    Arrays.fill(rank, Integer.MAX_VALUE);
    // Mergeable ids by descending score (Float.compare order), sorted as primitive keys:
    // high 32 bits an order-preserving image of the score, low 32 bits the id. Order among
    // equal scores does not matter: equal scores share a rank either way.
    float[] score = new float[v];
    long[] keys = new long[mergeableCount];
    int nk = 0;
    for (int i = 0; i < v; i++) {
      score[i] = model.getPieces(i).getScore();
      if (isMergeable[i]) {
        int bits = Float.floatToIntBits(score[i]);
        int sortable = bits ^ ((bits >> 31) & 0x7FFFFFFF);
        keys[nk++] = ((long) ~sortable << 32) | i;
      }
    }
    Arrays.sort(keys);
    int[] pieceOfRank = new int[keys.length];
    int r = -1;
    float last = Float.NaN;
    for (long key : keys) {
      int id = (int) key;
      float s = score[id];
      if (r < 0 || s != last) {
        r++;
        last = s;
        pieceOfRank[r] = id;
      } else {
        pieceOfRank[r] = -1;
      }
      rank[id] = r;
    }
    boolean[] unused = new boolean[v];
    for (int i = 0; i < v; i++) {
      unused[i] = types[i] == SentencePiece.Type.UNUSED;
    }
    int[] m = merges.toArray();
    PairTable pairTable = new PairTable(m.length / 3);
    for (int k = 0; k < m.length; k += 3) {
      pairTable.put(m[k], m[k + 1], m[k + 2]);
    }
    this.merger =
        new BpeMerger(
            pairTable,
            rank,
            pieceOfRank,
            unk,
            symbolLength,
            finalId,
            asciiSymbol,
            charSymbol,
            frozenBase,
            unknownBase,
            userSymbols,
            unused);
  }

  private static int symbolOf(
      byte[] s, int off, int len, PieceIndex index, Map<Integer, Integer> charSymbol) {
    if (Utf8.charLength(s[off]) >= len) {
      return charSymbol.getOrDefault(BpeMerger.charKey(s, off, len), -1);
    }
    return index.get(s, off, len);
  }

  /**
   * Loads a SentencePiece BPE model. Anything else (not a ModelProto, no pieces, another model
   * type, options we do not reproduce) is refused with a {@link UserError} naming the file and the
   * problem.
   */
  public static SentencePieceTokenizer load(Path modelFile) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(modelFile);
    } catch (IOException e) {
      throw new UserError(modelFile + ": cannot read the tokenizer model (" + e + ")", e);
    }
    if (bytes.length == 0) {
      throw new UserError(modelFile + ": the file is empty, not a SentencePiece model");
    }
    ModelProto model;
    try {
      model = ModelProto.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      throw new UserError(
          modelFile
              + ": not a SentencePiece model (cannot be read as a ModelProto: "
              + e.getMessage()
              + ")",
          e);
    }
    if (model.getPiecesCount() == 0) {
      throw new UserError(modelFile + ": not a SentencePiece model (it has no pieces)");
    }
    TrainerSpec trainer = model.getTrainerSpec();
    if (trainer.getModelType() != TrainerSpec.ModelType.BPE) {
      throw new UserError(
          modelFile
              + ": a "
              + trainer.getModelType()
              + " SentencePiece model; only BPE models are supported");
    }
    if (trainer.getTreatWhitespaceAsSuffix()) {
      throw new UserError(modelFile + ": treat_whitespace_as_suffix models are not supported");
    }
    if (trainer.getByteFallback()) {
      throw new UserError(modelFile + ": byte_fallback models are not supported");
    }
    return new SentencePieceTokenizer(modelFile, bytes, model);
  }

  private static SpmNormalizer charsMap(Path file, NormalizerSpec ns, UserSymbols userSymbols) {
    DoubleArray trie = null;
    byte[] replacements = new byte[0];
    ByteString blob = ns.getPrecompiledCharsmap();
    if (!blob.isEmpty()) {
      ByteBuffer buf = blob.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      if (blob.size() <= 4) {
        throw new UserError(file + ": the precompiled charsmap is truncated");
      }
      long trieSize = buf.getInt() & 0xFFFFFFFFL;
      if (trieSize >= blob.size() - 4 + 1 || trieSize % 4 != 0) {
        throw new UserError(
            file + ": the precompiled charsmap is corrupt (trie size " + trieSize + ")");
      }
      int[] units = new int[(int) trieSize / 4];
      for (int i = 0; i < units.length; i++) {
        units[i] = buf.getInt();
      }
      replacements = new byte[buf.remaining()];
      buf.get(replacements);
      trie = new DoubleArray(units);
    }
    return new SpmNormalizer(
        trie,
        replacements,
        userSymbols,
        ns.getAddDummyPrefix(),
        ns.getRemoveExtraWhitespaces(),
        ns.getEscapeWhitespaces());
  }

  private static String sha256Hex(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JVM has no SHA-256", e);
    }
  }

  // ---- encoding -------------------------------------------------------------------------

  @Override
  public int[] encode(CharSequence text) {
    byte[] utf8 = text.toString().getBytes(StandardCharsets.UTF_8);
    return encodeUtf8(utf8, 0, utf8.length);
  }

  /** Ids of the UTF-8 text {@code utf8[off, off+len)} (one line, no newline). */
  public int[] encodeUtf8(byte[] utf8, int off, int len) {
    Workspace ws = workspaces.get();
    try {
      Map<Integer, Long> revMerge = segment(utf8, off, len, ws);
      if (revMerge == null) {
        // SentencePiece reports a run of unknown symbols as one <unk>.
        int[] out = ws.out;
        int k = 0;
        boolean prevUnk = false;
        for (int i = 0; i < ws.outLen; i++) {
          int id = merger.finalId(out[i]);
          boolean unk = id == unkId;
          if (!(unk && prevUnk)) {
            out[k++] = id;
          }
          prevUnk = unk;
        }
        return Arrays.copyOf(out, k);
      }
      IntList ids = new IntList(ws.outLen);
      boolean[] prevUnk = {false};
      for (int i = 0; i < ws.outLen; i++) {
        resegment(
            ws.out[i],
            revMerge,
            s -> {
              int id = merger.finalId(s);
              boolean unk = id == unkId;
              if (!(unk && prevUnk[0])) {
                ids.add(id);
              }
              prevUnk[0] = unk;
            });
      }
      return ids.toArray();
    } finally {
      ws.shrinkIfHuge();
    }
  }

  @Override
  public String[] encodeAsPieces(CharSequence text) {
    byte[] utf8 = text.toString().getBytes(StandardCharsets.UTF_8);
    return encodeUtf8AsPieces(utf8, 0, utf8.length);
  }

  /**
   * Pieces as spm_encode --output_format=piece prints them: unknown text appears as itself, a run
   * of unknown symbols as one piece.
   */
  public String[] encodeUtf8AsPieces(byte[] utf8, int off, int len) {
    Workspace ws = workspaces.get();
    try {
      Map<Integer, Long> revMerge = segment(utf8, off, len, ws);
      List<String> out = new ArrayList<>(ws.outLen);
      int pos = 0;
      int unkStart = -1;
      for (int i = 0; i < ws.outLen; i++) {
        int symbol = ws.out[i];
        int symbolLen = merger.symbolLength(symbol);
        if (merger.finalId(symbol) == unkId) {
          if (unkStart < 0) {
            unkStart = pos;
          }
        } else {
          if (unkStart >= 0) {
            out.add(new String(ws.norm, unkStart, pos - unkStart, StandardCharsets.UTF_8));
            unkStart = -1;
          }
          if (revMerge == null) {
            out.add(symbolText(symbol));
          } else {
            resegment(symbol, revMerge, s -> out.add(symbolText(s)));
          }
        }
        pos += symbolLen;
      }
      if (unkStart >= 0) {
        out.add(new String(ws.norm, unkStart, pos - unkStart, StandardCharsets.UTF_8));
      }
      return out.toArray(new String[0]);
    } finally {
      ws.shrinkIfHuge();
    }
  }

  private Map<Integer, Long> segment(byte[] utf8, int off, int len, Workspace ws) {
    ws.outLen = 0;
    int n = normalizer.normalize(utf8, off, len, ws);
    Map<Integer, Long> revMerge = merger.hasUnusedPieces() ? new HashMap<>() : null;
    merger.segment(ws.norm, n, ws, revMerge);
    return revMerge;
  }

  private String symbolText(int symbol) {
    int id = merger.finalId(symbol);
    if (symbol < pieces.length) {
      return pieces[symbol];
    }
    if (symbol < pieces.length + extraSymbolText.length) {
      return extraSymbolText[symbol - pieces.length];
    }
    return pieces[id];
  }

  /**
   * SentencePiece splits a merged UNUSED piece back into the two symbols it was last proposed from
   * (recursively); every other symbol stands as it is. Emits symbols.
   */
  private void resegment(
      int symbol, Map<Integer, Long> revMerge, java.util.function.IntConsumer out) {
    int id = merger.finalId(symbol);
    if (!merger.isUnused(id) || !revMerge.containsKey(id)) {
      out.accept(symbol);
      return;
    }
    long lr = revMerge.get(id);
    resegment((int) (lr >>> 32), revMerge, out);
    resegment((int) lr, revMerge, out);
  }

  // ---- decoding -------------------------------------------------------------------------

  /** As spm_decode: control pieces vanish, unknowns show as the unk surface, ▁ is a space. */
  @Override
  public String decode(int[] ids) {
    StringBuilder sb = new StringBuilder();
    boolean bosWhitespace = true;
    for (int id : ids) {
      if (id < 0 || id >= pieces.length) {
        throw new IllegalArgumentException(
            "id " + id + " is outside the vocabulary 0.." + (pieces.length - 1));
      }
      SentencePiece.Type type = types[id];
      if (type == SentencePiece.Type.CONTROL) {
        continue;
      }
      String surface;
      if (type == SentencePiece.Type.UNKNOWN) {
        surface = unkSurface;
      } else {
        String piece = pieces[id];
        if (bosWhitespace && stripLeadingSpaceOnDecode && piece.startsWith(SPACE)) {
          piece = piece.substring(SPACE.length());
        }
        surface = piece.replace(SPACE, " ");
      }
      // SentencePiece 0.1.97 strips the leading ▁ until some piece decodes to visible text.
      if (bosWhitespace && !surface.isEmpty()) {
        bosWhitespace = false;
      }
      sb.append(surface);
    }
    return sb.toString();
  }

  // ---- vocabulary -----------------------------------------------------------------------

  @Override
  public int vocabSize() {
    return pieces.length;
  }

  @Override
  public int pieceToId(String piece) {
    Integer id = idByPiece.get(piece);
    return id == null ? -1 : id;
  }

  @Override
  public String idToPiece(int id) {
    return pieces[id];
  }

  public int unkId() {
    return unkId;
  }

  /** The id of the whitespace piece ▁ (banned from training data), or -1 when absent. */
  public int whitespaceId() {
    return pieceToId(SPACE);
  }

  /** Ids of the user-defined pieces (tags such as {@code <DNA>}, {@code <EOS>}). */
  public int[] userDefinedIds() {
    return userDefinedIds.clone();
  }

  /** Hex SHA-256 of the model file's bytes. */
  public String sha256() {
    return sha256;
  }

  public Path file() {
    return file;
  }
}
