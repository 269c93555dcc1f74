package org.omnibiote.tokenizer;

import java.util.Arrays;

/**
 * Per-thread scratch arrays of one encode call, reused between calls so that encoding many short
 * documents allocates nothing but the result. Everything is a primitive array indexed by byte
 * position in the normalised text; no per-symbol objects.
 */
final class Workspace {
  /** Arrays above this many bytes of text are not kept after the call (a chromosome). */
  static final int KEEP_LIMIT = 1 << 22;

  byte[] norm = new byte[1024];
  int[] sym = new int[1024];
  int[] pair = new int[1024];
  long[] tree = new long[128];
  final int[] levelOffset = new int[32];
  int[] out = new int[256];
  int outLen;
  private long[] pairCache;

  byte[] prefixSrc;
  int prefixOff;
  int prefixLen;

  /** The per-thread pair cache of a model (one model per thread at a time is typical). */
  long[] pairCache() {
    if (pairCache == null) {
      pairCache = new long[1 << 14];
      Arrays.fill(pairCache, -1L);
    }
    return pairCache;
  }

  void setPrefix(byte[] src, int off, int len) {
    prefixSrc = src;
    prefixOff = off;
    prefixLen = len;
  }

  byte[] norm(int capacity) {
    if (norm.length < capacity) {
      norm = new byte[capacity];
    }
    return norm;
  }

  byte[] growNorm(int capacity) {
    if (norm.length < capacity) {
      norm = Arrays.copyOf(norm, Math.max(capacity, norm.length + (norm.length >> 1)));
    }
    return norm;
  }

  void ensureSymbols(int n) {
    if (sym.length < n) {
      sym = new int[n];
      pair = new int[n];
    }
  }

  long[] tree(int size) {
    if (tree.length < size) {
      tree = new long[size];
    }
    return tree;
  }

  void emit(int id) {
    if (outLen == out.length) {
      out = Arrays.copyOf(out, out.length + (out.length >> 1) + 16);
    }
    out[outLen++] = id;
  }

  /** Drops arrays grown for a very long text so an idle thread does not hold gigabytes. */
  void shrinkIfHuge() {
    if (norm.length > KEEP_LIMIT) {
      norm = new byte[1024];
    }
    if (sym.length > KEEP_LIMIT) {
      sym = new int[1024];
      pair = new int[1024];
    }
    if (tree.length > KEEP_LIMIT) {
      tree = new long[128];
    }
    if (out.length > KEEP_LIMIT) {
      out = new int[256];
    }
  }
}
