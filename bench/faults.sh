#!/usr/bin/env bash
# The fault tests for longer: FaultClusterTest's cycles repeated on one 3-node cluster of real
# `baton server` processes for N minutes per test, with clients on every node checking that no key
# ever has more holders than its workers and that no fence is granted twice:
#   - a follower, then the leader, paused with SIGSTOP for 3 s (three election timeouts), SIGCONT;
#   - the leader cut off from its peers for at least 5 s (iptables owner rules, each node its own
#     system user baton-t1..3), then healed.
# `./test` runs one cycle of each. The isolation test needs root and iptables (installed here when
# missing, as ./test does); without them it is skipped and says why.
#
# Usage: bench/faults.sh [minutes]      (default 10: about 2 x 10 minutes in all)
#        bench/faults.sh 30 -Dtest='FaultClusterTest#theLeader*'   (extra arguments go to Maven)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
shift || true
if [[ $(id -u) -eq 0 && ! -x /usr/sbin/iptables ]]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || echo "faults: apt-get update failed" >&2
  apt-get install -y -qq iptables >/dev/null 2>&1 || echo "faults: could not install iptables" >&2
fi
exec mvn -B -pl baton-server -am test -Dtest=FaultClusterTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Dbaton.faults.minutes="$minutes" "$@"
