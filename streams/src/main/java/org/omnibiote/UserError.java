package org.omnibiote;

/**
 * A problem with what the user gave us (a file, a flag, a folder): the message names what and where
 * (file, line, record) and is shown without a stack trace.
 */
public class UserError extends RuntimeException {
  public UserError(String message) {
    super(message);
  }

  public UserError(String message, Throwable cause) {
    super(message, cause);
  }
}
