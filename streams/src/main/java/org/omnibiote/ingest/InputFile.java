package org.omnibiote.ingest;

import java.nio.file.Path;
import org.omnibiote.records.SeqFormat;
import org.omnibiote.shards.Dataset;

/** One file to ingest, with the identity a re-run compares (absolute path, size, mtime). */
public record InputFile(
    Path path, Dataset dataset, SeqFormat format, long size, long mtimeMillis) {}
