# shellcheck shell=bash
# Throwaway test services for scripts/test, started on loopback only.
#
# Each service NAME provides:
#   start_NAME  - provision + start it, export the env var(s) the tests read,
#                 print one "NAME: host:port" line, and call
#                 `register_stop stop_NAME`. Return non-zero (after warning)
#                 when it cannot be provided; the caller decides whether that
#                 is fatal (STRATA_TEST_REQUIRE_SERVICES=1) or not.
#   stop_NAME   - stop it; must be idempotent and quiet-safe (it runs from
#                 the EXIT trap with output discarded).
# To add a service (redis, prometheus, ...): write the two functions below
# and append NAME to TEST_SERVICES in scripts/test.
#
# Expects from the caller: REPO_ROOT, SERVICES_DIR, and the helpers below.

_STOP_FUNCS=()

log()  { printf '%s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }

is_root() { [[ ${EUID:-$(id -u)} -eq 0 ]]; }

register_stop() { _STOP_FUNCS+=("$1"); }

# Stops every started service, last started first. Safe to call twice.
stop_services() {
  local i
  for (( i=${#_STOP_FUNCS[@]}-1; i>=0; i-- )); do
    "${_STOP_FUNCS[$i]}" || true
  done
  _STOP_FUNCS=()
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the first free loopback port at or after $1 (tries 100 ports).
free_port() {
  local p=$1 last=$(( $1 + 100 ))
  while (( p < last )); do
    if ! port_in_use "$p"; then echo "$p"; return 0; fi
    p=$(( p + 1 ))
  done
  return 1
}

# apt-get install "$@" when we are root or have passwordless sudo.
apt_install() {
  local sudo=()
  if ! command -v apt-get >/dev/null 2>&1; then
    warn "apt-get not available; cannot install: $*"; return 1
  fi
  if ! is_root; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      warn "not root and no passwordless sudo; cannot install: $*"; return 1
    fi
  fi
  mkdir -p "$SERVICES_DIR"
  local aptlog="$SERVICES_DIR/apt.log"
  log "installing $* with apt-get (log: $aptlog) ..."
  if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update \
         && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; } \
         >"$aptlog" 2>&1; then
    tail -n 20 "$aptlog" >&2 || true
    warn "apt-get install $* failed"; return 1
  fi
}

# ---------------------------------------------------------------- postgres --

PG_BINDIR=""
PG_DIR=""          # service folder: holds data/ and postgres.log
PG_DIR_IS_TMP=0
PG_PORT=""
PG_USER=postgres   # database superuser name (initdb -U)

_pg_find_bindir() {
  local d
  if command -v initdb >/dev/null 2>&1; then
    d=$(dirname "$(readlink -f "$(command -v initdb)")")
    if [[ -x $d/pg_ctl && -x $d/postgres ]]; then echo "$d"; return 0; fi
  fi
  # Debian keeps the server binaries off PATH.
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]]; then echo "$d"; return 0; fi
  return 1
}

# Runs a PostgreSQL server command as the OS user that owns the cluster:
# root is refused by initdb/pg_ctl/postgres, so as root use the 'postgres'
# account (created by Debian's package); otherwise run as ourselves.
_pg_run() {
  if is_root; then
    if command -v runuser >/dev/null 2>&1; then
      (cd / && runuser -u postgres -- "$@")
    else
      (cd / && su -s /bin/sh postgres -c "$(printf '%q ' "$@")")
    fi
  else
    "$@"
  fi
}

# Stops a cluster left behind by an earlier run that was killed, then wipes it.
_pg_wipe_leftover() {
  local dir=$1
  [[ -e $dir ]] || return 0
  if [[ -f $dir/data/postmaster.pid && -n $PG_BINDIR ]]; then
    _pg_run "$PG_BINDIR/pg_ctl" -D "$dir/data" stop -m immediate -w -t 20 >/dev/null 2>&1 || true
  fi
  rm -rf "$dir" 2>/dev/null || return 1
}

start_postgres() {
  if [[ -n ${STRATA_TEST_POSTGRES:-} ]]; then
    log "postgres: external (STRATA_TEST_POSTGRES already set, not provisioning)"
    return 0
  fi

  if ! PG_BINDIR=$(_pg_find_bindir); then
    apt_install postgresql || true
    if ! PG_BINDIR=$(_pg_find_bindir); then
      warn "PostgreSQL server binaries (initdb/pg_ctl) not found; tests needing STRATA_TEST_POSTGRES will skip"
      return 1
    fi
  fi
  if is_root && ! id -u postgres >/dev/null 2>&1; then
    warn "running as root but there is no 'postgres' OS user to run the server as; not starting postgres"
    return 1
  fi

  PG_DIR="$SERVICES_DIR/postgres"
  PG_DIR_IS_TMP=0
  if ! _pg_wipe_leftover "$PG_DIR"; then
    warn "cannot wipe leftover $PG_DIR (owned by another user?); using a temporary folder"
    PG_DIR=""
  fi
  if [[ -n $PG_DIR ]]; then
    mkdir -p "$PG_DIR"
    if is_root; then
      chown postgres: "$PG_DIR"
      # The repo may sit under a folder 'postgres' cannot enter (e.g. /root).
      if ! (cd / && runuser -u postgres -- test -w "$PG_DIR") 2>/dev/null; then
        rm -rf "$PG_DIR"; PG_DIR=""
      fi
    fi
  fi
  if [[ -z $PG_DIR ]]; then
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/strata-test-postgres.XXXXXX")
    PG_DIR_IS_TMP=1
    chmod 755 "$PG_DIR"
    if is_root; then chown postgres: "$PG_DIR"; fi
  fi
  register_stop stop_postgres

  local data="$PG_DIR/data" logf="$PG_DIR/postgres.log"
  if ! _pg_run "$PG_BINDIR/initdb" -D "$data" -U "$PG_USER" --auth=trust \
         --encoding=UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1; then
    cat "$PG_DIR/initdb.log" >&2 || true
    warn "initdb failed; not starting postgres"
    return 1
  fi
  # TCP on loopback only; no unix socket (avoids /var/run permissions and
  # socket path length limits). initdb's pg_hba.conf already trusts loopback.
  _pg_run tee -a "$data/postgresql.conf" >/dev/null <<CONF

# --- scripts/test ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
CONF

  local attempt port
  PG_PORT=""
  port=${STRATA_TEST_PG_PORT:-55432}
  for attempt in 1 2 3 4 5; do
    port=$(free_port "$port") || { warn "no free loopback port for postgres"; return 1; }
    if _pg_run "$PG_BINDIR/pg_ctl" -D "$data" -l "$logf" -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
      PG_PORT=$port; break
    fi
    # Lost a race for the port (or another failure: see the log).
    _pg_run "$PG_BINDIR/pg_ctl" -D "$data" stop -m immediate >/dev/null 2>&1 || true
    port=$(( port + 1 ))
  done
  if [[ -z $PG_PORT ]]; then
    tail -n 20 "$logf" >&2 2>/dev/null || true
    warn "postgres failed to start (log: $logf)"
    return 1
  fi

  local i
  for (( i=0; i<60; i++ )); do
    "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" && break
    sleep 0.5
  done
  if ! "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER"; then
    warn "postgres on 127.0.0.1:$PG_PORT is not accepting connections (log: $logf)"
    return 1
  fi
  if ! "$PG_BINDIR/psql" -q -X -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres \
         -v ON_ERROR_STOP=1 -c 'CREATE DATABASE strata_test' >/dev/null; then
    warn "could not create database strata_test"
    return 1
  fi

  export STRATA_TEST_POSTGRES="Host=127.0.0.1;Port=$PG_PORT;Database=strata_test;Username=$PG_USER"
  log "postgres: 127.0.0.1:$PG_PORT (database strata_test, $("$PG_BINDIR/postgres" --version 2>/dev/null || echo unknown version))"
}

stop_postgres() {
  [[ -n $PG_DIR && -n $PG_BINDIR ]] || return 0
  local data="$PG_DIR/data"
  if [[ -f $data/postmaster.pid ]]; then
    _pg_run "$PG_BINDIR/pg_ctl" -D "$data" stop -m fast -w -t 30 \
      || _pg_run "$PG_BINDIR/pg_ctl" -D "$data" stop -m immediate -w -t 30 \
      || true
  fi
  if (( PG_DIR_IS_TMP )); then
    rm -rf "$PG_DIR"
  else
    rm -rf "$data"   # keep postgres.log for a look after a failed run
  fi
  PG_DIR=""
}

# ------------------------------------------------------------------- redis --
# Debian's redis-server, as the prediction cache's second level in the tests:
# no persistence, loopback only, a throwaway folder.

REDIS_DIR=""
REDIS_PORT=""
REDIS_PID=""

start_redis() {
  if [[ -n ${STRATA_TEST_REDIS:-} ]]; then
    log "redis: external (STRATA_TEST_REDIS already set, not provisioning)"
    return 0
  fi
  local server
  server=$(command -v redis-server || true)
  if [[ -z $server ]]; then
    apt_install redis-server || true
    server=$(command -v redis-server || echo /usr/bin/redis-server)
    if [[ ! -x $server ]]; then
      warn "redis-server not found; tests needing STRATA_TEST_REDIS will skip"
      return 1
    fi
  fi

  REDIS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/strata-test-redis.XXXXXX")
  register_stop stop_redis
  local attempt port i
  port=${STRATA_TEST_REDIS_PORT:-56379}
  for attempt in 1 2 3 4 5; do
    port=$(free_port "$port") || { warn "no free loopback port for redis"; return 1; }
    "$server" --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$REDIS_DIR" \
      --daemonize no --logfile "$REDIS_DIR/redis.log" </dev/null >/dev/null 2>&1 &
    REDIS_PID=$!
    for (( i=0; i<50; i++ )); do
      port_in_use "$port" && break
      kill -0 "$REDIS_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$REDIS_PID" 2>/dev/null && port_in_use "$port"; then
      REDIS_PORT=$port; break
    fi
    # Lost a race for the port (or another failure: see the log).
    kill "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=""
    port=$(( port + 1 ))
  done
  if [[ -z $REDIS_PORT ]]; then
    tail -n 20 "$REDIS_DIR/redis.log" >&2 2>/dev/null || true
    warn "redis-server failed to start"
    return 1
  fi
  export STRATA_TEST_REDIS="127.0.0.1:$REDIS_PORT"
  log "redis: 127.0.0.1:$REDIS_PORT ($("$server" --version 2>/dev/null | awk '{print $1, $2, $3}' || echo unknown version))"
}

stop_redis() {
  if [[ -n $REDIS_PID ]]; then
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=""
  fi
  [[ -n $REDIS_DIR ]] && rm -rf "$REDIS_DIR"
  REDIS_DIR=""
}

# -------------------------------------------------------------- prometheus --
# Not a service started here: the monitoring tests (tests/Strata.Server.Tests/
# Monitoring) run promtool and start their own Prometheus processes on free
# loopback ports. This only installs Debian's `prometheus` package (which ships
# promtool; its systemd unit is not used) and exports where the binaries are.

ensure_prometheus() {
  local prom=${STRATA_TEST_PROMETHEUS:-} tool=${STRATA_TEST_PROMTOOL:-}
  if [[ -n $prom && -n $tool ]]; then
    log "prometheus: external (STRATA_TEST_PROMETHEUS=$prom, STRATA_TEST_PROMTOOL=$tool)"
    return 0
  fi
  prom=${prom:-$(command -v prometheus || echo /usr/bin/prometheus)}
  tool=${tool:-$(command -v promtool || echo /usr/bin/promtool)}
  if [[ ! -x $prom || ! -x $tool ]]; then
    apt_install prometheus || true
    prom=/usr/bin/prometheus tool=/usr/bin/promtool
    if [[ ! -x $prom || ! -x $tool ]]; then
      warn "prometheus/promtool not found; the monitoring tests will skip"
      return 1
    fi
  fi
  export STRATA_TEST_PROMETHEUS=$prom STRATA_TEST_PROMTOOL=$tool
  log "prometheus: $prom, $tool ($("$prom" --version 2>/dev/null | head -n 1 || echo unknown version))"
}

# --------------------------------------------------------------- chromium --
# The dashboard's browser tests (tests/Strata.Dashboard.Tests) drive Debian's
# chromium through Playwright; Playwright's own browsers are never downloaded.
# Installs the package when it is missing, once.

ensure_chromium() {
  local bin=${STRATA_TEST_CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}
  if [[ ! -x $bin ]]; then
    apt_install chromium || true
    bin=/usr/bin/chromium
    if [[ ! -x $bin ]]; then
      warn "chromium not found; the dashboard's browser tests will skip"
      return 1
    fi
  fi
  export STRATA_TEST_CHROMIUM=$bin
  log "chromium: $bin ($("$bin" --version 2>/dev/null | head -n 1 || echo unknown version))"
}

# ------------------------------------------------------------ job sandbox --
# The local runtime runs every job in a bubblewrap sandbox (docs/sandbox.md);
# the sandbox tests also run a PyTorch job in it. Installs Debian's packages
# when they are missing, once.

ensure_job_tools() {
  local missing=()
  command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
  [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || missing+=(python3-torch)
  # A job's default entrypoint (and `strata run`'s) is `python train.py`.
  command -v python >/dev/null 2>&1 || missing+=(python-is-python3)
  if (( ${#missing[@]} > 0 )); then
    apt_install "${missing[@]}" || true
  fi
  if command -v bwrap >/dev/null 2>&1; then
    log "sandbox: $(command -v bwrap) ($(bwrap --version 2>/dev/null || echo unknown version))"
  else
    warn "bubblewrap not found; jobs run unconfined and the sandbox tests skip"
    return 1
  fi
}

# The Python SDK's tests (sdk/python/tests/run.py) make a venv and pip-install the package offline:
# Debian's python3-venv, python3-pip, python3-setuptools and python3-wheel, installed when missing.
ensure_python_tools() {
  if [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import venv, ensurepip, pip, setuptools, wheel' >/dev/null 2>&1; then
    return 0
  fi
  apt_install python3 python3-venv python3-pip python3-setuptools python3-wheel || {
    warn "could not install Python's venv/pip/setuptools/wheel; the Python SDK's tests may fail"
    return 1
  }
}

# ----------------------------------------------------------- OpenAPI linter --
# @redocly/cli, which ApiReferenceTests runs on the server's OpenAPI document (redocly.yaml), at a pinned
# version: installed with npm once into .tools/redocly (git-ignored), quietly, and reused by later runs.
# Exports STRATA_TEST_REDOCLY, the linter's path; without it that one test skips and says why.

REDOCLY_VERSION=2.77.0

ensure_redocly() {
  if [[ -n ${STRATA_TEST_REDOCLY:-} ]]; then
    log "redocly: external (STRATA_TEST_REDOCLY=$STRATA_TEST_REDOCLY)"
    return 0
  fi
  local dir=$REPO_ROOT/.tools/redocly
  local bin=$dir/node_modules/.bin/redocly
  local installed
  installed=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$dir/node_modules/@redocly/cli/package.json" 2>/dev/null | head -n 1)
  if [[ ! -x $bin || $installed != "$REDOCLY_VERSION" ]]; then
    if ! command -v npm >/dev/null 2>&1; then
      warn "npm not found; the OpenAPI lint test skips (install Node.js and npm)"
      return 1
    fi
    mkdir -p "$dir" "$SERVICES_DIR"
    local npmlog=$SERVICES_DIR/npm.log
    log "installing @redocly/cli@$REDOCLY_VERSION with npm into $dir (log: $npmlog) ..."
    if ! npm install --prefix "$dir" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
           "@redocly/cli@$REDOCLY_VERSION" >"$npmlog" 2>&1 || [[ ! -x $bin ]]; then
      tail -n 20 "$npmlog" >&2 || true
      warn "npm install @redocly/cli@$REDOCLY_VERSION failed; the OpenAPI lint test skips"
      return 1
    fi
  fi
  export STRATA_TEST_REDOCLY=$bin
  log "redocly: $bin ($REDOCLY_VERSION)"
}
