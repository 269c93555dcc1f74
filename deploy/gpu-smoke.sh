#!/usr/bin/env bash
# gpu-smoke.sh: the checks to run on a GPU host before real training. It trains a tiny model
# with the defaults that matter (dropout 0.1; fp32 and bf16; activation checkpointing with
# --checkpoint_freq), encodes with every pooling, compares cuda:0 with the CPU, a 2-GPU NCCL
# run with a 2-worker Gloo CPU run, and kills one worker of a 2-GPU run to see the run go on.
# It prints one PASS/FAIL line per check and a PERF line (tokens/s, MFU) per training config;
# exits 0 when every check passed, 1 when one failed, 2 on a usage or set-up error.
#
# What the host needs (driver, CUDA 13.1, cuDNN 9, NCCL 2) and how to check it: docs/gpu.md
# and `bin/omnibiote doctor --devices cuda:0`, which this script runs first.
#
# NOT RUN ON A GPU: written on a host without one. Its plumbing (the runs, the parsing of
# metrics.jsonl and of the .npy files, the PASS/FAIL lines, the killed worker) runs on any host
# with SMOKE_DEVICE=cpu, where every check uses the CPU instead (see "CPU mode" below).
#
# Usage: deploy/gpu-smoke.sh [--no-build] BASE_DIR [OUT_DIR]
#   BASE_DIR  an ingest output (manifest.json, genbank/ and uniref100/ shards), e.g. the
#             shards/ folder of `bin/omnibiote quickstart`.
#   OUT_DIR   run folders and logs (default: a new temp folder).
#   --no-build  use the distribution as built (default: build it with -Pgpu first; with
#             SMOKE_DEVICE=cpu, bin/omnibiote builds it when stale).
#
# Environment:
#   SMOKE_DEVICE=cuda|cpu  cuda (default): the checks on the GPUs. cpu: the same checks on the
#             CPU, to check this script anywhere: cuda:0 becomes cpu, the 2-GPU NCCL run a
#             2-worker Gloo run compared with one process, and the cuda-vs-cpu comparisons
#             are skipped (SKIP lines).
#   SMOKE_STEPS (20)       steps of each single-device config.
#   SMOKE_DIST_STEPS (300) steps of the 2-device runs (long enough to kill a worker midway).
#   SMOKE_TOL_FIRST (1e-4), SMOKE_TOL_ALL (2e-3)  relative loss tolerance across devices, at
#             step 1 and at every step; SMOKE_TOL_SAME (1e-3 on cuda, 1e-5 on cpu) the same
#             device with and without checkpointing or a kill; SMOKE_TOL_BF16 (0.05) bf16
#             against fp32 over the last 5 steps.
#
# Tolerances, and why: runs compared step by step share weights, data and masks (the seed fixes
# the model init, the data order and the masks, all drawn on the host) and use dropout 0 where
# the devices differ (dropout's keep-masks come from the device's own generator). TF32 is off
# for every CUDA library (NVIDIA_TF32_OVERRIDE=0): with it cuBLAS rounds matmul inputs to a
# 10-bit mantissa (about 1e-3 per product), which alone would exceed the bounds. What remains
# is summation order (cuBLAS's split-K and tiling, SDPA's fused kernels, parallel reductions),
# about 1e-6 relative in float32: step 1 (same weights, no update yet) within 1e-4; every step
# within 2e-3, since AdamW's first updates are close to lr * sign(gradient) and a gradient entry
# near zero can take the other sign on the other device, a full step for that weight; a real
# fault (wrong mask, wrong device copy, a broken kernel) moves the loss by far more. On one
# device, checkpointing replays the same masks and gives the same gradients (bit-identical on
# the CPU); GPU attention backward sums with atomics, hence 1e-3 there. bf16 rounds to 8 bits
# of mantissa: its loss follows fp32's within a few percent, not step for step.
set -euo pipefail

usage() {
  echo "usage: $0 [--no-build] BASE_DIR [OUT_DIR]" >&2
  exit 2
}
build=1
if [ "${1:-}" = "--no-build" ]; then
  build=0
  shift
fi
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  usage
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -d "$1" ] || { echo "gpu-smoke: no such folder: $1" >&2; exit 2; }
base_dir="$(cd "$1" && pwd)"
[ -f "$base_dir/manifest.json" ] || { echo "gpu-smoke: $base_dir has no manifest.json (not an ingest output)" >&2; exit 2; }
out="${2:-$(mktemp -d -t omnibiote-gpu-smoke.XXXXXX)}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

mode="${SMOKE_DEVICE:-cuda}"
steps="${SMOKE_STEPS:-20}"
dist_steps="${SMOKE_DIST_STEPS:-300}"
tol_first="${SMOKE_TOL_FIRST:-1e-4}"
tol_all="${SMOKE_TOL_ALL:-2e-3}"
tol_bf16="${SMOKE_TOL_BF16:-0.05}"
batch=8
ctx=128
width=128
case "$mode" in
  cuda) tol_same="${SMOKE_TOL_SAME:-1e-3}" ;;
  cpu) tol_same="${SMOKE_TOL_SAME:-1e-5}" ;;
  *) echo "gpu-smoke: SMOKE_DEVICE must be cuda or cpu, not '$mode'" >&2; exit 2 ;;
esac
vocab="$(tr -d ' \n\t' <"$base_dir/manifest.json" | sed -n 's/.*"vocabSize":\([0-9][0-9]*\).*/\1/p')"
[ -n "$vocab" ] || { echo "gpu-smoke: no vocabSize in $base_dir/manifest.json" >&2; exit 2; }

omnibiote() {
  OMNIBIOTE_CDS=off NVIDIA_TF32_OVERRIDE=0 "$root/bin/omnibiote" "$@"
}

# ---- set-up: the build, then doctor on the devices the checks use ----------------------------
dist="$root/cli/target/omnibiote"
if [ "$mode" = cuda ]; then
  gpus="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)"
  if [ "$gpus" -lt 1 ]; then
    echo "gpu-smoke: nvidia-smi lists no GPU (is the NVIDIA driver installed? docs/gpu.md)" >&2
    exit 2
  fi
  if [ "$build" = 1 ]; then
    echo "gpu-smoke: building with -Pgpu (log: $out/build.log) ..." >&2
    if ! (cd "$root" && mvn -B -Pgpu -DskipTests package >"$out/build.log" 2>&1); then
      tail -n 40 "$out/build.log" >&2
      echo "gpu-smoke: the build failed (see $out/build.log)" >&2
      exit 2
    fi
    # Mark the distribution fresh, or bin/omnibiote would rebuild it without the gpu profile.
    touch "$dist/.built"
  fi
  compgen -G "$dist/lib/pytorch-*-linux-x86_64-gpu.jar" >/dev/null ||
    { echo "gpu-smoke: $dist/lib has no -gpu pytorch jar: build with -Pgpu" >&2; exit 2; }
  dev=cuda:0
  if [ "$gpus" -ge 2 ]; then two=cuda:0,cuda:1; else two=""; fi
else
  dev=cpu
  two=cpu
fi
doctor_devices="$dev"
if [ "$mode" = cuda ] && [ -n "$two" ]; then doctor_devices="$two"; fi
if ! omnibiote doctor --devices "$doctor_devices" >"$out/doctor.log" 2>&1; then
  cat "$out/doctor.log" >&2
  echo "gpu-smoke: doctor --devices $doctor_devices says this host cannot run the checks (above)" >&2
  exit 2
fi

# ---- helpers ---------------------------------------------------------------------------------
# The run started in the background for the kill check: stopped with its JVMs if this script
# ends early (an error, Ctrl-C), so no coordinator or worker outlives it.
launcher=""
stop_launcher() {
  if [ -n "$launcher" ] && kill -0 "$launcher" 2>/dev/null; then
    local pids
    pids="$(descendants "$launcher") $launcher"
    # shellcheck disable=SC2086 # a list of pids
    kill -9 $pids 2>/dev/null || true
  fi
}
trap stop_launcher EXIT

# descendants PID: every process below PID, children first.
descendants() {
  local p
  for p in $(pgrep -P "$1" || true); do
    echo "$p"
    descendants "$p"
  done
}

passed=0
failed=0
pass() { echo "PASS  $1"; passed=$((passed + 1)); }
fail() { echo "FAIL  $1"; failed=$((failed + 1)); }
skip() { echo "SKIP  $1"; }

# train NAME DEVICES STEPS MINI_BATCH [more train flags]: one run in $out/NAME; 0 when it ended
# well. Its log is $out/NAME.log, its metrics $out/NAME/metrics.jsonl.
train() {
  local name="$1" devices="$2" n="$3" mini="$4"
  shift 4
  omnibiote train \
    --base_dir "$base_dir" --devices "$devices" --seed 1234 \
    --n_layer 2 --n_embd "$width" --n_head 4 --ctx_len "$ctx" \
    --batch_size "$batch" --mini_batch_size "$mini" \
    --token_budget "$((n * batch * ctx))" \
    --test_freq 1e12 --save_freq 1e12 --progress_interval 1e9 \
    --save_name "$out/$name/omnibiota" "$@" >"$out/$name.log" 2>&1
}

# step_lines METRICS: a run's step lines (validation lines have no "loss"); none, and status
# 0, while the file does not exist yet.
step_lines() {
  grep '"loss":' "$1" 2>/dev/null || true
}

# The "step loss" pairs of a run's step lines.
losses() {
  step_lines "$1" | sed -n 's/.*"step":\([0-9][0-9]*\),.*"loss":\([-+0-9.eE]*\)[,}].*/\1 \2/p'
}

# field NAME METRICS: NAME's value on each step line.
field() {
  step_lines "$2" | sed -n "s/.*\"$1\":\([-+0-9.eE]*\)[,}].*/\1/p"
}

# median of the numbers on stdin (empty input: nothing)
median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR > 0) print v[int((NR + 1) / 2)] }'
}

# perf NAME METRICS: tokens/s and MFU, medians over the steps after the first two (the first
# steps include the JIT warm-up and the device's first allocations).
perf() {
  local tps mfu
  tps="$(field tokens_per_s "$2" | tail -n +3 | median)"
  mfu="$(field mfu "$2" | tail -n +3 | median)"
  awk -v name="$1" -v tps="${tps:-0}" -v mfu="${mfu:-0}" -v n="$(losses "$2" | wc -l)" 'BEGIN {
    printf "PERF  %s: %.0f tokens/s, MFU %.2f%% (medians of steps 3..%d)\n", name, tps, 100 * mfu, n }'
}

# trained NAME STEPS: PASS when the run ended well with STEPS finite losses, the loss going down.
trained() {
  local name="$1" n="$2" m="$out/$1/metrics.jsonl" verdict
  if verdict="$(losses "$m" | awk -v n="$n" '
    { k++; v[k] = $2; if ($2 != $2 + 0 || $2 ~ /nan|inf/) bad++ }
    END {
      if (k != n) { printf "%d steps in metrics.jsonl, expected %d", k, n; exit 1 }
      if (bad) { printf "%d non-finite losses", bad; exit 1 }
      w = n >= 10 ? 5 : 1
      for (i = 1; i <= w; i++) { a += v[i]; b += v[n - w + i] }
      a /= w; b /= w
      if (!(b < a)) { printf "loss did not go down (first %d steps %.4f, last %d %.4f)", w, a, w, b; exit 1 }
      printf "%d steps, loss %.4f -> %.4f", n, a, b
    }')"; then
    pass "$name: $verdict"
  else
    fail "$name: $verdict (log: $out/$name.log)"
  fi
}

# compare REF OTHER LABEL TOL_FIRST TOL_ALL: per-step relative loss differences of two runs.
compare() {
  local verdict
  losses "$out/$1/metrics.jsonl" | sort -k1,1 >"$out/$3.ref"
  losses "$out/$2/metrics.jsonl" | sort -k1,1 >"$out/$3.other"
  # join wants its inputs sorted as text; the table of every step goes to $out/LABEL.cmp.
  if verdict="$(join "$out/$3.ref" "$out/$3.other" | sort -n | awk \
    -v n="$(wc -l <"$out/$3.ref")" -v tol_first="$4" -v tol_all="$5" -v cmp="$out/$3.cmp" '
    function abs(x) { return x < 0 ? -x : x }
    {
      k++
      rel = abs($3 - $2) / (abs($2) > 0 ? abs($2) : 1)
      bound = ($1 == 1) ? tol_first : tol_all
      if (!(rel <= bound)) bad++
      if (rel > worst) worst = rel
      printf "step %4d  %.6f  %.6f  rel diff %.2e%s\n", $1, $2, $3, rel, (rel <= bound ? "" : "  <-- over " bound) >cmp
    }
    END {
      if (k == 0 || k != n) { printf "%d steps in both runs, %d in the reference", k, n; exit 1 }
      if (bad) { printf "%d of %d steps over tolerance, worst rel diff %.2e", bad, k, worst; exit 1 }
      printf "%d steps, worst rel diff %.2e (step 1 <= %s, all <= %s)", k, worst, tol_first, tol_all
    }')"; then
    pass "$3: $verdict"
  else
    fail "$3: $verdict (table: $out/$3.cmp)"
  fi
}

# local_workers PID: the worker JVMs among PID's descendants (train --workers starts them as
# children of its JVM, "org.omnibiote.cli.Main worker ..."); only this script's own processes.
local_workers() {
  local p
  for p in $(descendants "$1"); do
    if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q 'org.omnibiote.cli.Main worker '; then
      echo "$p"
    fi
  done
}

# npy_shape FILE: the shape tuple of a .npy header, e.g. "6, 128" (format 1.0: 6 bytes of
# magic, 2 of version, a 2-byte little-endian header length, then the header's text).
npy_shape() {
  local len
  len="$(od -An -tu2 -j8 -N2 "$1" | tr -d ' ')"
  head -c "$((10 + len))" "$1" | tail -c "$len" |
    LC_ALL=C sed -n "s/.*'shape': (\([0-9, ]*\)).*/\1/p" | sed 's/,* *$//'
}

# npy_values FILE: the float32 values, one per line
npy_values() {
  local len
  len="$(od -An -tu2 -j8 -N2 "$1" | tr -d ' ')"
  od -An -v -tf4 -w4 -j "$((10 + len))" "$1" | tr -d ' '
}

# ---- 1. single device: fp32 and bf16 with the default dropout, and checkpointing ------------
echo "gpu-smoke: $mode mode; runs and logs in $out" >&2
echo "gpu-smoke: $steps steps each on $dev: fp32, bf16, fp32 with --checkpoint_freq 1 ..." >&2
for config in fp32 bf16 ckpt; do
  case "$config" in
    fp32) flags=(--precision fp32) ;;
    bf16) flags=(--precision bf16) ;;
    ckpt) flags=(--precision fp32 --checkpoint_freq 1) ;;
  esac
  if train "$config" "$dev" "$steps" "$batch" "${flags[@]}"; then
    trained "$config" "$steps"
    perf "$config" "$out/$config/metrics.jsonl"
  else
    fail "$config: train failed (log: $out/$config.log)"
  fi
done
compare fp32 ckpt checkpointing "$tol_same" "$tol_same"
# bf16 against fp32: the mean loss of the last 5 steps within tol_bf16 (relative).
if verdict="$(paste <(losses "$out/fp32/metrics.jsonl" | tail -n 5) <(losses "$out/bf16/metrics.jsonl" | tail -n 5) |
  awk -v tol="$tol_bf16" '{ a += $2; b += $4; k++ }
    END {
      if (k != 5) { print "fewer than 5 steps"; exit 1 }
      rel = (b - a) / a; rel = rel < 0 ? -rel : rel
      printf "last 5 steps fp32 %.4f, bf16 %.4f, rel diff %.2e (<= %s)", a / k, b / k, rel, tol
      exit !(rel <= tol)
    }')"; then
  pass "bf16-vs-fp32: $verdict"
else
  fail "bf16-vs-fp32: $verdict"
fi

# ---- 2. cuda:0 against the CPU (dropout 0: the devices draw different masks) -----------------
if [ "$mode" = cuda ]; then
  echo "gpu-smoke: $steps steps with dropout 0 on cuda:0 and on the CPU ..." >&2
  if train dev0 cuda:0 "$steps" "$batch" --dropout 0 && train cpu0 cpu "$steps" "$batch" --dropout 0; then
    compare cpu0 dev0 cuda-vs-cpu "$tol_first" "$tol_all"
  else
    fail "cuda-vs-cpu: train failed (logs: $out/dev0.log, $out/cpu0.log)"
  fi
else
  skip "cuda-vs-cpu: CPU mode"
fi

# ---- 3. encode with every pooling, from the fp32 run's checkpoint --------------------------
# Token ids as input (no tokenizer needed): 6 rows of 20..100 ids, each a tag-like first id and
# EOS (3) last, all within the vocabulary.
awk -v vocab="$vocab" -v ctx="$ctx" 'BEGIN {
  srand(7)
  for (r = 0; r < 6; r++) {
    n = 20 + int(rand() * 80); if (n > ctx) n = ctx
    line = 4 + r % 3
    for (i = 2; i < n; i++) line = line " " (10 + int(rand() * (vocab - 11)))
    print line " 3"
  }
}' >"$out/encode.ids"
records="$(wc -l <"$out/encode.ids")"
longest="$(awk '{ if (NF > m) m = NF } END { print m }' "$out/encode.ids")"
for method in mean first last max all; do
  if [ "$method" = all ]; then want="$records, $longest, $width"; else want="$records, $width"; fi
  npy="$out/encode-$method.npy"
  if ! omnibiote encode --checkpoint "$out/fp32/omnibiota" --input "$out/encode.ids" \
    --input-format ids --method "$method" --devices "$dev" --output "$npy" >"$out/encode-$method.log" 2>&1; then
    fail "encode $method: failed (log: $out/encode-$method.log)"
    continue
  fi
  shape="$(npy_shape "$npy")"
  nonfinite="$(npy_values "$npy" | grep -c -i -E 'nan|inf' || true)"
  if [ "$shape" != "$want" ] || [ "$nonfinite" != 0 ]; then
    fail "encode $method: shape ($shape), expected ($want); $nonfinite non-finite values"
    continue
  fi
  if [ "$mode" = cpu ]; then
    pass "encode $method: shape ($shape), all finite"
    continue
  fi
  # On cuda: the same rows on the CPU, element by element within 1e-3 relative.
  ref="$out/encode-$method-cpu.npy"
  if ! omnibiote encode --checkpoint "$out/fp32/omnibiota" --input "$out/encode.ids" \
    --input-format ids --method "$method" --devices cpu --output "$ref" >>"$out/encode-$method.log" 2>&1; then
    fail "encode $method: the CPU reference failed (log: $out/encode-$method.log)"
    continue
  fi
  if verdict="$(paste <(npy_values "$ref") <(npy_values "$npy") | awk '
    function abs(x) { return x < 0 ? -x : x }
    { k++; d = abs($2 - $1) / (abs($1) > 1 ? abs($1) : 1); if (d > worst) worst = d; if (!(d <= 1e-3)) bad++ }
    END { printf "%d values, worst rel diff %.2e against the CPU", k, worst; exit bad > 0 }')"; then
    pass "encode $method: shape ($shape), $verdict"
  else
    fail "encode $method: shape ($shape), $verdict (over 1e-3)"
  fi
done

# ---- 4. two devices: NCCL against Gloo, and a worker killed -----------------------------------
# Each worker takes one micro-batch of half the rows; the global masked-token loss is the same
# sums in another order, so the cross-device tolerance holds. CPU mode compares the 2-worker
# Gloo run with one process instead.
if [ -z "$two" ]; then
  skip "nccl-vs-gloo, worker-killed: one GPU"
else
  half=$((batch / 2))
  echo "gpu-smoke: $dist_steps steps with 2 workers (Gloo on the CPU) ..." >&2
  if train gloo cpu "$dist_steps" "$half" --dropout 0 --workers 2; then
    trained gloo "$dist_steps"
    perf "gloo (2 CPU workers)" "$out/gloo/metrics.jsonl"
  else
    fail "gloo: train failed (log: $out/gloo.log)"
  fi
  if [ "$mode" = cuda ]; then
    label=nccl-vs-gloo
    echo "gpu-smoke: the same with 2 workers on cuda:0,cuda:1 (NCCL) ..." >&2
    train two "$two" "$dist_steps" "$half" --dropout 0 --workers 2 && ok=1 || ok=0
  else
    label=gloo-vs-one-process
    echo "gpu-smoke: the same in one process ..." >&2
    train two cpu "$dist_steps" "$half" --dropout 0 && ok=1 || ok=0
  fi
  if [ "$ok" = 1 ]; then
    trained two "$dist_steps"
    perf "two ($two)" "$out/two/metrics.jsonl"
    compare gloo two "$label" "$tol_first" "$tol_all"
  else
    fail "$label: train failed (log: $out/two.log)"
  fi

  # The same 2-worker run on the devices of 'two', one worker JVM killed (kill -9) once the run
  # has committed a few steps: LocalCluster starts it again, and the run must end with every
  # step, the same losses as the uninterrupted run, and steps committed after the kill.
  echo "gpu-smoke: the 2-worker run on $two again, one worker killed midway ..." >&2
  kill_devices="$two"
  ( train killed "$kill_devices" "$dist_steps" "$half" --dropout 0 --workers 2 ) &
  launcher=$!
  metrics="$out/killed/metrics.jsonl"
  victim=""
  for _ in $(seq 1 1200); do # up to 2 minutes for the workers to start and commit 5 steps
    committed="$(losses "$metrics" | wc -l)"
    if [ "$committed" -ge 5 ]; then
      mapfile -t workers < <(local_workers "$launcher")
      victim="${workers[0]:-}"
      break
    fi
    kill -0 "$launcher" 2>/dev/null || break
    sleep 0.1
  done
  at_kill=-1
  if [ -n "$victim" ]; then
    at_kill="$(losses "$metrics" | wc -l)"
    kill -9 "$victim" 2>/dev/null || victim=""
  fi
  rc=0
  wait "$launcher" || rc=$?
  launcher=""
  final="$(losses "$metrics" | wc -l)"
  if [ -z "$victim" ]; then
    fail "worker-killed: no worker to kill before the run ended ($final steps; raise SMOKE_DIST_STEPS)"
  elif [ "$rc" != 0 ]; then
    fail "worker-killed: the run failed after the kill (exit $rc, log: $out/killed.log)"
  elif ! grep -q "starting it again" "$out/killed.log"; then
    fail "worker-killed: no restart of the killed worker in $out/killed.log"
  elif [ "$final" -le "$at_kill" ] || [ "$at_kill" -ge "$dist_steps" ]; then
    fail "worker-killed: no step committed after the kill (killed at $at_kill of $dist_steps)"
  else
    pass "worker-killed: worker pid $victim killed after $at_kill of $dist_steps steps; restarted, the run ended with $final"
    # Against the uninterrupted run of the same kind: NCCL on cuda, the Gloo run in CPU mode.
    if [ "$mode" = cuda ]; then uninterrupted=two; else uninterrupted=gloo; fi
    compare "$uninterrupted" killed killed-vs-uninterrupted "$tol_same" "$tol_same"
  fi
fi

echo "gpu-smoke: $passed passed, $failed failed (runs and logs in $out)"
[ "$failed" = 0 ]
