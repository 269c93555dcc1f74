package org.omnibiote.cli;

import org.omnibiote.UserError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * Bad input is the user's to fix, so it gets one clear line and exit code 2; anything else is our
 * bug and keeps its stack trace (in the log) so it can be reported.
 */
final class UserErrors implements CommandLine.IExecutionExceptionHandler {
  private static final Logger log = LoggerFactory.getLogger(UserErrors.class);

  @Override
  public int handleExecutionException(
      Exception ex, CommandLine cmd, CommandLine.ParseResult parseResult) {
    Throwable cause = ex;
    while (cause != null && !(cause instanceof UserError)) {
      cause = cause.getCause();
    }
    if (cause != null) {
      cmd.getErr().println(cmd.getColorScheme().errorText("error: " + cause.getMessage()));
      return 2;
    }
    log.error("internal error in '{}'", cmd.getCommandName(), ex);
    return 1;
  }
}
