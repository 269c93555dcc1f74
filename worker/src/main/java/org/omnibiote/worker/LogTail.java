package org.omnibiote.worker;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * The last lines this node logged, kept so that the heartbeat can carry them to the coordinator:
 * when the node dies (kill -9, a crash, the OOM killer) the console still shows what it said last,
 * as Ray's dashboard keeps the logs of dead nodes. Bounded: {@value #KEEP} lines.
 */
final class LogTail extends AppenderBase<ILoggingEvent> {
  static final int KEEP = 200;
  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(ZoneId.systemDefault());
  private static LogTail installed;

  private final Deque<String> lines = new ArrayDeque<>();
  private long written;

  /** The node's tail, attached to the root logger on first use (one per JVM). */
  static synchronized LogTail get() {
    if (installed == null) {
      LogTail t = new LogTail();
      if (LoggerFactory.getILoggerFactory() instanceof LoggerContext lc) {
        t.setContext(lc);
        t.setName("omnibiote-log-tail");
        t.start();
        lc.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).addAppender(t);
      }
      installed = t;
    }
    return installed;
  }

  @Override
  protected synchronized void append(ILoggingEvent e) {
    String line =
        TIME.format(Instant.ofEpochMilli(e.getTimeStamp()))
            + " "
            + e.getLevel()
            + " "
            + shortName(e.getLoggerName())
            + " - "
            + e.getFormattedMessage();
    lines.addLast(line.length() > 500 ? line.substring(0, 500) + "..." : line);
    written++;
    while (lines.size() > KEEP) {
      lines.removeFirst();
    }
  }

  /** The cursor after the last line written so far. */
  synchronized long cursor() {
    return written;
  }

  /** Lines written after {@code cursor} (at most the last {@code max}). */
  synchronized List<String> since(long cursor, int max) {
    long available = Math.min(written - cursor, Math.min(lines.size(), max));
    List<String> all = new ArrayList<>(lines);
    return List.copyOf(all.subList((int) (all.size() - available), all.size()));
  }

  private static String shortName(String logger) {
    int dot = logger.lastIndexOf('.');
    return dot < 0 ? logger : logger.substring(dot + 1);
  }
}
