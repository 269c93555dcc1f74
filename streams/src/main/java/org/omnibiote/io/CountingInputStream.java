package org.omnibiote.io;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.atomic.AtomicLong;

/** Counts the bytes taken from a file (compressed, when it is gzip), for progress and MB/s. */
public final class CountingInputStream extends FilterInputStream {
  // Read by progress threads while the reading thread advances it.
  private final AtomicLong count = new AtomicLong();

  public CountingInputStream(InputStream in) {
    super(in);
  }

  public long count() {
    return count.get();
  }

  @Override
  public int read() throws IOException {
    int b = super.read();
    if (b >= 0) {
      count.incrementAndGet();
    }
    return b;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n = super.read(b, off, len);
    if (n > 0) {
      count.addAndGet(n);
    }
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    long s = super.skip(n);
    count.addAndGet(s);
    return s;
  }
}
