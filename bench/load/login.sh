#!/usr/bin/env bash
# Server CPU per full sign-in, against the real server on loopback: password + authenticator app (TOTP) through the
# code flow to tokens (bench/load/login.py: /authorize, the sign-in pages with their anti-forgery tokens, the second
# step, the redirect with the code, /token with PKCE and client_secret_basic). TLS, SQLite, audit on and durable
# (every step's event committed before its answer), the server's default Argon2id cost (m=19456 KiB, t=2, p=1) and
# hashing slots. Users are seeded by Safeguard.Benchmarks signin-users (a password, an authenticator app, ten recovery
# codes each; each signs in once, a TOTP code working once per step). The issuer is a host name
# (https://localhost:PORT), as in a deployment, so the sign-in page offers passkeys as it would there.
# The rate limits and the per-source failure limit are raised above what this load sends (they stop floods; this
# measures sign-ins); no sign-in may fail, or nothing is reported.
# Sequence: a warm-up in three rounds (tiered JIT; see below), then the measured batch in two halves, with the Argon2id
# figure measured (same machine, same run, the server's hasher at its default cost, 2 at a time like the server's
# slots) before, between and after them; their mean (the middle one counted twice) is argon2id_ms.
# Prints name=value lines: login_total_cpu_ms (server CPU per sign-in, utime + stime from /proc, over the measured
# batch), argon2id_ms (CPU per Argon2id verification), login_cpu_ms (the first less the second: one hash per sign-in).
#   bench/load/login.sh [measured_sign_ins] [threads] [warm_up_sign_ins]
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${1:-400}
threads=${2:-4}
warm=${3:-300}
log() { printf '==> %s\n' "$*" >&2; }

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build src/Safeguard.Cli -c Release -nologo -clp:ErrorsOnly >&2
dotnet build bench/Safeguard.Benchmarks -c Release -nologo -clp:ErrorsOnly >&2
bin=src/Safeguard.Cli/bin/Release/net10.0
harness=bench/Safeguard.Benchmarks/bin/Release/net10.0/Safeguard.Benchmarks.dll
data=$(mktemp -d /tmp/safeguard-bench-login.XXXXXX)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

"$bin/safeguard" init --data "$data" >/dev/null
redirect=https://app.bench.example/cb
secret=$("$bin/safeguard" clients add --data "$data" --id bench-login --grant authorization_code --redirect-uri "$redirect" \
  --scope bench.read --resource https://api.bench.example --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
log "seeding $((warm + count)) users"
dotnet "$harness" signin-users "$data" $((warm + count)) "$data/users.txt"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
port=$(free_port)
url="https://127.0.0.1:$port"
host="localhost:$port"
management="https://127.0.0.1:$(free_port)"
Logging__LogLevel__Default=Warning dotnet "$bin/Safeguard.Server.dll" --Safeguard:DataPath="$data" --Safeguard:Listen="$url" \
  --Safeguard:Issuer="https://$host" --Safeguard:ManagementListen="$management" \
  --Safeguard:RateLimits:PerAddressPerSecond=1000000 --Safeguard:RateLimits:PerAddressBurst=1000000 \
  --Safeguard:RateLimits:GlobalPerSecond=1000000 --Safeguard:RateLimits:GlobalBurst=1000000 \
  --Safeguard:SignIn:SourceFailureLimit=10000 >"$data/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -sk "$management/readyz" 2>/dev/null | grep -q '"ready"' && break
  sleep 0.2
done
curl -sk "$management/readyz" | grep -q '"ready"' || { echo "server did not become ready" >&2; cat "$data/server.log" >&2; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
# The JIT's background threads: "tid ticks" lines (utime + stime are fields 12 and 13 after the thread's name). The
# runtime ends an idle JIT worker and starts another, so jit_delta counts each thread alive at the end from its state
# at the start, or from zero if it started since (a worker that ended in between is missed).
jit_threads() {
  local t
  for t in /proc/"$server_pid"/task/*; do
    [[ "$(cat "$t/comm" 2>/dev/null)" == ".NET Tiered Com"* ]] && echo "${t##*/} $(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')"
  done
  return 0
}
jit_delta() { awk 'NR == FNR { start[$1] = $2; next } { total += $2 - start[$1] } END { print total + 0 }' <(echo "$1") <(echo "$2"); }
# Every process's CPU on the machine (user, nice, system, irq, softirq, steal): with the server's, it shows how much
# went to the load generator and to anything else running at the time.
machine_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
hz=$(getconf CLK_TCK)
per_sign_in() { awk -v t="$1" -v hz="$hz" -v n="$2" 'BEGIN { printf "%.2f", t / hz * 1000 / n }'; }
# batch FIRST COUNT: COUNT sign-ins of users FIRST..; prints the server CPU ticks they took; fails on any failed sign-in.
batch() {
  local before after summary jit_before jit_after machine_before machine_after
  before=$(cpu_ticks); jit_before=$(jit_threads); machine_before=$(machine_ticks)
  summary=$(python3 bench/load/login.py "$url" "$host" "$data/users.txt" "$1" "$2" "$threads" bench-login "$secret" "$redirect" \
    "openid bench.read" "$data/tls/server.crt") || { echo "sign-ins failed (users $1..$(($1 + $2 - 1))):" >&2; echo "$summary" >&2; tail -n 20 "$data/server.log" >&2; exit 1; }
  after=$(cpu_ticks); jit_after=$(jit_threads); machine_after=$(machine_ticks)
  log "$2 sign-ins, $threads at a time: $summary; server CPU $((after - before)) ticks, $(per_sign_in $((after - before)) "$2") ms per sign-in ($(jit_delta "$jit_before" "$jit_after") ticks in the JIT); other processes, the load generator included, $(per_sign_in $((machine_after - machine_before - after + before)) "$2") ms per sign-in"
  echo $((after - before))
}
argon2id() { dotnet "$harness" argon2id 100 2 | awk -F= '$1 == "argon2id_ms" { print $2 }'; }

# The server is quiet (CPU at most 2 ticks in a second, background loops only), or 30 s have passed.
quiet() {
  local a b waited=0
  while [ "$waited" -lt 30 ]; do
    a=$(cpu_ticks); sleep 1; b=$(cpu_ticks); waited=$((waited + 1))
    [ $((b - a)) -le 2 ] && break
  done
  log "server quiet after ${waited} s"
}

# Warm-up, not measured, in three rounds with a pause after each: on 2 cores the runtime's tiered JIT compiles the
# sign-in path's hot methods again (instrumented, then optimized with dynamic PGO) mostly once a round of load ends
# (3 s or more of CPU on its own thread after each of the first two rounds of 100). After three rounds it spends
# well under 0.5 ms per sign-in under the measured load (the log prints its ticks).
log "warm-up: $warm sign-ins in three rounds"
round=$((warm / 3))
batch 0 "$round" >/dev/null
quiet
batch "$round" "$round" >/dev/null
quiet
batch $((2 * round)) $((warm - 2 * round)) >/dev/null
quiet

# The measured batch in two halves, each between two Argon2id measurements (A B A B A), so a drift of the machine's
# speed during the run moves both figures alike.
hash_1=$(argon2id)
log "argon2id: $hash_1 ms"
quiet
half=$((count / 2))
first_half=$(batch "$warm" "$half")
hash_2=$(argon2id)
log "argon2id: $hash_2 ms"
second_half=$(batch $((warm + half)) $((count - half)))
hash_3=$(argon2id)
log "argon2id: $hash_3 ms"
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
log "server RSS $((rss_kb / 1024)) MB"

awk -v ticks=$((first_half + second_half)) -v hz="$hz" -v n="$count" -v a="$hash_1" -v b="$hash_2" -v c="$hash_3" 'BEGIN {
  total = ticks / hz * 1000 / n
  hash = (a + 2 * b + c) / 4
  printf "login_total_cpu_ms=%.2f\n", total
  printf "argon2id_ms=%.2f\n", hash
  printf "login_cpu_ms=%.2f\n", total - hash
}'
