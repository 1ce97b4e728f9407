#!/usr/bin/env bash
# Load test of the token endpoint against the real server on loopback: client_credentials with client_secret_basic,
# ES256, TLS, SQLite, audit on and durable (every token's audit event is committed before the response). The rate
# limiter is on, with limits far above what one load generator on loopback sends.
# Side by side in the same run, the same wrk settings against GET /healthz give the TLS + Kestrel baseline.
# Then, on the same server in the same run, refresh-token grants (rotation, the new token's row, the session touched,
# durable audit), each with a token used once (seeded by bench/load/seed_refresh.py), against the same wrk settings,
# measured in ABBA order (client credentials, refresh, refresh, client credentials; each figure the mean of its two
# windows, p50/p99 the worse of the two) after a warm-up of each path.
# Prints name=value lines: token_cc (tokens/s), token_cc_p50_ms, token_cc_p99_ms, token_cc_cpu_us (server CPU per
# token), token_cc_rss_mb, healthz_rps, healthz_cpu_us (server CPU per /healthz request), token_cc_vs_healthz,
# token_refresh (grants/s), token_refresh_p99_ms, token_refresh_cpu_us, token_refresh_vs_cc, token_cc_unaudited
# (tokens answered without a committed audit event; must be 0).
# With SAFEGUARD_BENCH_POSTGRES set to a superuser's libpq connection (say "host=127.0.0.1 port=5432 user=postgres")
# the state and the audit trail go to a throwaway database there instead of SQLite (init as its owner, the server as
# an application role, as in production); the figures then say what PostgreSQL gives on the same machine.
#   bench/load/token_cc.sh [duration_seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-15}
connections=${2:-32}
log() { printf '==> %s\n' "$*" >&2; }

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing wrk"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    echo "wrk is required (Debian package wrk)" >&2
    exit 1
  fi
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build src/Safeguard.Cli -c Release -nologo -clp:ErrorsOnly >&2
bin=src/Safeguard.Cli/bin/Release/net10.0
data=$(mktemp -d /tmp/safeguard-bench.XXXXXX)
server_pid=""
pg=${SAFEGUARD_BENCH_POSTGRES:-}
pg_name="sgbench_$$"
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "$pg" ] && psql "$pg dbname=postgres" -qc "DROP DATABASE IF EXISTS $pg_name WITH (FORCE)" -c "DROP ROLE IF EXISTS ${pg_name}_app" >/dev/null 2>&1 || true
  rm -rf "$data"
}
trap cleanup EXIT

database=()
server_database=()
if [ -n "$pg" ]; then
  # key=value pairs for psql, the same as an Npgsql connection string (host, port, user, dbname become Host, Port, ...).
  npgsql() { awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); k = kv[1]; if (k == "dbname") k = "Database"; if (k == "user") k = "Username"; printf "%s=%s;", k, kv[2] } }' <<<"$1"; }
  psql "$pg dbname=postgres" -qc "CREATE DATABASE $pg_name" -c "CREATE ROLE ${pg_name}_app LOGIN" >/dev/null
  database=(--database "$(npgsql "$pg dbname=$pg_name")")
  server_database=(--Safeguard:Database:Provider=PostgreSql "--Safeguard:Database:ConnectionString=$(npgsql "$pg dbname=$pg_name")Username=${pg_name}_app;")
  export Safeguard__Database__ApplicationRole="${pg_name}_app"
fi

"$bin/safeguard" init --data "$data" "${database[@]}" >/dev/null
secret=$("$bin/safeguard" clients add --data "$data" "${database[@]}" --id bench --scope bench.read --resource https://api.bench.example --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
export SAFEGUARD_BENCH_BASIC=$(printf 'bench:%s' "$secret" | base64 -w0)
web_secret=$("$bin/safeguard" clients add --data "$data" "${database[@]}" --id bench-web --grant authorization_code --grant refresh_token \
  --redirect-uri https://app.bench.example/cb --scope bench.read --resource https://api.bench.example --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
export SAFEGUARD_BENCH_WEB_BASIC=$(printf 'bench-web:%s' "$web_secret" | base64 -w0)
export SAFEGUARD_BENCH_REFRESH_TOKENS="$data/refresh-tokens.txt" SAFEGUARD_BENCH_THREADS=2
# Enough for 7,000 grants a second (more than this VM serves): 15 s of warm-up and two measured windows.
refresh_tokens=${SAFEGUARD_BENCH_REFRESH_COUNT:-$((7000 * (15 + 2 * duration)))}
log "seeding $refresh_tokens refresh tokens"
if [ -n "$pg" ]; then
  python3 bench/load/seed_refresh.py - bench-web https://api.bench.example bench.read "$refresh_tokens" 1000 "$SAFEGUARD_BENCH_REFRESH_TOKENS" \
    | psql "$pg dbname=$pg_name" -q -v ON_ERROR_STOP=1 >/dev/null
  psql "$pg dbname=$pg_name" -qc "ANALYZE" >/dev/null
else
  python3 bench/load/seed_refresh.py "$data/safeguard.db" bench-web https://api.bench.example bench.read "$refresh_tokens" 1000 "$SAFEGUARD_BENCH_REFRESH_TOKENS"
fi
# Disjoint tokens for the warm-up and the two measured windows, in proportion to their lengths (a second use would
# revoke a family).
warm_count=$((refresh_tokens * 15 / (15 + 2 * duration))); half=$(((refresh_tokens - warm_count) / 2))
head -n "$warm_count" "$SAFEGUARD_BENCH_REFRESH_TOKENS" > "$data/refresh-warm.txt"
sed -n "$((warm_count + 1)),$((warm_count + half))p" "$SAFEGUARD_BENCH_REFRESH_TOKENS" > "$data/refresh-measure-1.txt"
tail -n +$((warm_count + half + 1)) "$SAFEGUARD_BENCH_REFRESH_TOKENS" > "$data/refresh-measure-2.txt"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
url="https://127.0.0.1:$(free_port)"
management="https://127.0.0.1:$(free_port)"
Logging__LogLevel__Default=Warning dotnet "$bin/Safeguard.Server.dll" --Safeguard:DataPath="$data" "${server_database[@]}" --Safeguard:Listen="$url" \
  --Safeguard:ManagementListen="$management" \
  --Safeguard:RateLimits:PerAddressPerSecond=1000000 --Safeguard:RateLimits:PerAddressBurst=1000000 \
  --Safeguard:RateLimits:GlobalPerSecond=1000000 --Safeguard:RateLimits:GlobalBurst=1000000 >"$data/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -sk "$management/readyz" 2>/dev/null | grep -q '"ready"' && break
  sleep 0.2
done
curl -sk "$management/readyz" | grep -q '"ready"' || { echo "server did not become ready" >&2; cat "$data/server.log" >&2; exit 1; }

# Warm-up, not measured: the steady state is what a server runs in. On 2 shared cores the runtime's tiered JIT
# (tier 0, instrumented tier, optimized tier with dynamic PGO) takes 20 s or more of load to finish the token path;
# with an 8 s warm-up the measured window still paid for the compiler and ran partly unoptimized code.
warm=$(wrk -t2 -c"$connections" -d25s -s bench/load/token_cc.lua "$url/token")
warm_requests=$(awk '/requests in/ {print $1}' <<<"$warm")
wrk -t2 -c"$connections" -d3s "$url/healthz" >/dev/null

cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
hz=$(getconf CLK_TCK)

log "baseline: GET /healthz, $connections connections, ${duration}s"
health_before=$(cpu_ticks)
health=$(wrk -t2 -c"$connections" -d"${duration}s" --latency "$url/healthz")
health_after=$(cpu_ticks)
health_rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$health")
health_requests=$(awk '/requests in/ {print $1}' <<<"$health")

# The refresh path's own warm-up (its JIT tiers are not the client-credentials path's): 15 s.
refresh_warm=$(SAFEGUARD_BENCH_REFRESH_TOKENS="$data/refresh-warm.txt" wrk -t2 -c"$connections" -d15s -s bench/load/token_refresh.lua "$url/token")
grep -q "Non-2xx" <<<"$refresh_warm" && { echo "refresh warm-up requests failed:" >&2; echo "$refresh_warm" >&2; exit 1; }
refresh_warm_requests=$(awk '/requests in/ {print $1}' <<<"$refresh_warm")

to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v } else { sub(/s$/,"",v); print v*1000 } }'; }
# One measured window: prints "requests/s requests cpu_ticks p50_ms p99_ms".
measure() { # name lua [refresh tokens file]
  local out before after
  log "token endpoint: $1, $connections connections, ${duration}s"
  before=$(cpu_ticks)
  out=$(SAFEGUARD_BENCH_REFRESH_TOKENS="${3:-}" wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$2" "$url/token")
  after=$(cpu_ticks)
  echo "$out" >&2
  if grep -q "Non-2xx" <<<"$out"; then
    echo "some $1 requests failed (refresh: too few seeded tokens? set SAFEGUARD_BENCH_REFRESH_COUNT):" >&2
    exit 1
  fi
  printf '%s %s %s %s %s\n' "$(awk '/^Requests\/sec/ {print $2}' <<<"$out")" "$(awk '/requests in/ {print $1}' <<<"$out")" "$((after - before))" \
    "$(awk '$1=="50%" {print $2}' <<<"$out" | to_ms)" "$(awk '$1=="99%" {print $2}' <<<"$out" | to_ms)"
}

# ABBA: client credentials, refresh, refresh, client credentials, so the machine's drift hits both sides alike.
cc1=$(measure client_credentials bench/load/token_cc.lua)
rf1=$(measure refresh_token bench/load/token_refresh.lua "$data/refresh-measure-1.txt")
rf2=$(measure refresh_token bench/load/token_refresh.lua "$data/refresh-measure-2.txt")
cc2=$(measure client_credentials bench/load/token_cc.lua)
log "client credentials: $cc1 / $cc2; refresh: $rf1 / $rf2 (requests/s, requests, CPU ticks, p50 ms, p99 ms)"
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")

# Every token has its committed audit event: stop the server cleanly, then count token.issued events in the trail.
kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
audited=$("$bin/safeguard" audit search --data "$data" "${database[@]}" --type token.issued 2>/dev/null | tail -n +2 | wc -l)
"$bin/safeguard" audit verify --data "$data" "${database[@]}" >&2

read -r cc1_rps cc1_n cc1_ticks cc1_p50 cc1_p99 <<<"$cc1"; read -r cc2_rps cc2_n cc2_ticks cc2_p50 cc2_p99 <<<"$cc2"
read -r rf1_rps rf1_n rf1_ticks _ rf1_p99 <<<"$rf1"; read -r rf2_rps rf2_n rf2_ticks _ rf2_p99 <<<"$rf2"
awk -v rps="$(awk -v a="$cc1_rps" -v b="$cc2_rps" 'BEGIN { print (a + b) / 2 }')" -v h="$health_rps" -v ticks="$((cc1_ticks + cc2_ticks))" -v hz="$hz" \
    -v n="$((cc1_n + cc2_n))" -v p50="$(printf '%s\n%s\n' "$cc1_p50" "$cc2_p50" | sort -g | tail -1)" -v p99="$(printf '%s\n%s\n' "$cc1_p99" "$cc2_p99" | sort -g | tail -1)" \
    -v rss="$rss_kb" -v audited="$audited" -v warm="$warm_requests" -v hticks="$((health_after - health_before))" -v hn="$health_requests" \
    -v rrps="$(awk -v a="$rf1_rps" -v b="$rf2_rps" 'BEGIN { print (a + b) / 2 }')" -v rticks="$((rf1_ticks + rf2_ticks))" -v rn="$((rf1_n + rf2_n))" \
    -v rp99="$(printf '%s\n%s\n' "$rf1_p99" "$rf2_p99" | sort -g | tail -1)" -v rwarm="$refresh_warm_requests" 'BEGIN {
  printf "token_cc=%.0f\n", rps
  printf "token_cc_p50_ms=%.2f\n", p50
  printf "token_cc_p99_ms=%.2f\n", p99
  printf "token_cc_cpu_us=%.1f\n", (ticks / hz) * 1e6 / n
  printf "token_cc_rss_mb=%.0f\n", rss / 1024
  printf "healthz_rps=%.0f\n", h
  printf "healthz_cpu_us=%.1f\n", (hticks / hz) * 1e6 / hn
  printf "token_cc_vs_healthz=%.3f\n", rps / h
  printf "token_refresh=%.0f\n", rrps
  printf "token_refresh_p99_ms=%.2f\n", rp99
  printf "token_refresh_cpu_us=%.1f\n", (rticks / hz) * 1e6 / rn
  printf "token_refresh_vs_cc=%.3f\n", rrps / rps
  # Tokens answered (warm-up + measured) without a committed token.issued event: must be 0. (wrk may cut requests
  # in flight at the end, so the trail can hold a few more events than responses counted.)
  missing = warm + n + rwarm + rn - audited
  printf "token_cc_unaudited=%d\n", (missing > 0 ? missing : 0)
}'
