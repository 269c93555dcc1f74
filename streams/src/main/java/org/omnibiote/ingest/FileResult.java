package org.omnibiote.ingest;

import java.util.List;
import org.omnibiote.shards.Manifest;

/** One input file finished: its manifest entry and the shards it made. */
record FileResult(Manifest.Source source, List<Manifest.Shard> shards) {}
