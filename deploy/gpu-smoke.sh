#!/usr/bin/env bash
# gpu-smoke.sh: validates the CUDA path on a GPU host. Builds the distribution with the CUDA
# natives (-Pgpu), trains the same tiny model for 20 steps on cuda:0 and on the CPU (same
# seed, same data, dropout 0) and compares the two loss curves step by step; with 2 GPUs or
# more, also with 2 worker JVMs on cuda:0,cuda:1 (NCCL). Prints PASS or FAIL; exits 0 on
# PASS, 1 on FAIL, 2 on a usage or set-up error.
#
# NOT RUN HERE: written on a host without a GPU; only `bash -n` and shellcheck have checked it.
#
# The host needs (the -gpu pytorch jar carries libtorch's CUDA build but no CUDA libraries):
#   - an NVIDIA driver recent enough for CUDA 13.1 (`nvidia-smi` works),
#   - CUDA 13.1 runtime libraries (cudart, cuBLAS, cuFFT, cuRAND, cuSPARSE, cuSOLVER, nvJitLink),
#   - cuDNN 9 and NCCL 2 (for CUDA 13), all on the dynamic linker's path (ldconfig or
#     LD_LIBRARY_PATH), e.g. an nvidia/cuda:13.1-cudnn-devel image plus libnccl2,
#   - Java 17, Maven 3.8+ with access to the package registry (the -gpu jar is 437 MB),
#   - an ingested shard folder (manifest.json, genbank/ and uniref100/ train and val shards),
#     e.g. made by `bin/omnibiote quickstart` or `bin/omnibiote ingest`.
#
# Usage: deploy/gpu-smoke.sh BASE_DIR [OUT_DIR]
#   OUT_DIR (default: a new temp folder) gets cuda/ and cpu/ run folders and the logs.
#
# Tolerance, and why: both runs are float32 with the same weights, data and masks (the seed
# fixes the model init, the data order and the masks, all drawn on the host; dropout 0, so
# no GPU random numbers are used). TF32 is switched off for every CUDA library with
# NVIDIA_TF32_OVERRIDE=0: with it, cuBLAS rounds matmul inputs to a 10-bit mantissa (about
# 1e-3 relative error per product), which alone would exceed the bounds below. What remains
# is summation order: cuBLAS's split-K and tiling, SDPA's fused CUDA kernels against the CPU
# kernels, parallel reductions in LayerNorm, softmax and cross-entropy; each about 1e-6
# relative in float32. So:
#   - step 1 (same weights, no update yet): |loss_cuda - loss_cpu| <= 1e-4 * |loss_cpu|;
#   - every step of 20: <= 2e-3 * |loss_cpu|. AdamW's first updates are close to
#     lr * sign(gradient), so a gradient entry that is near zero can take the other sign on
#     the other device and move its weight by a full step; such entries are few and their
#     effect on the loss stays well under 1e-3 over 20 steps of this tiny model, while a real
#     fault (wrong mask, wrong device copy, a broken kernel) moves it by far more.
# Override with SMOKE_TOL_FIRST and SMOKE_TOL_ALL (relative), e.g. to probe a fault.
set -euo pipefail

usage() {
  echo "usage: $0 BASE_DIR [OUT_DIR]" >&2
  exit 2
}
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  usage
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base_dir="$(cd "$1" && pwd)" || { echo "gpu-smoke: no such folder: $1" >&2; exit 2; }
[ -f "$base_dir/manifest.json" ] || { echo "gpu-smoke: $base_dir has no manifest.json (not an ingest output)" >&2; exit 2; }
out="${2:-$(mktemp -d -t omnibiote-gpu-smoke.XXXXXX)}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

steps=20
batch=8
ctx=128
tol_first="${SMOKE_TOL_FIRST:-1e-4}"
tol_all="${SMOKE_TOL_ALL:-2e-3}"

if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-smoke: nvidia-smi finds no GPU (is the NVIDIA driver installed?)" >&2
  exit 2
fi

echo "gpu-smoke: building with -Pgpu (log: $out/build.log) ..." >&2
if ! (cd "$root" && mvn -B -Pgpu -DskipTests package >"$out/build.log" 2>&1); then
  tail -n 40 "$out/build.log" >&2
  echo "gpu-smoke: the build failed (see $out/build.log)" >&2
  exit 2
fi
dist="$root/cli/target/omnibiote"
compgen -G "$dist/lib/pytorch-*-linux-x86_64-gpu.jar" >/dev/null ||
  { echo "gpu-smoke: $dist/lib has no -gpu pytorch jar: the gpu profile did not apply" >&2; exit 2; }
# Mark the distribution fresh, or bin/omnibiote would rebuild it without the gpu profile.
touch "$dist/.built"

train() { # DEVICES NAME MINI_BATCH [more train flags]
  OMNIBIOTE_CDS=off NVIDIA_TF32_OVERRIDE=0 "$root/bin/omnibiote" train \
    --base_dir "$base_dir" --devices "$1" --seed 1234 \
    --n_layer 2 --n_embd 128 --n_head 4 --ctx_len "$ctx" \
    --batch_size "$batch" --mini_batch_size "$3" \
    --token_budget "$((steps * batch * ctx))" --dropout 0 \
    --test_freq 1e12 --save_freq 1e12 \
    --save_name "$out/$2/omnibiota" "${@:4}" >"$out/$2.log" 2>&1 ||
    { tail -n 40 "$out/$2.log" >&2; echo "gpu-smoke: training on $1 failed (see $out/$2.log)" >&2; exit 2; }
}

# "step loss" per step line of metrics.jsonl (lines without "loss", e.g. validation, skipped).
losses() {
  sed -n 's/.*"step":\([0-9][0-9]*\).*"loss":\([-+0-9.eE]*\)[,}].*/\1 \2/p' "$1"
}

echo "gpu-smoke: $steps steps on cuda:0 ..." >&2
train cuda:0 cuda "$batch"
echo "gpu-smoke: the same $steps steps on the CPU ..." >&2
train cpu cpu "$batch"

compare() { # REFERENCE OTHER LABEL: per-step relative loss differences; exit 1 over tolerance
  losses "$1" | sort -k1,1 >"$out/ref.loss"
  losses "$2" | sort -k1,1 >"$out/other.loss"
  # join wants its inputs sorted as text.
  join "$out/ref.loss" "$out/other.loss" | sort -n | awk \
    -v steps="$steps" -v tol_first="$tol_first" -v tol_all="$tol_all" -v label="$3" '
    function abs(v) { return v < 0 ? -v : v }
    {
      n++
      rel = abs($3 - $2) / (abs($2) > 0 ? abs($2) : 1)
      bound = ($1 == 1) ? tol_first : tol_all
      flag = rel <= bound ? "" : "  <-- over " bound
      if (rel > bound) bad++
      if (rel > worst) worst = rel
      printf "step %3d  cpu %.6f  %s %.6f  rel diff %.2e%s\n", $1, $2, label, $3, rel, flag
    }
    END {
      if (n != steps) { printf "FAIL (%s): %d steps in both runs, expected %d\n", label, n, steps; exit 1 }
      if (bad > 0) { printf "FAIL (%s): %d of %d steps over tolerance (worst rel diff %.2e)\n", label, bad, n, worst; exit 1 }
      printf "PASS (%s): %d steps, worst rel diff %.2e (step 1 <= %s, all <= %s)\n", label, n, worst, tol_first, tol_all
    }'
}

compare "$out/cpu/metrics.jsonl" "$out/cuda/metrics.jsonl" cuda

# With two GPUs or more: the distributed path (two worker JVMs, NCCL for the gradients, Gloo
# for the small CPU collectives), each worker one micro-batch of half the rows: the global
# masked-token loss is the same sums in another order, so the same tolerance holds.
if [ "$(nvidia-smi -L | wc -l)" -ge 2 ]; then
  echo "gpu-smoke: the same $steps steps with 2 workers on cuda:0,cuda:1 ..." >&2
  train cuda:0,cuda:1 nccl "$((batch / 2))" --workers 2
  compare "$out/cpu/metrics.jsonl" "$out/nccl/metrics.jsonl" nccl
else
  echo "gpu-smoke: one GPU: the 2-worker NCCL run is skipped" >&2
fi
