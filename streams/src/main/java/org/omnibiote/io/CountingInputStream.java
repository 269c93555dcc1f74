package org.omnibiote.io;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/** Counts the bytes taken from a file (compressed, when it is gzip), for progress and MB/s. */
public final class CountingInputStream extends FilterInputStream {
  // Read by progress threads while the reading thread advances it.
  private volatile long count;

  public CountingInputStream(InputStream in) {
    super(in);
  }

  public long count() {
    return count;
  }

  @Override
  public int read() throws IOException {
    int b = super.read();
    if (b >= 0) {
      count++;
    }
    return b;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = super.read(b, off, len);
    if (n > 0) {
      count += n;
    }
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    long s = super.skip(n);
    count += s;
    return s;
  }
}
