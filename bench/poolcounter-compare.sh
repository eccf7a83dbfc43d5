#!/usr/bin/env bash
# The PoolCounter door's first comparison: Baton's PoolCounter line port against the C poolcounterd (Debian package
# "poolcounter"), ACQ4ME + RELEASE with no hold time, 1, 8, 64 connections over 1000 keys and 64 on
# one key, W=1, on poolcounterd, a 1-node and a 3-node Baton. It is a subset of the side-by-side comparison:
# this runs bench/compare.sh with that matrix and only prints the report (BENCHMARKS.md is left alone).
#
# Usage: bench/poolcounter-compare.sh [--only poolcounterd,baton1,baton3] [bench/compare.sh options]
#   e.g. bench/poolcounter-compare.sh --only poolcounterd --reps 1
#        bench/poolcounter-compare.sh --reps 5 --duration-s 20
# Environment: JAR, RESULTS as for bench/compare.sh.
set -euo pipefail

args=()
while (($# > 0)); do
  case "$1" in
    --only | --only=*)
      if [[ $1 == --only ]]; then
        list=${2:-}
        shift
      else
        list=${1#--only=}
      fi
      names=()
      IFS=, read -ra wanted <<<"$list"
      for n in "${wanted[@]}"; do
        case "$n" in
          poolcounterd | c) names+=(poolcounterd) ;;
          baton1 | baton-1) names+=(baton1-line) ;;
          baton3 | baton-3) names+=(baton3-line) ;;
          *) names+=("$n") ;;
        esac
      done
      args+=(--contenders "$(IFS=,; echo "${names[*]}")")
      ;;
    *) args+=("$1") ;;
  esac
  shift
done

REPORT= exec "$(dirname "$0")/compare.sh" --contenders poolcounterd,baton1-line,baton3-line \
  --cells 1x1000x1,8x1000x1,64x1000x1,64x1x1 --hold-ms 0 --reps 3 --warmup-s 5 --duration-s 10 \
  --prewarm-s 10 ${args[@]+"${args[@]}"}
