#!/usr/bin/env bash
# Runs Safeguard's benchmarks and prints one name=value line per figure.
#   bench/run.sh quick   a short job (a few minutes on 2 cores)
#   bench/run.sh full    BenchmarkDotNet's default job
#   bench/run.sh memory  the verifier's memory over a 10,000,000-event trail (needs ~8 GB of disk, ~2 minutes)
#   bench/run.sh load    only the load tests: the token endpoint against the real server (bench/load/token_cc.sh, wrk),
#                        full sign-ins (bench/load/login.sh: password + TOTP through the code flow to tokens) and the
#                        gateway against plain YARP and YARP with AddJwtBearer (bench/load/gateway.sh)
# quick and full end with the load tests. The full BenchmarkDotNet output goes to bench/results/<mode>.log,
# the token load test's wrk output to bench/results/load.log, the sign-in test's to bench/results/login.log, the
# gateway test's to bench/results/gateway.log.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-quick}
case "$mode" in quick|full|memory|load) ;; *) echo "usage: bench/run.sh [quick|full|memory|load]" >&2; exit 2 ;; esac
mkdir -p bench/results
log="bench/results/$mode.log"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
load() {
  local duration=15
  [ "$mode" = full ] && duration=30
  bench/load/token_cc.sh "$duration" 32 2>bench/results/load.log || { echo "load test failed; see bench/results/load.log" >&2; tail -n 30 bench/results/load.log >&2; exit 1; }
  local sign_ins=400
  [ "$mode" = full ] && sign_ins=1000
  bench/load/login.sh "$sign_ins" 4 300 2>bench/results/login.log || { echo "sign-in load test failed; see bench/results/login.log" >&2; tail -n 30 bench/results/login.log >&2; exit 1; }
  local gateway_run=6
  [ "$mode" = full ] && gateway_run=15
  bench/load/gateway.sh "$gateway_run" 32 2>bench/results/gateway.log || { echo "gateway load test failed; see bench/results/gateway.log" >&2; tail -n 30 bench/results/gateway.log >&2; exit 1; }
}
if [ "$mode" = load ]; then
  load
  exit 0
fi
dotnet build bench/Safeguard.Benchmarks -c Release -nologo -clp:ErrorsOnly >&2
(cd bench/results && dotnet ../Safeguard.Benchmarks/bin/Release/net10.0/Safeguard.Benchmarks.dll "$mode") >"$log" 2>&1 || {
  echo "benchmarks failed; see $log" >&2
  tail -n 30 "$log" >&2
  exit 1
}
grep -E '^[a-z0-9_]+=[0-9.]+$' "$log"
if [ "$mode" != memory ]; then
  load
fi
