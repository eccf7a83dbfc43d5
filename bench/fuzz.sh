#!/usr/bin/env bash
# The longer fuzz run (docs/fuzzing.md): fuzzes each target with Jazzer for a while, one target at a
# time, each in its own JVM with a small heap, and says what it found.
#
# Usage: bench/fuzz.sh [--minutes N] [--heap SIZE] [TARGET ...]
#   TARGET   command-batch  CommandCodec.decodeBatch, a Raft entry's command batch    (baton-core)
#            result         CommandCodec.decodeResult, remembered answers in snapshots (baton-core)
#            snapshot       SnapshotCodec.read / recoverFromSnapshot                   (baton-core)
#            line           the line door's frame decoder + LineParser -> LineRequest  (baton-server)
#            raft-entry     RaftEntryCodec.decode, then the state machine applies it   (baton-server)
#            (default: all five)
#   --minutes N   how long each target is fuzzed (default 10)
#   --heap SIZE   the fuzzing JVM's -Xmx (default 256m): a decoder that reserves memory because a
#                 length prefix says so runs out of it (besides each test's own allocation budget)
#
# A crash (an undocumented exception, a broken property, an allocation over budget, an
# OutOfMemoryError) stops that target's run; Jazzer writes the input to
#   <module>/src/test/resources/<package>/<Class>Inputs/<method>/crash-<sha1>
# where every later `mvn verify` replays it as a regression test: fix the code, keep the file
# (commit it). The corpus Jazzer grows is kept in <module>/.cifuzz-corpus/ (not committed) and
# seeds the next run. Logs: ${TMPDIR:-/tmp}/baton-fuzz-<target>.log. Exit status 1 if anything
# was found.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=10
heap=256m
targets=()
while (($# > 0)); do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --heap) heap="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]} > 0)) || targets=(command-batch result snapshot line raft-entry)

# target -> module, test class (simple name), inputs directory of its one @FuzzTest method
describe() {
  case "$1" in
    command-batch) echo "baton-core CommandBatchFuzzTest dev/baton/core/command/CommandBatchFuzzTestInputs/decodeBatch" ;;
    result)        echo "baton-core ResultCodecFuzzTest dev/baton/core/command/ResultCodecFuzzTestInputs/decodeResult" ;;
    snapshot)      echo "baton-core SnapshotRecoveryFuzzTest dev/baton/core/machine/SnapshotRecoveryFuzzTestInputs/recover" ;;
    line)          echo "baton-server LineRequestFuzzTest dev/baton/server/line/LineRequestFuzzTestInputs/decodeLines" ;;
    raft-entry)    echo "baton-server RaftEntryFuzzTest dev/baton/server/raft/RaftEntryFuzzTestInputs/decodeAndApply" ;;
    *) return 1 ;;
  esac
}
for t in "${targets[@]}"; do
  describe "$t" >/dev/null || { echo "fuzz.sh: unknown target $t (command-batch, result, snapshot, line, raft-entry)" >&2; exit 2; }
done

found=0
summary=()
for t in "${targets[@]}"; do
  read -r module class inputs <<<"$(describe "$t")"
  dir="$module/src/test/resources/$inputs"
  mkdir -p "$dir"
  before=$(ls -1 "$dir" | sort)
  log="${TMPDIR:-/tmp}/baton-fuzz-$t.log"
  echo "fuzz.sh: $t ($module $class) for $minutes min, -Xmx$heap; log $log"
  status=0
  # -Pfuzz: the module's fuzz execution, restricted to this class; -Dtest=NONE: the ordinary
  # tests (and the other module's) do not run.
  mvn -B -pl "$module" -am test -Pfuzz -Dtest=NONE -Dsurefire.failIfNoSpecifiedTests=false \
    -Dbaton.fuzz.tests="$class" -Dbaton.fuzz.duration="${minutes}m" -Dbaton.fuzz.heap="$heap" \
    >"$log" 2>&1 || status=$?
  new=$(comm -13 <(echo "$before") <(ls -1 "$dir" | sort) | sed '/^$/d')
  runs=$(grep -Eo '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 || true)
  if [[ -n "$new" ]]; then
    found=1
    summary+=("$t: FOUND ${runs:+($runs) }-> $(echo "$new" | sed "s|^|$dir/|" | tr '\n' ' ')")
    echo "  found:"
    grep -E 'FuzzTestFinding|== Java Exception|^Caused by' "$log" | head -5 | sed 's/^/    /' || true
    for f in $new; do
      echo "  input $dir/$f ($(stat -c %s "$dir/$f") bytes):"
      head -c 256 "$dir/$f" | od -A d -t x1 -v | head -8 | sed 's/^/    /'
    done
  elif ((status != 0)); then
    found=1
    summary+=("$t: FAILED without a new input (see $log)")
    grep -E '^\[ERROR\]' "$log" | head -10 | sed 's/^/    /'
  else
    summary+=("$t: nothing found (${runs:-no run count}; ${cov:-no coverage line})")
  fi
done

echo
echo "fuzz.sh summary:"
printf '  %s\n' "${summary[@]}"
if ((found)); then
  echo "Fix the code, keep the crash inputs (they are regression tests now), and run again."
fi
exit "$found"
