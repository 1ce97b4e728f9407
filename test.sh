#!/usr/bin/env bash
# The one test command. On a fresh Debian machine (as root) it installs what the tests need, builds the whole
# solution with warnings as errors, runs every test project, and ends with one line: "N passed, N failed".
# Exit status is non-zero on any failure, on a build error, or when no test ran.
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '==> %s\n' "$*" >&2; }

# --- Machine prerequisites -------------------------------------------------------------------------------
# Debian packages the tests use: PostgreSQL (the audit store's second provider), ICU, Chromium (the sign-in pages).
need_packages=()
command -v openssl >/dev/null 2>&1 || need_packages+=(openssl)
# ICU: passwords and usernames are NFKC-normalised, which .NET takes from ICU (the products are not invariant-mode).
ldconfig -p 2>/dev/null | grep 'libicuuc\.so' >/dev/null || need_packages+=(libicu72)
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || need_packages+=(postgresql)
# The sign-in pages are tested in a real browser: Debian's Chromium, driven by Playwright (no browser download).
[ -x /usr/bin/chromium ] || need_packages+=(chromium)
if [ "${#need_packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${need_packages[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}" >/dev/null
  else
    log "missing packages: ${need_packages[*]} (install them, or run as root on Debian)"
    exit 1
  fi
fi

# --- PostgreSQL: a throwaway cluster on a free loopback port, as the postgres user ----------------------
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
pg_dir=$(mktemp -d /tmp/safeguard-pg.XXXXXX)
chown postgres:postgres "$pg_dir" 2>/dev/null || true
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || echo 55432)
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
results=""
stop_postgres() { as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pg_dir"; }
trap '[ -n "$results" ] && rm -rf "$results"; stop_postgres' EXIT
log "starting PostgreSQL ($(basename "$(dirname "$pg_bin")")) on 127.0.0.1:$pg_port"
as_postgres "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -w -l "$pg_dir/server.log" \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start >/dev/null
export SAFEGUARD_TEST_POSTGRES="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres;Pooling=true"

if ! command -v dotnet >/dev/null 2>&1; then
  log "the .NET 10 SDK is required (dotnet not found on PATH)"
  exit 1
fi

export SAFEGUARD_TEST_CHROMIUM=/usr/bin/chromium
export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_NOLOGO=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# --- Build -----------------------------------------------------------------------------------------------
log "restoring and building (Release, warnings are errors)"
dotnet build Safeguard.slnx -c Release -nologo -clp:ErrorsOnly

# --- Test ------------------------------------------------------------------------------------------------
results=$(mktemp -d)
status=0
for project in tests/*/*.Tests.csproj; do
  name=$(basename "$project" .csproj)
  log "testing $name"
  if ! dotnet test "$project" -c Release --no-build -nologo \
      --logger "trx;LogFileName=$name.trx" --results-directory "$results" --logger "console;verbosity=minimal"; then
    status=1
  fi
done

# --- Count -----------------------------------------------------------------------------------------------
# Counted from the TRX result files, not from console text.
passed=0
failed=0
attr() { sed -n "s/.*<Counters [^>]*\b$1=\"\([0-9]*\)\".*/\1/p" "$2" | head -n1; }
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  p=$(attr passed "$trx"); f=$(attr failed "$trx"); e=$(attr error "$trx"); t=$(attr timeout "$trx"); a=$(attr aborted "$trx")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0} + ${e:-0} + ${t:-0} + ${a:-0}))
done

if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
  log "no test ran"
  status=1
fi
[ "$failed" -eq 0 ] || status=1

echo "$passed passed, $failed failed"
exit $status
