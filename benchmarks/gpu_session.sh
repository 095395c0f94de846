#!/usr/bin/env bash
# GPU measurements on a lent machine (the device tool), in calls that each fit its 10-minute limit.
# Here, once: bash benchmarks/gpu_wheels.sh   (fills .whl/, about 40 MB). Then, one device call each, carrying .whl:
#
#   bash benchmarks/gpu_session.sh check           # GPU, torch, imports, one compiled CUDA step (about 1 min)
#   bash benchmarks/gpu_session.sh bench clip      # run_gpu.py --only clip   -> $OUT/gpu_clip.json
#   bash benchmarks/gpu_session.sh bench simclr data
#   bash benchmarks/gpu_session.sh suite 01 02 03  # notebooks on the full profile -> $OUT/suite_01-02-03.log
#   bash benchmarks/gpu_session.sh suite 04 05 06  # (data/ persists while the machine stays warm)
#
# A lease is 15 minutes of device time, starts included, and the machine goes back 30 s after a call, so the
# calls above rarely fit one lease. `budget` does the most-wanted ones in one call, in order, each cut to the
# seconds left (default 480; give the call timeout_s a minute more):
#
#   bash benchmarks/gpu_session.sh budget 480      # GPU and versions, MFU and SimCLR against lightly (eager
#                                                  # first, then compiled), then notebook 01 on the full profile
#   BENCH_SHARE=35 BENCH_FLAGS="--modes compiled" NB01_PARAMS="-p SWEEP_BATCH_SIZES []" \
#     bash benchmarks/gpu_session.sh budget 530    # the next lease: notebook 01 without its sweep, NegCLIP beside
#
# The device's own torch is used; clipbook is imported from the working tree (no install). PROFILE, DEVICE and
# BENCH_FLAGS (e.g. --smoke) override the defaults, which is how the script is tried on a CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/clipbook-gpu}
PROFILE=${PROFILE:-full}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
PY=${PY:-python3}  # the device's python; PY=.venv/bin/python tries the script here
if [ ! -d /tmp/site ] && compgen -G ".whl/*.whl" > /dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
fi
export PYTHONPATH="$PWD:/tmp/site" LIGHTLY_DID_VERSION_CHECK=True PYTHONUNBUFFERED=1
what=${1:-check}
shift || true
case "$what" in
  check)
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
    $PY - <<'PY' 2>&1 | tee -a "$OUT/gpu.txt"
import time, torch, open_clip, lightly, faiss, papermill, clipbook
print("torch", torch.__version__, "open_clip", open_clip.__version__, "lightly", lightly.__version__,
      "faiss", faiss.__version__, "papermill", papermill.__version__)
data = clipbook.world_for("clipbook-tiny").dataset(4096, "train", seed=0, cache=False)
for compile in (False, True):
    t = time.perf_counter()
    r = clipbook.train_clip(data.images, data.all_captions(), "clipbook-tiny", epochs=2, batch_size=256,
                            device="cuda", cache=False, progress=False, compile=compile)
    print(f"compile={compile}: {time.perf_counter() - t:.1f} s in all, steady "
          f"{r.steady_samples_per_second(skip=5):.0f} samples/s, loss {r.initial_loss:.2f} -> {r.final_loss:.2f}")
PY
    ;;
  bench)
    parts=("$@")
    [ ${#parts[@]} -gt 0 ] || parts=(data clip simclr)
    args=(); for p in "${parts[@]}"; do args+=(--only "$p"); done
    name=$(IFS=-; echo "${parts[*]}")
    set +e
    $PY benchmarks/run_gpu.py --peak-tflops 989 "${args[@]}" ${BENCH_FLAGS:-} --out "$OUT/gpu_$name.json" \
      > "$OUT/bench_$name.log" 2>&1
    rc=$?
    grep -v "^[IW][0-9]" "$OUT/bench_$name.log" | tail -n 80
    exit $rc
    ;;
  suite)
    name=$(IFS=-; echo "${*:-all}")
    only=(); [ $# -gt 0 ] && only=(--only "$@")
    set +e
    start=$SECONDS
    $PY -m clipbook.runner --profile "$PROFILE" --device "$DEVICE" --output outputs "${only[@]}" \
      > "$OUT/suite_$name.log" 2>&1
    rc=$?
    echo "suite $name: exit $rc, wall $((SECONDS - start)) s" | tee -a "$OUT/suite_$name.log"
    grep -E "^(profile=|[0-9]{2}_[a-z_0-9]+: )|Error" "$OUT/suite_$name.log" | tail -n 40
    tar czf "$OUT/metrics_$name.tgz" outputs/*/metrics.json
    exit $rc
    ;;
  budget)
    total=${1:-480}
    [[ "$total" =~ ^[0-9]+$ ]] && [ "$total" -ge 120 ] || { echo "budget: seconds=$total; give 120 or more" >&2; exit 2; }
    end=$((SECONDS + total))
    left() { echo $((end - SECONDS)); }
    { nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 || true
      $PY -c "import torch, open_clip, lightly, faiss, papermill; print('torch', torch.__version__, 'cuda',
torch.cuda.is_available(), 'open_clip', open_clip.__version__, 'lightly', lightly.__version__, 'faiss',
faiss.__version__, 'papermill', papermill.__version__)"; } 2>&1 | tee "$OUT/gpu.txt"
    # the benchmarks get up to BENCH_SHARE% (default 60) of what is left, the notebook the rest; each part is cut at
    # its share (on the H100, notebook 01's full profile did not finish in 215 s: give it more once the eager
    # figures are in, e.g. BENCH_SHARE=35 BENCH_FLAGS="--modes compiled")
    bench_share=${BENCH_SHARE:-60}
    [[ "$bench_share" =~ ^[0-9]+$ ]] && [ "$bench_share" -le 100 ] \
      || { echo "budget: BENCH_SHARE=$bench_share; give a whole percentage from 0 to 100" >&2; exit 2; }
    share=$(( $(left) * bench_share / 100 ))
    set +e
    timeout -k 10 "$share" $PY benchmarks/run_gpu.py --peak-tflops 989 --only clip --only simclr ${BENCH_FLAGS:-} \
      --out "$OUT/gpu_bench.json" > "$OUT/bench.log" 2>&1
    rc=$?; echo "bench: exit $rc (124 means cut at $share s; gpu_bench.json keeps what it measured)" | tee -a "$OUT/bench.log"
    rest=$(( $(left) - 15 ))
    if [ "$rest" -gt 30 ]; then
      metrics=outputs/01_contrastive_pretraining/metrics.json
      rm -f "$metrics"  # a metrics.json left by an earlier run must not pass for this one's
      # NB01_PARAMS: runner options for it, e.g. NB01_PARAMS="-p SWEEP_BATCH_SIZES []" (no batch-size sweep)
      timeout -k 10 "$rest" $PY -m clipbook.runner --profile "$PROFILE" --device "$DEVICE" --output outputs \
        --only 01 ${NB01_PARAMS:-} > "$OUT/suite_01.log" 2>&1
      rc=$?; echo "suite 01: exit $rc (124 means cut at $rest s)" | tee -a "$OUT/suite_01.log"
      [ -f "$metrics" ] && cp "$metrics" "$OUT/metrics_01.json"
    fi
    grep -E "samples_per_second|mfu|lightly|\"model\"" "$OUT/gpu_bench.json" 2>/dev/null | head -n 40
    grep -E "^(profile=|[0-9]{2}_[a-z_0-9]+: )|Error" "$OUT/suite_01.log" 2>/dev/null | tail -n 20
    exit 0
    ;;
  *)
    echo "usage: $0 check | bench [data|clip|simclr ...] | suite [NN ...] | budget [SECONDS]" >&2; exit 2 ;;
esac
