#!/usr/bin/env bash
# The one test command. On a fresh Debian machine (as root) it installs what the tests need, builds the whole
# solution with warnings as errors, runs every test project, and ends with one line: "N passed, N failed".
# Exit status is non-zero on any failure, on a build error, or when no test ran.
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '==> %s\n' "$*" >&2; }

# --- Machine prerequisites -------------------------------------------------------------------------------
# Debian packages the tests use. Later suites add PostgreSQL and Chromium here.
need_packages=()
command -v openssl >/dev/null 2>&1 || need_packages+=(openssl)
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

if ! command -v dotnet >/dev/null 2>&1; then
  log "the .NET 10 SDK is required (dotnet not found on PATH)"
  exit 1
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_NOLOGO=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# --- Build -----------------------------------------------------------------------------------------------
log "restoring and building (Release, warnings are errors)"
dotnet build Safeguard.slnx -c Release -nologo -clp:ErrorsOnly

# --- Test ------------------------------------------------------------------------------------------------
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
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
