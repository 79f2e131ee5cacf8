#!/usr/bin/env bash
# Every GPU check of the project in one go, results under one folder (issue #15).
#
#   scripts/gpu_checks.sh [--out DIR] [--cpu | --gpu] [--dry-run] [--steps a,b,...] [--budget SECONDS]
#
# On a CUDA machine (the repo installed, e.g. `pip install -e '.[test]'`), in this order, each under its own
# timeout and all under one overall budget (default 450 s, so the whole run ends within 8 minutes on one
# H100; a step that would start with less than 20 s left is not run, and the run counts as failed):
#
#   env        nvidia-smi, torch / CUDA / cuDNN versions, git commit, pip freeze
#   pytest     pytest -q tests/test_attention_kernels.py tests/test_attention_ring.py -k cuda
#   reader     longctx bench reader --lengths 128K,1M (cold + cached; per-stage times, peak memory)
#   niah       longctx eval niah --reader neural --lengths 1M --n 1 (needs the shared CUAD data)
#   attention  longctx bench attention, 16K..64K, head dims 64 and 128, fused CUDA kernels, simulated ring
#
# Everything goes to gpu-results/<UTC timestamp>/ (or --out DIR): env/, logs/<step>.log, json/<step>.json,
# steps.tsv (status, exit code, seconds of every step) and summary.md (each step, the 1M-token reader
# against its targets -- cold <= 1.5 s, cached <= 0.3 s -- NIAH accuracy, best kernel throughput).
#
# Without CUDA (or with --cpu) it says so and runs the CPU half at small sizes (kernel tests, bench reader
# at 2K, NIAH at 2K, bench attention at 1K-2K), so CI can exercise the script. --dry-run writes the folder,
# the environment and the commands without running the checks (--gpu --dry-run shows the GPU plan on any
# machine). Exit status: 0 when every step ran and passed (or was skipped for a stated reason), 1 otherwise.
set -uo pipefail
CALLER_PWD="$PWD"
cd "$(dirname "$0")/.."

OUT=""
FORCE_CPU=0
FORCE_GPU=0
DRY=0
STEPS="env,pytest,reader,niah,attention"
BUDGET="${GPU_CHECKS_BUDGET_S:-450}"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --cpu) FORCE_CPU=1; shift ;;
    --gpu) FORCE_GPU=1; shift ;;
    --dry-run) DRY=1; shift ;;
    --steps) STEPS="$2"; shift 2 ;;
    --budget) BUDGET="$2"; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "gpu_checks: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

case "$OUT" in ""|/*) ;; *) OUT="$CALLER_PWD/$OUT" ;; esac  # relative to where it was called from

if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3
fi
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
DIR="${OUT:-gpu-results/$STAMP}"
mkdir -p "$DIR/env" "$DIR/logs" "$DIR/json"
DIR="$(cd "$DIR" && pwd)"
START=$(date +%s)
printf 'step\tstatus\trc\tseconds\ttimeout_s\tlog\tcommand\n' > "$DIR/steps.tsv"
: > "$DIR/commands.txt"

CUDA="$("$PY" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 0)"
if [ "$FORCE_GPU" = 1 ] && [ "$CUDA" != 1 ] && [ "$DRY" = 0 ]; then
  echo "gpu_checks: --gpu without a CUDA device: only with --dry-run (to see the GPU plan)" >&2
  exit 2
fi
if { [ "$CUDA" = 1 ] && [ "$FORCE_CPU" = 0 ]; } || [ "$FORCE_GPU" = 1 ]; then
  MODE=gpu
  echo "gpu_checks: GPU checks (CUDA available: $CUDA), results in $DIR"
else
  MODE=cpu
  if [ "$CUDA" = 1 ]; then
    echo "gpu_checks: --cpu given: running the CPU half at small sizes, results in $DIR"
  else
    echo "gpu_checks: no CUDA device on this machine: running the CPU half at small sizes, results in $DIR"
  fi
fi
[ "$DRY" = 1 ] && echo "gpu_checks: dry run: commands are written, not run"
printf 'mode=%s\ndry_run=%s\ncuda=%s\nbudget_s=%s\nstarted=%s\n' "$MODE" "$DRY" "$CUDA" "$BUDGET" "$STAMP" \
  > "$DIR/run.env"

want() { case ",$STEPS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

quoted() {  # the command as one line a shell reads back (plain words unquoted)
  local a out=""
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./,:=+@%-]+$ ]]; then out+="$a "; else out+="'${a//\'/\'\\\'\'}' "; fi
  done
  printf '%s' "${out% }"
}

record() {  # name status rc seconds timeout command...
  local name="$1" status="$2" rc="$3" secs="$4" limit="$5"
  shift 5
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" "$secs" "$limit" "logs/$name.log" \
    "$(quoted "$@")" >> "$DIR/steps.tsv"
  echo "gpu_checks: $name: $status (${secs}s)"
}

run_step() {  # name timeout_s command...
  local name="$1" limit="$2"
  shift 2
  echo "$name: $(quoted "$@")" >> "$DIR/commands.txt"
  local left=$(( BUDGET - ($(date +%s) - START) ))
  if [ "$left" -lt 20 ]; then
    echo "not run: ${left}s of the ${BUDGET}s budget left" > "$DIR/logs/$name.log"
    record "$name" "not run: budget spent" "" 0 0 "$@"
    return 0
  fi
  [ "$limit" -gt $(( left - 5 )) ] && limit=$(( left - 5 ))
  if [ "$DRY" = 1 ]; then
    echo "dry run: $(quoted "$@")" > "$DIR/logs/$name.log"
    record "$name" "dry-run" "" 0 "$limit" "$@"
    return 0
  fi
  local t0 rc status
  t0=$(date +%s)
  echo "\$ $(quoted "$@")" > "$DIR/logs/$name.log"
  timeout --kill-after=10 "$limit" "$@" >> "$DIR/logs/$name.log" 2>&1
  rc=$?
  case "$rc" in
    0) status=ok ;;
    124|137) status="timeout after ${limit}s" ;;
    *) status="failed (exit $rc)" ;;
  esac
  record "$name" "$status" "$rc" $(( $(date +%s) - t0 )) "$limit" "$@"
}

skip_step() {  # name reason command...
  local name="$1" reason="$2"
  shift 2
  echo "$name: $(quoted "$@")" >> "$DIR/commands.txt"
  echo "skipped: $reason" > "$DIR/logs/$name.log"
  record "$name" "skipped: $reason" "" 0 0 "$@"
}

LONGCTX=("$PY" -m longctx.cli)

# ---- env ---------------------------------------------------------------------------------------------------
if want env; then
  t0=$(date +%s)
  { command -v nvidia-smi >/dev/null && nvidia-smi || echo "nvidia-smi: not found (no NVIDIA driver here)"; } \
    > "$DIR/env/nvidia-smi.txt" 2>&1
  "$PY" - > "$DIR/env/versions.json" 2> "$DIR/logs/env.log" <<'EOF'
import json, os, platform, sys
import torch
info = {
    "python": sys.version.split()[0],
    "platform": platform.platform(),
    "cpus": os.cpu_count(),
    "torch": torch.__version__,
    "cuda_runtime": torch.version.cuda,
    "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
    "cuda_available": torch.cuda.is_available(),
    "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
}
try:
    import flash_attn
    info["flash_attn"] = flash_attn.__version__
except Exception:
    info["flash_attn"] = None
print(json.dumps(info, indent=2))
EOF
  rc=$?
  git rev-parse HEAD > "$DIR/env/git.txt" 2>/dev/null || echo "not a git checkout" > "$DIR/env/git.txt"
  git status --short >> "$DIR/env/git.txt" 2>/dev/null || true
  "$PY" -m pip freeze > "$DIR/env/pip-freeze.txt" 2>/dev/null || true
  record env "$([ "$rc" = 0 ] && echo ok || echo "failed (exit $rc)")" "$rc" $(( $(date +%s) - t0 )) 0 \
    "nvidia-smi; torch versions; git; pip freeze"
fi

# ---- the checks -------------------------------------------------------------------------------------------
if [ "$MODE" = gpu ]; then
  PYTEST_ARGS=(tests/test_attention_kernels.py tests/test_attention_ring.py -k cuda)
  READER_ARGS=(--lengths 128K,1M --label gpu)
  NIAH_LENGTHS=1M
  BACKENDS="$("$PY" -c 'import torch
from longctx.attention.kernels import available_kernels
print(",".join(n for n in available_kernels("cuda", torch.bfloat16, head_dim=128) if n != "math"))' 2>/dev/null)"
  ATTN_ARGS=(--min-n 16384 --max-n 65536 --head-dims 64,128 --world-sizes 2,4,8 --repeats 2 --no-p2p)
  [ -n "$BACKENDS" ] && ATTN_ARGS+=(--backends "$BACKENDS")
  T_PYTEST=90; T_READER=150; T_NIAH=100; T_ATTN=110
else
  PYTEST_ARGS=(tests/test_attention_kernels.py -k "not cuda")
  READER_ARGS=(--lengths 2K --device cpu --label cpu-small)
  NIAH_LENGTHS=2K
  ATTN_ARGS=(--device cpu --min-n 1024 --max-n 2048 --head-dims 32 --world-sizes 2 --repeats 1 --no-p2p)
  T_PYTEST=120; T_READER=150; T_NIAH=150; T_ATTN=90
fi

if want pytest; then
  run_step pytest "$T_PYTEST" "$PY" -m pytest -q -p no:cacheprovider "${PYTEST_ARGS[@]}" \
    --junitxml "$DIR/json/pytest.xml"
fi
if want reader; then
  run_step reader "$T_READER" "${LONGCTX[@]}" bench reader "${READER_ARGS[@]}" \
    --out "$DIR/json/bench-reader.json" --markdown "$DIR/bench-reader.md"
fi
if want niah; then
  NIAH_CMD=("${LONGCTX[@]}" eval niah --reader neural --lengths "$NIAH_LENGTHS" --n 1 --out "$DIR/json/niah.json")
  if [ "$DRY" = 0 ] && ! "$PY" -c 'import sys
from longctx.config import get_settings
sys.exit(0 if get_settings().data_root else 1)' 2>/dev/null; then
    skip_step niah "no shared data (CUAD haystack; set LONGCTX_SHARED_DATA_DIR)" "${NIAH_CMD[@]}"
  else
    run_step niah "$T_NIAH" "${NIAH_CMD[@]}"
  fi
fi
if want attention; then
  run_step attention "$T_ATTN" "${LONGCTX[@]}" bench attention "${ATTN_ARGS[@]}" \
    --out "$DIR/json/bench-attention.json"
fi

# ---- summary ------------------------------------------------------------------------------------------------
"$PY" scripts/gpu_summary.py "$DIR" > "$DIR/logs/summary.log" 2>&1 || echo "gpu_checks: summary failed" >&2
echo "gpu_checks: done in $(( $(date +%s) - START ))s; see $DIR/summary.md"
if awk -F'\t' 'NR > 1 && $2 !~ /^(ok|dry-run|skipped)/ { bad = 1 } END { exit bad ? 0 : 1 }' "$DIR/steps.tsv"; then
  exit 1
fi
exit 0
