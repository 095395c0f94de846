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
# The device's own torch is used; clipbook is imported from the working tree (no install). PROFILE, DEVICE and
# BENCH_FLAGS (e.g. --smoke) override the defaults, which is how the script is tried on a CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/clipbook-gpu}
PROFILE=${PROFILE:-full}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
if [ ! -d /tmp/site ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
fi
export PYTHONPATH="$PWD:/tmp/site" LIGHTLY_DID_VERSION_CHECK=True PYTHONUNBUFFERED=1
what=${1:-check}
shift || true
case "$what" in
  check)
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
    python3 - <<'PY' 2>&1 | tee -a "$OUT/gpu.txt"
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
    python3 benchmarks/run_gpu.py --peak-tflops 989 "${args[@]}" ${BENCH_FLAGS:-} --out "$OUT/gpu_$name.json" \
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
    python3 -m clipbook.runner --profile "$PROFILE" --device "$DEVICE" --output outputs "${only[@]}" \
      > "$OUT/suite_$name.log" 2>&1
    rc=$?
    echo "suite $name: exit $rc, wall $((SECONDS - start)) s" | tee -a "$OUT/suite_$name.log"
    grep -E "^(profile=|[0-9]{2}_[a-z_0-9]+: )|Error" "$OUT/suite_$name.log" | tail -n 40
    tar czf "$OUT/metrics_$name.tgz" outputs/*/metrics.json
    exit $rc
    ;;
  *)
    echo "usage: $0 check | bench [data|clip|simclr ...] | suite [NN ...]" >&2; exit 2 ;;
esac
