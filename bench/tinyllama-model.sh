# Sourced by the TinyLlama-shape bench scripts (run from the repository root):
# tinyllama_model DIR prints the path of the TinyLlama-1.1B-shape fp32 ONNX
# model with random weights: bench/run.sh's export when there is one, else
# DIR's, exported there first if missing (4.4 GB).
tinyllama_model() {
  local shared=bench/work/models/tinyllama/tinyllama-1.1b-half-fp32.onnx
  local own="$1/tinyllama-1.1b-half-fp32.onnx"
  if [[ -f "$shared" ]]; then
    echo "$shared"
    return
  fi
  mkdir -p "$1"
  [[ -f "$own" ]] ||
    /usr/bin/python3 examples/export/export_onnx.py --random --preset tinyllama-1.1b -o "$1" -q >&2
  echo "$own"
}
