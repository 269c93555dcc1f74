#!/usr/bin/env bash
# make-base.sh [TAG]: the CPU base image, made from Debian packages alone (no image registry):
# debootstrap a minimal Debian bookworm with openjdk-17-jre-headless from the Debian mirror
# that apt uses, then `podman import` the root file system as TAG
# (default localhost/omnibiote-base:bookworm-jre17). Needs root, debootstrap and podman.
set -euo pipefail
tag="${1:-localhost/omnibiote-base:bookworm-jre17}"
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  # The host's own Debian mirror (deb822 or one-line sources), else Debian's.
  mirror="$(grep -h -E '^(URIs:|deb) ' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list \
    2>/dev/null | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ' || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
fi
for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || { echo "make-base.sh: $tool is not installed (apt-get install $tool)" >&2; exit 2; }
done
work="$(mktemp -d /var/tmp/omnibiote-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
echo "make-base.sh: debootstrap bookworm from $mirror (about a minute) ..." >&2
debootstrap --variant=minbase --include=openjdk-17-jre-headless,ca-certificates \
  bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -20 "$work/debootstrap.log" >&2
  echo "make-base.sh: debootstrap failed (log above)" >&2
  exit 1
}
# What an image does not need: apt's lists and caches, docs, man pages.
rm -rf "$work/rootfs"/var/cache/apt/archives/*.deb "$work/rootfs"/var/lib/apt/lists/* \
  "$work/rootfs"/usr/share/doc/* "$work/rootfs"/usr/share/man/*
tar -C "$work/rootfs" -c . | podman import \
  --change 'ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64' \
  --change 'ENV LANG=C.UTF-8' - "$tag" >/dev/null
echo "$tag"
