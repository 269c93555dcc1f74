#!/usr/bin/env bash
# build.sh [--gpu] [--tag TAG] [--base IMAGE]: builds the OmniBioTE image with podman (or
# CONTAINER_ENGINE=docker) from deploy/image/Containerfile.
#   CPU (default): tag omnibiote:latest on the Debian base of make-base.sh, made first if missing.
#   --gpu: tag omnibiote:gpu; give --base an image with Java 17 and CUDA 13.1/cuDNN 9/NCCL 2, and
#          build the distribution with the GPU natives first: mvn -Pgpu -DskipTests package.
# The distribution must be built first (mvn -DskipTests package, or any bin/omnibiote command).
# Extra engine options (e.g. --runtime runc) go in OMNIBIOTE_BUILD_OPTS.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
engine="${CONTAINER_ENGINE:-podman}"
variant=cpu tag="" base=""
while [ $# -gt 0 ]; do
  case "$1" in
    --gpu) variant=gpu ;;
    --tag) tag="$2"; shift ;;
    --base) base="$2"; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
dist="$root/cli/target/omnibiote"
if ! ls "$dist"/lib/omnibiote-cli-*.jar >/dev/null 2>&1; then
  echo "build.sh: no distribution in $dist: run mvn -DskipTests package$([ $variant = gpu ] && echo ' -Pgpu') first" >&2
  exit 2
fi
gpu_natives=$(ls "$dist"/lib | grep -c -- '-linux-x86_64-gpu\.jar$' || true)
if [ "$variant" = gpu ] && [ "$gpu_natives" -eq 0 ]; then
  echo "build.sh: --gpu but $dist has the CPU natives: build it with mvn -Pgpu -DskipTests package" >&2
  exit 2
fi
if [ "$variant" = cpu ] && [ "$gpu_natives" -gt 0 ]; then
  echo "build.sh: $dist has the GPU natives (-Pgpu): give --gpu, or rebuild without -Pgpu" >&2
  exit 2
fi
if [ -z "$base" ]; then
  if [ "$variant" = gpu ]; then
    echo "build.sh: --gpu needs --base IMAGE (Java 17 + CUDA 13.1, cuDNN 9, NCCL 2; see Containerfile)" >&2
    exit 2
  fi
  base=localhost/omnibiote-base:bookworm-jre17
  "$engine" image exists "$base" 2>/dev/null || "$root/deploy/image/make-base.sh" "$base" >/dev/null
fi
tag="${tag:-omnibiote:$([ $variant = gpu ] && echo gpu || echo latest)}"
# A small context: the launcher, the profiles and the distribution (the class-data archive and
# build stamps of this machine excluded; the image makes its own archive).
ctx="$(mktemp -d /var/tmp/omnibiote-image.XXXXXX)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/bin" "$ctx/conf" "$ctx/dist"
cp "$root/bin/omnibiote" "$ctx/bin/"
cp -r "$root/conf/." "$ctx/conf/"
cp -r "$dist/lib" "$ctx/dist/"
touch "$ctx/dist/.built"   # bin/omnibiote: a built distribution (there are no sources to check)
# shellcheck disable=SC2086
"$engine" build ${OMNIBIOTE_BUILD_OPTS:-} -f "$root/deploy/image/Containerfile" \
  --build-arg BASE="$base" --build-arg VARIANT="$variant" -t "$tag" "$ctx" >&2
echo "$tag"
