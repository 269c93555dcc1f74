package org.omnibiote.download;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * How hard the downloader tries and how long it waits; read from {@code omnibiote.download} (see
 * reference.conf for what each value means).
 *
 * @param retries how many failed attempts in a row (without any new bytes) are retried
 * @param backoffBase wait before the first retry; doubled for each further failure
 * @param backoffMax the longest wait between attempts
 * @param connectTimeout limit for opening a connection
 * @param responseTimeout limit for the response headers to arrive after a request
 * @param readTimeout limit for a response body to stall without delivering a byte
 * @param progressMinBytes files at least this big get a progress line on stderr
 * @param progressInterval time between two progress lines
 */
public record DownloadSettings(
    int retries,
    Duration backoffBase,
    Duration backoffMax,
    Duration connectTimeout,
    Duration responseTimeout,
    Duration readTimeout,
    long progressMinBytes,
    Duration progressInterval) {

  public DownloadSettings {
    if (retries < 0) {
      throw new IllegalArgumentException("retries must be >= 0, got " + retries);
    }
  }

  /** Reads the {@code omnibiote.download} block. */
  public static DownloadSettings fromConfig(Config config) {
    Config c = config.getConfig("omnibiote.download");
    return new DownloadSettings(
        c.getInt("retries"),
        c.getDuration("backoff-base"),
        c.getDuration("backoff-max"),
        c.getDuration("connect-timeout"),
        c.getDuration("response-timeout"),
        c.getDuration("read-timeout"),
        c.getBytes("progress-min-size"),
        c.getDuration("progress-interval"));
  }

  /**
   * The wait before retry number {@code failures} (1-based): base, 2 x base, 4 x base ... up to
   * max.
   */
  public Duration backoff(int failures) {
    int doublings = Math.min(Math.max(failures - 1, 0), 30);
    Duration d = backoffBase.multipliedBy(1L << doublings);
    return d.compareTo(backoffMax) > 0 ? backoffMax : d;
  }

  public DownloadSettings withRetries(int retries, Duration backoffBase) {
    return new DownloadSettings(
        retries,
        backoffBase,
        backoffMax,
        connectTimeout,
        responseTimeout,
        readTimeout,
        progressMinBytes,
        progressInterval);
  }
}
