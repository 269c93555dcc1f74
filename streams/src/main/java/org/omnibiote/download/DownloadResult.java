package org.omnibiote.download;

import java.nio.file.Path;

/**
 * One finished file.
 *
 * @param file where it now is (the final name, never the {@code .part})
 * @param size its size in bytes
 * @param transferred bytes received over the network for it in this run (less than {@code size}
 *     when a {@code .part} was continued, 0 when skipped)
 * @param skipped true when the file was already complete and nothing was fetched
 */
public record DownloadResult(Path file, long size, long transferred, boolean skipped) {}
