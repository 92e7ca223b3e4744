#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz-*.c) with clang into
# build-fuzz/ and runs each over a scratch copy of its seed corpus
# (tests/fuzz/corpus/NAME/), so that the committed corpus does not grow.
# Prints per target the executions, coverage and new inputs; exits 1 if
# any target crashed, leaked, timed out or hit a sanitizer, with the input
# that did it kept in build-fuzz/artifacts/.
# Usage: scripts/fuzz.sh [RUNS | --time SECONDS]   (default: 20000 runs each)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=20000
max_time=0
case "${1:-}" in
  "") ;;
  --time)
    [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "usage: $0 [RUNS|--time SECONDS]" >&2; exit 2; }
    runs=-1; max_time=$2 ;;
  *)
    [[ "$1" =~ ^[0-9]+$ ]] || { echo "usage: $0 [RUNS|--time SECONDS]" >&2; exit 2; }
    runs=$1 ;;
esac

targets=(config spool activity exim-log exim sendmail generic)
declare -A max_len=([config]=8192 [spool]=4096 [activity]=4096 [exim-log]=4096 [exim]=4096 [sendmail]=4096 [generic]=4096)

echo "== fuzz build (clang, libFuzzer + ASan + UBSan)"
CC=clang cmake -S . -B build-fuzz -DMTA_WATCHDOG_FUZZ=ON -DMTA_WATCHDOG_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz-}" >/dev/null

scratch=$(mktemp -d /tmp/mta-watchdog-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
artifacts=$PWD/build-fuzz/artifacts
mkdir -p "$artifacts"

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

failed=()
for t in "${targets[@]}"; do
  work=$scratch/$t
  mkdir -p "$work/corpus" "$work/tmp"
  cp tests/fuzz/corpus/"$t"/* "$work/corpus/"
  seeds=$(find "$work/corpus" -type f | wc -l)
  args=(-runs="$runs" -max_len="${max_len[$t]}" -timeout=10 -print_final_stats=1
        -artifact_prefix="$artifacts/$t-")
  # the fixed-runs check is the same every time (seed 1); a timed run explores anew
  if [ "$max_time" -gt 0 ]; then args+=(-max_total_time="$max_time"); else args+=(-seed=1); fi
  [ -f tests/fuzz/fuzz-"$t".dict ] && args+=(-dict="$PWD/tests/fuzz/fuzz-$t.dict")

  # The targets write only below TMPDIR (fuzz-spool's trees) and in the
  # corpus copy; cwd is the scratch directory too.
  rc=0
  (cd "$work" && TMPDIR=$work/tmp "$OLDPWD/build-fuzz/fuzz-$t" "${args[@]}" corpus) \
    >"$work/log" 2>&1 || rc=$?

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$work/log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$work/log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  size=$(find "$work/corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    printf 'fuzz-%-9s ok    %s execs in %ss, cov %s, ft %s, corpus %s -> %s (%s in use)\n' \
      "$t" "${execs:-?}" "${secs:-?}" "${cov:-?}" "${ft:-?}" "$seeds" "$size" "${corp:-?}"
  else
    printf 'fuzz-%-9s FAIL  exit %s after %s execs; log follows, input in %s\n' \
      "$t" "$rc" "${execs:-?}" "$artifacts/"
    grep -vE '^#[0-9]+|^INFO:|^stat::' "$work/log" | tail -60
    failed+=("$t")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} passed, 0 failed"
