package org.omnibiote.follow;

import java.net.URI;
import java.nio.file.Path;

/**
 * A file a source folder lists: a URL to fetch or a local path to read in place, with what the
 * folder says about it (size and MD5 when published, -1 / null otherwise) and the release it
 * belongs to (UniRef100's RELEASE.metalink).
 */
public record RemoteFile(
    SourceKind kind, String name, URI url, Path local, long size, String md5, String release) {
  public String origin() {
    return url != null ? url.toString() : local.toString();
  }
}
