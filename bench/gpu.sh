#!/usr/bin/env bash
# The benchmark's 1B-shape rows on a lent CUDA machine (one GPU), in one short self-checking script:
#   bash bench/gpu.sh            # about 5-8 minutes: CUDA build of llama.cpp, model build, measurements
# Needs: the project's venv (or PYTHON=...) with torch, transformers and logos-tools installed, and either
# PyPI reachable for the CUDA build of llama-cpp-python or LLAMA_CPP_WHEEL=/path/to/a/cuda/wheel.
# Writes bench/results/cuda/latest.{json,txt}. Exits non-zero at the first check that fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
LLAMA_VERSION=$("$PY" -c "import importlib.metadata as m; print(m.version('llama-cpp-python'))" 2>/dev/null || echo 0.3.36)

echo "== GPU"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || { echo "no NVIDIA GPU here" >&2; exit 2; }

echo "== llama-cpp-python $LLAMA_VERSION with CUDA"
if ! "$PY" -c "import llama_cpp, sys; sys.exit(0 if llama_cpp.llama_supports_gpu_offload() else 1)" 2>/dev/null; then
  if [ -n "${LLAMA_CPP_WHEEL:-}" ]; then
    "$PY" -m pip install --no-deps --force-reinstall "$LLAMA_CPP_WHEEL"
  else
    CMAKE_ARGS="-DGGML_CUDA=on" FORCE_CMAKE=1 MAKEFLAGS="-j$(nproc)" \
      "$PY" -m pip install --no-cache-dir --no-deps --force-reinstall "llama-cpp-python==$LLAMA_VERSION"
  fi
fi
"$PY" -c "import llama_cpp; assert llama_cpp.llama_supports_gpu_offload(), 'llama.cpp was built without CUDA'; print('offload ok')"

echo "== 1B-shape model (random weights, our converter and quantizer)"
"$PY" bench/build_1b_shape.py
for f in bench/work/1b-shape/logos-1b-shape-f16.gguf bench/work/1b-shape/logos-1b-shape-q4_k_m.gguf; do
  [ -s "$f" ] || { echo "missing $f" >&2; exit 3; }
done

echo "== measurements (all layers on the GPU)"
TORCH_DEVICE=$("$PY" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
ONLY="1b-shape-q4_k_m,1b-shape-f16,logos,floor,naive,prompt-sharing"
[ "$TORCH_DEVICE" = cuda ] && ONLY="$ONLY,reference"
"$PY" bench/run.py --only "$ONLY" --n-gpu-layers -1 --torch-device "$TORCH_DEVICE" --out bench/results/cuda

echo "== checks"
"$PY" - <<'EOF'
import json
report = json.load(open("bench/results/cuda/latest.json", encoding="utf-8"))
assert not report["errors"], report["errors"]
assert report["machine"]["gpu_offload"], "the run did not use a CUDA build"
rows = [r for r in report["rows"] if r["path"] == "logos"]
assert rows, "no logos rows"
assert all(r["tokens_per_sample"] == [64] for r in report["rows"]), "some sample did not run 64 tokens"
print(f"ok: {len(report['rows'])} rows, best logos {max(r['tokens_per_s'] for r in rows):.0f} tok/s")
EOF
