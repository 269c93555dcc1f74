package org.omnibiote.download;

import org.omnibiote.UserError;

/**
 * A download that cannot complete: a missing URL (404), a refused request, a size that does not
 * match what the server announced, or a server that kept failing through every retry. It is a
 * {@link UserError} because the fix lies outside our code (the URL, the network, the mirror), so
 * the command line shows the message as one line, without a stack trace.
 */
public final class DownloadError extends UserError {
  public DownloadError(String message) {
    super(message);
  }

  public DownloadError(String message, Throwable cause) {
    super(message, cause);
  }
}
