#!/usr/bin/env bash
# Load test of the gateway (issue 12), side by side in one run, wrk on loopback, the same upstream for every variant
# (a 2-byte answer over plain http), the same stand-in authority (discovery and JWKS, ES256):
#   yarp-plain         YARP over TLS, no authentication: the baseline
#   gateway durable    the Safeguard gateway, one token reused, Durable audit (decision committed before forwarding)
#   gateway buffered   the same, Buffered audit
#   yarp-jwtbearer     YARP over TLS behind Microsoft's AddJwtBearer, a new token on every request, no audit
#   gateway new        the Safeguard gateway, a new token on every request, Buffered audit
# Each variant is warmed up (tiered JIT) and measured twice in ABBA order; each proxy runs in its own process and its
# CPU is read from /proc. Prints name=value lines: gateway_reused_vs_yarp, gateway_reused_buffered_vs_yarp,
# gateway_new_vs_jwtbearer (each the baseline's server CPU per request over the gateway's: requests per CPU-second,
# relative), the rps and cpu_us of each variant, the audit bytes written per request, and gateway_unaudited
# (forwarded requests without their allowed event after a clean stop; must be 0).
#   bench/load/gateway.sh [duration_seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-8}
connections=${2:-32}
warm=${SAFEGUARD_BENCH_WARM:-12}
log() { printf '==> %s\n' "$*" >&2; }
command -v wrk >/dev/null 2>&1 || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build bench/Safeguard.Benchmarks -c Release -nologo -clp:ErrorsOnly >&2
bench=bench/Safeguard.Benchmarks/bin/Release/net10.0/Safeguard.Benchmarks.dll
gateway=bench/Safeguard.Benchmarks/bin/Release/net10.0/Safeguard.Gateway.dll
dir=$(mktemp -d /tmp/safeguard-gateway-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

# New-token runs use each token once: six files (two warm-ups, four measured runs), each enough for 11,000 requests a
# second, more than either variant serves here.
warm_new=${SAFEGUARD_BENCH_WARM_NEW:-8}
per_chunk=${SAFEGUARD_BENCH_TOKENS_PER_RUN:-$(( (duration > warm_new ? duration : warm_new) * 11000 ))}
log "minting $((per_chunk * 6)) tokens"
dotnet "$bench" gateway-rig "$dir" $((per_chunk * 6)) >"$dir/rig.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do [ -f "$dir/rig.url" ] && break; sleep 0.2; done
[ -f "$dir/rig.url" ] || { cat "$dir/rig.log" >&2; exit 1; }
# shellcheck disable=SC1091
source "$dir/rig.env"
for i in 0 1 2 3 4 5; do sed -n "$((i * per_chunk + 1)),$(((i + 1) * per_chunk))p" "$dir/tokens.txt" > "$dir/tokens.$i"; done
export SAFEGUARD_BENCH_TOKEN=$(cat "$dir/token.txt") SAFEGUARD_BENCH_THREADS=2

dotnet "$gateway" --config "$dir/gateway.json" >"$dir/gateway.log" 2>&1 &
gateway_pid=$!; pids+=($gateway_pid)
dotnet "$bench" yarp-plain "$dir" "$UPSTREAM" >"$dir/yarp.log" 2>&1 &
yarp_pid=$!; pids+=($yarp_pid)
dotnet "$bench" yarp-jwtbearer "$dir" "$UPSTREAM" "$AUTHORITY" "$AUTHORITY_SHA256" >"$dir/jwt.log" 2>&1 &
jwt_pid=$!; pids+=($jwt_pid)
for _ in $(seq 1 300); do
  grep -q "listening on" "$dir/gateway.log" 2>/dev/null && [ -f "$dir/yarp-plain.url" ] && [ -f "$dir/yarp-jwtbearer.url" ] && break
  sleep 0.2
done
gateway_url=$(sed -n 's/^Safeguard gateway listening on \(https:[^ ,]*\).*/\1/p' "$dir/gateway.log")
[ -n "$gateway_url" ] || { cat "$dir/gateway.log" >&2; exit 1; }
yarp_url=$(cat "$dir/yarp-plain.url"); jwt_url=$(cat "$dir/yarp-jwtbearer.url")

hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A rps cpu runs
# run NAME PID URL SECONDS [lua]: one wrk run; accumulates rps and CPU per request under NAME.
run() {
  local name=$1 pid=$2 url=$3 seconds=$4 script=${5:-bench/load/bearer.lua} tokens=${6:-}
  local before after out requests
  before=$(ticks "$pid")
  out=$(SAFEGUARD_BENCH_TOKENS="$tokens" wrk -t2 -c"$connections" -d"${seconds}s" -s "$script" "$url")
  after=$(ticks "$pid")
  if grep -q "Non-2xx" <<<"$out"; then
    # A cold writer can fall behind a Buffered warm-up and answer 503 (queue full); measured runs must all pass.
    [ "$name" = warm ] && { log "warm-up: $(awk '/Non-2xx/ {print $5}' <<<"$out") of $(awk '/requests in/ {print $1}' <<<"$out") requests refused"; return 0; }
    echo "$name: some requests failed" >&2; echo "$out" >&2; exit 1
  fi
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  [ "$name" = warm ] && return 0
  log "$name: $(awk '/^Requests\/sec/ {print $2}' <<<"$out") req/s, $(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }') us CPU each"
  rps[$name]=$(awk -v a="${rps[$name]:-0}" -v b="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")" 'BEGIN { print a + b }')
  cpu[$name]=$(awk -v a="${cpu[$name]:-0}" -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN { print a + t / hz * 1e6 / n }')
  runs[$name]=$(( ${runs[$name]:-0} + 1 ))
}
avg() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%.3f", s / n }'; }

log "warm-up (${warm}s per variant)"
run warm "$yarp_pid" "$yarp_url/fhir/Patient/1" "$warm"
run warm "$gateway_pid" "$gateway_url/durable/fhir/Patient/1" "$warm"
run warm "$gateway_pid" "$gateway_url/buffered/fhir/Patient/1" "$warm"
run warm "$jwt_pid" "$jwt_url/fhir/Patient/1" "$warm_new" bench/load/bearer_new.lua "$dir/tokens.0"
run warm "$gateway_pid" "$gateway_url/buffered/fhir/Patient/1" "$warm_new" bench/load/bearer_new.lua "$dir/tokens.1"

log "measured: ${duration}s per run, ABBA"
run yarp "$yarp_pid" "$yarp_url/fhir/Patient/1" "$duration"
run durable "$gateway_pid" "$gateway_url/durable/fhir/Patient/1" "$duration"
run buffered "$gateway_pid" "$gateway_url/buffered/fhir/Patient/1" "$duration"
run buffered "$gateway_pid" "$gateway_url/buffered/fhir/Patient/1" "$duration"
run durable "$gateway_pid" "$gateway_url/durable/fhir/Patient/1" "$duration"
run yarp "$yarp_pid" "$yarp_url/fhir/Patient/1" "$duration"
run jwtbearer "$jwt_pid" "$jwt_url/fhir/Patient/1" "$duration" bench/load/bearer_new.lua "$dir/tokens.2"
run new "$gateway_pid" "$gateway_url/buffered/fhir/Patient/1" "$duration" bench/load/bearer_new.lua "$dir/tokens.3"
run new "$gateway_pid" "$gateway_url/buffered/fhir/Patient/1" "$duration" bench/load/bearer_new.lua "$dir/tokens.4"
run jwtbearer "$jwt_pid" "$jwt_url/fhir/Patient/1" "$duration" bench/load/bearer_new.lua "$dir/tokens.5"

# A clean stop commits every queued event; then every request the upstream received from the gateway must have its
# allowed event (a Durable decision whose client went away before forwarding is an allowed event without a forward).
kill -TERM "$gateway_pid"; wait "$gateway_pid" 2>/dev/null || true
forwarded=$(curl -s "$UPSTREAM/__count")
read -r allowed durable_bytes buffered_bytes < <(python3 - "$dir/gateway-data/audit.db" <<'PY'
import sqlite3, sys, json
db = sqlite3.connect(sys.argv[1])
allowed = 0; sizes = {"durable": [], "buffered": [], "completed": []}
for (body,) in db.execute("SELECT body FROM audit_events"):
    e = json.loads(body)
    if e["type"] == "phi.access_allowed":
        allowed += 1
        sizes["durable" if e.get("route", "").startswith("/durable") else "buffered"].append(len(body) + 32)
    elif e["type"] == "phi.access_completed":
        sizes["completed"].append(len(body) + 32)
avg = lambda l: sum(l) / len(l) if l else 0
print(allowed, round(avg(sizes["durable"]) + avg(sizes["completed"])), round(avg(sizes["buffered"])))
PY
)

# Buffered on a kill: a second gateway (its own trail) under Buffered load is killed with SIGKILL; the requests the
# upstream received from it without an allowed event in its trail are what a kill loses (at most what it served in
# the last BufferedCommitBound, 1 s).
sed "s#$dir/gateway-data#$dir/gateway-kill-data#" "$dir/gateway.json" > "$dir/gateway-kill.json"
dotnet "$gateway" --config "$dir/gateway-kill.json" >"$dir/gateway-kill.log" 2>&1 &
kill_pid=$!; pids+=($kill_pid)
for _ in $(seq 1 100); do grep -q "listening on" "$dir/gateway-kill.log" 2>/dev/null && break; sleep 0.2; done
kill_url=$(sed -n 's/^Safeguard gateway listening on \(https:[^ ,]*\).*/\1/p' "$dir/gateway-kill.log")
before_kill=$(curl -s "$UPSTREAM/__count")
wrk -t2 -c"$connections" -d10s -s bench/load/bearer.lua "$kill_url/buffered/fhir/Patient/1" >/dev/null 2>&1 &
wrk_pid=$!
sleep 6
kill -KILL "$kill_pid"; wait "$kill_pid" 2>/dev/null || true
wait "$wrk_pid" 2>/dev/null || true
killed_forwarded=$(( $(curl -s "$UPSTREAM/__count") - before_kill ))
killed_allowed=$(python3 -c 'import sqlite3,sys,json; print(sum(1 for (b,) in sqlite3.connect(sys.argv[1]).execute("SELECT body FROM audit_events") if json.loads(b)["type"] == "phi.access_allowed"))' "$dir/gateway-kill-data/audit.db")

y=$(avg "${cpu[yarp]}" "${runs[yarp]}"); d=$(avg "${cpu[durable]}" "${runs[durable]}"); b=$(avg "${cpu[buffered]}" "${runs[buffered]}")
j=$(avg "${cpu[jwtbearer]}" "${runs[jwtbearer]}"); n=$(avg "${cpu[new]}" "${runs[new]}")
echo "yarp_rps=$(avg "${rps[yarp]}" "${runs[yarp]}")"
echo "yarp_cpu_us=$y"
echo "gateway_reused_rps=$(avg "${rps[durable]}" "${runs[durable]}")"
echo "gateway_reused_cpu_us=$d"
echo "gateway_reused_buffered_rps=$(avg "${rps[buffered]}" "${runs[buffered]}")"
echo "gateway_reused_buffered_cpu_us=$b"
echo "jwtbearer_new_rps=$(avg "${rps[jwtbearer]}" "${runs[jwtbearer]}")"
echo "jwtbearer_new_cpu_us=$j"
echo "gateway_new_rps=$(avg "${rps[new]}" "${runs[new]}")"
echo "gateway_new_cpu_us=$n"
echo "gateway_reused_vs_yarp=$(awk -v a="$y" -v b="$d" 'BEGIN { printf "%.3f", a / b }')"
echo "gateway_reused_buffered_vs_yarp=$(awk -v a="$y" -v b="$b" 'BEGIN { printf "%.3f", a / b }')"
echo "gateway_new_vs_jwtbearer=$(awk -v a="$j" -v b="$n" 'BEGIN { printf "%.3f", a / b }')"
echo "gateway_audit_bytes_durable=$durable_bytes"
echo "gateway_audit_bytes_buffered=$buffered_bytes"
echo "gateway_forwarded=$forwarded"
echo "gateway_allowed_events=$allowed"
echo "gateway_unaudited=$((forwarded > allowed ? forwarded - allowed : 0))"
echo "gateway_buffered_killed_forwarded=$killed_forwarded"
echo "gateway_buffered_lost_on_kill=$((killed_forwarded > killed_allowed ? killed_forwarded - killed_allowed : 0))"
