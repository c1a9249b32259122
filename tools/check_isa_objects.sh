#!/bin/bash
# The AVX2 objects of csrc/isa/ must not export AVX code through a global or weak (COMDAT)
# symbol: the linker could pick that copy for the baseline code too, which would then fail on a
# CPU without AVX2. Lists every such symbol whose code has VEX-encoded (v...) instructions; exit 1
# if any. Run after a build: tools/check_isa_objects.sh [build/temp...]
set -euo pipefail
dir=${1:-$(ls -d build/temp.*/csrc/isa | head -1)}
bad=0
for o in "$dir"/*_avx2.o; do
  # the renamed public functions (..._avx2) are AVX code by design: ext.cpp calls them only on AVX2
  syms=$(nm --defined-only "$o" | awk '$2 ~ /^[TWVu]$/ && $3 !~ /_avx2E/ {print $3}')
  for s in $syms; do
    n=$(objdump -d --no-show-raw-insn --disassemble="$s" "$o" | awk 'NR>7 && $2 ~ /^v/' | wc -l)
    if [ "$n" -gt 0 ]; then
      echo "$o: $s has $n AVX instructions"
      bad=1
    fi
  done
  echo "$o: $(echo "$syms" | wc -w) exported symbols checked"
done
exit $bad
