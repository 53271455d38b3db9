#!/usr/bin/env bash
# Local test services: FerretDB on SQLite, PostgreSQL + FerretDB on PostgreSQL (real password checks),
# moto (AWS API), mongodump/mongorestore built from a pinned mongo-tools module, and the bench server (a
# synthetic in-memory MongoDB for the benchmarks).
#
#   bash test/services/services.sh up|down|status
#
# State lives in .services/ at the repository root; `up` writes .services.env there too.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
SRC="$ROOT/test/services"
STATE="$ROOT/.services"
BIN="$STATE/bin"
DATA="$STATE/data"
LOGS="$STATE/logs"
RUN="$STATE/run"
ENV_FILE="$ROOT/.services.env"

# Ports derive from the checkout path so that two checkouts on one machine do not collide.
# Kept below 32768, where Linux starts handing out ephemeral ports.
PATH_SUM="$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
PORT_BASE="${ATLAS_OPS_SERVICES_PORT_BASE:-$((20000 + (PATH_SUM % 1200) * 10))}"
PORT_FERRETDB_SQLITE=$((PORT_BASE + 0))
PORT_POSTGRES=$((PORT_BASE + 1))
PORT_FERRETDB_PG=$((PORT_BASE + 2))
PORT_MOTO=$((PORT_BASE + 3))
PORT_BENCH_SERVER=$((PORT_BASE + 4))
# The always-on bench server holds a small synthetic collection (its test stays quick); `npm run bench`
# starts its own instances at the sizes it measures.
BENCH_SERVER_ORDERS=20000

# Test-only credentials: every listener is bound to 127.0.0.1.
PG_ADMIN_USER="postgres"
PG_ADMIN_PASSWORD="atlas-ops-admin-pw"
PG_APP_USER="atlasops"
PG_APP_PASSWORD="atlasops-test-pw"
PG_GROUP_ROLE="ferretdb_owner"
PG_DATABASE="ferretdb"
# FerretDB keeps one pgx pool per user+password. Short-lived backend connections make a changed or removed
# PostgreSQL password stop working through FerretDB within about three seconds.
PG_URL_PARAMS="sslmode=disable&pool_max_conn_lifetime=2s&pool_max_conn_idle_time=1s&pool_health_check_period=1s"

# mongo-tools release pinned in mongo-tools/go.mod (tags are not semver, so go.mod holds a pseudo-version).
MONGO_TOOLS_RELEASE="100.11.0"
MONGO_TOOLS_PSEUDO="v0.0.0-20250131183507-b8a566a7f38f"

STEP="setup"
STEP_LOG=""

log() { printf 'services: %s\n' "$*" >&2; }

fail() {
  log "FAILED at step '$STEP': $*"
  if [ -n "$STEP_LOG" ]; then
    log "log file: $STEP_LOG"
    if [ -s "$STEP_LOG" ]; then
      tail -n 25 "$STEP_LOG" | sed 's/^/    | /' >&2
    fi
  fi
  exit 1
}

trap 'fail "command failed (line $LINENO): $BASH_COMMAND"' ERR

step() {
  STEP="$1"
  STEP_LOG="${2:-}"
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

read_pid() { [ -f "$RUN/$1.pid" ] && tr -dc '0-9' <"$RUN/$1.pid" || true; }

# True when a TCP connection to 127.0.0.1:$1 succeeds.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Describes whoever listens on a port, for error messages.
port_holder() {
  local line=""
  if command -v ss >/dev/null 2>&1; then
    line="$(ss -ltnpH "sport = :$1" 2>/dev/null | head -n 1 || true)"
  fi
  if [ -n "$line" ]; then printf '%s' "$line"; else printf 'unknown process'; fi
}

# True when the pid file of service $1 names a live process whose command line contains $2.
is_ours() {
  local pid
  pid="$(read_pid "$1")"
  pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# True when the process of service $1 runs exactly the command line given as the other arguments.
same_cmdline() {
  local name="$1" pid
  shift
  pid="$(read_pid "$name")"
  [ -n "$pid" ] && cmp -s "/proc/$pid/cmdline" <(printf '%s\0' "$@")
}

# Fails when something that is not ours already listens on a port we are about to use.
ensure_port_free() {
  local port="$1" what="$2"
  if port_open "$port"; then
    STEP_LOG=""
    fail "port $port ($what) is already in use by something this checkout did not start: $(port_holder "$port"). Stop it, or set ATLAS_OPS_SERVICES_PORT_BASE to another multiple of 10."
  fi
}

wait_until() {
  local seconds="$1" pid="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  while ((SECONDS < deadline)); do
    if "$@"; then return 0; fi
    if [ -n "$pid" ] && ! pid_alive "$pid"; then return 1; fi
    sleep 0.2
  done
  return 1
}

# Keeps one previous log per service when a log grows past 20 MB.
rotate_log() {
  local size
  size="$(stat -c %s "$1" 2>/dev/null || echo 0)"
  if [ "$size" -gt 20000000 ]; then mv -f "$1" "$1.old"; fi
}

# Starts a daemon in its own session, detached from our stdio and from the lock (fd 9).
start_daemon() {
  local name="$1" logfile="$2"
  shift 2
  rotate_log "$logfile"
  printf '\n==== %s start %s\n' "$(date -u +%FT%TZ)" "$name" >>"$logfile"
  (cd "$STATE" && exec setsid "$@" </dev/null >>"$logfile" 2>&1 9>&-) &
  echo "$!" >"$RUN/$name.pid"
}

# Stops the daemons named by pid files: SIGTERM to all at once (FerretDB waits up to 3 s for its clients),
# SIGKILL after 10 s.
stop_pidfile() {
  local name pid i
  local -a names=() pids=()
  for name in "$@"; do
    pid="$(read_pid "$name")"
    if pid_alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      names+=("$name")
      pids+=("$pid")
    fi
    rm -f "$RUN/$name.pid"
  done
  for ((i = 0; i < ${#pids[@]}; i++)); do
    local tries
    for ((tries = 0; tries < 100; tries++)); do
      pid_alive "${pids[i]}" || break
      sleep 0.1
    done
    if pid_alive "${pids[i]}"; then
      log "${names[i]} (pid ${pids[i]}) did not stop on SIGTERM; killing it"
      kill -KILL "${pids[i]}" 2>/dev/null || true
    fi
    log "stopped ${names[i]} (pid ${pids[i]})"
  done
}

# ---------------------------------------------------------------------------------------------------------
# Go builds

find_go() {
  if command -v go >/dev/null 2>&1; then return 0; fi
  if [ -x /usr/local/go/bin/go ]; then
    PATH="/usr/local/go/bin:$PATH"
    return 0
  fi
  fail "the Go toolchain is not installed (needed to build FerretDB and mongo-tools)"
}

go_env_setup() {
  # Go's default caches live under HOME; without HOME, keep them inside .services (deletable: -modcacherw).
  local gocache
  gocache="$(go env GOCACHE 2>/dev/null || true)"
  if [ -z "$gocache" ] || [ "$gocache" = off ]; then export GOCACHE="$STATE/go/cache"; fi
  if [ -z "$(go env GOPATH 2>/dev/null || true)" ]; then
    export GOPATH="$STATE/go" GOFLAGS="${GOFLAGS:+$GOFLAGS }-modcacherw"
  fi
  export CGO_ENABLED=0 GOTOOLCHAIN=local
  GO_VERSION="$(go env GOVERSION)"
}

# True when $1 (a binary) is missing, older than any Go source in $2, or built by another Go version.
needs_build() {
  local bin="$1" dir="$2"
  [ -x "$bin" ] || return 0
  [ "$(cat "$bin.go-version" 2>/dev/null || true)" = "$GO_VERSION" ] || return 0
  [ -n "$(find "$dir" -maxdepth 1 -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -newer "$bin" -print -quit)" ]
}

FERRETDB_REBUILT=0
BENCH_SERVER_REBUILT=0

build_ferretdb() {
  local bin="$BIN/ferretdb" logfile="$LOGS/build-ferretdb.log"
  step "build FerretDB" "$logfile"
  needs_build "$bin" "$SRC/ferretdb" || return 0
  log "building FerretDB (first build downloads modules and takes a few minutes; log: $logfile)"
  local t0=$SECONDS
  (cd "$SRC/ferretdb" && go build -buildvcs=false -trimpath -o "$bin.tmp" .) >"$logfile" 2>&1 ||
    fail "go build of test/services/ferretdb failed"
  mv -f "$bin.tmp" "$bin"
  echo "$GO_VERSION" >"$bin.go-version"
  FERRETDB_REBUILT=1
  log "built $bin in $((SECONDS - t0))s"
}

build_bench_server() {
  local bin="$BIN/bench-server" logfile="$LOGS/build-bench-server.log"
  step "build the bench server" "$logfile"
  needs_build "$bin" "$SRC/bench-server" || return 0
  log "building the bench server (log: $logfile)"
  local t0=$SECONDS
  (cd "$SRC/bench-server" && go build -buildvcs=false -trimpath -o "$bin.tmp" .) >"$logfile" 2>&1 ||
    fail "go build of test/services/bench-server failed"
  mv -f "$bin.tmp" "$bin"
  echo "$GO_VERSION" >"$bin.go-version"
  BENCH_SERVER_REBUILT=1
  log "built $bin in $((SECONDS - t0))s"
}

build_mongo_tools() {
  local logfile="$LOGS/build-mongo-tools.log" dir="$SRC/mongo-tools"
  step "build mongo-tools (mongodump, mongorestore)" "$logfile"
  if ! needs_build "$BIN/mongodump" "$dir" && ! needs_build "$BIN/mongorestore" "$dir"; then return 0; fi
  local version
  version="$(sed -n 's#^[[:space:]]*github.com/mongodb/mongo-tools \(v[^ ]*\).*#\1#p' "$dir/go.mod" | head -n 1)"
  [ -n "$version" ] || fail "no github.com/mongodb/mongo-tools requirement in $dir/go.mod"
  local release="$version"
  if [ "$version" = "$MONGO_TOOLS_PSEUDO" ]; then release="$MONGO_TOOLS_RELEASE"; fi
  local ldflags="-X main.VersionStr=$release -X main.GitCommit=${version##*-}"
  log "building mongodump and mongorestore $release (log: $logfile)"
  local t0=$SECONDS tool
  : >"$logfile"
  for tool in mongodump mongorestore; do
    (cd "$dir" && go build -buildvcs=false -trimpath -ldflags "$ldflags" -o "$BIN/$tool.tmp" \
      "github.com/mongodb/mongo-tools/$tool/main") >>"$logfile" 2>&1 || fail "go build of $tool failed"
    mv -f "$BIN/$tool.tmp" "$BIN/$tool"
    echo "$GO_VERSION" >"$BIN/$tool.go-version"
  done
  log "built mongodump and mongorestore in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------------------------------------------------
# PostgreSQL

PG_BIN=""
PG_OS_USER=""
PG_BASE=""
PG_DATA=""
PG_SOCK=""
PG_LOG=""

find_pg_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
      PG_BIN="$d"
      return 0
    fi
  done
  return 1
}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$PG_OS_USER" -- "$@"
  else
    "$@"
  fi
}

pg_setup_paths() {
  step "install PostgreSQL" "$LOGS/apt-postgresql.log"
  if ! find_pg_bin; then
    [ "$(id -u)" -eq 0 ] || fail "PostgreSQL server binaries are missing; install the Debian package 'postgresql'"
    log "installing PostgreSQL with apt-get (log: $STEP_LOG)"
    {
      DEBIAN_FRONTEND=noninteractive apt-get update &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql
    } </dev/null >"$STEP_LOG" 2>&1 9>&- || fail "apt-get install postgresql failed"
    find_pg_bin || fail "apt-get installed postgresql but no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
  fi

  step "prepare PostgreSQL directories"
  # PostgreSQL refuses to run as root: it runs as the 'postgres' OS user when we are root.
  if [ "$(id -u)" -eq 0 ]; then
    PG_OS_USER="postgres"
    if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
      useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER" ||
        fail "could not create the '$PG_OS_USER' OS user"
    fi
  else
    PG_OS_USER="$(id -un)"
  fi

  PG_BASE="$DATA/postgres"
  chmod 0755 "$STATE" "$DATA" "$RUN" "$LOGS"
  mkdir -p "$PG_BASE"
  [ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER" "$PG_BASE"
  # A checkout under a private directory (e.g. /root) is not reachable by the postgres user: use /var/tmp.
  if ! as_pg test -w "$PG_BASE" 2>/dev/null; then
    PG_BASE="/var/tmp/atlas-ops-services-$PATH_SUM/postgres"
    log "the '$PG_OS_USER' OS user cannot reach $DATA; PostgreSQL files go to $PG_BASE"
    mkdir -p "$PG_BASE"
    chmod 0755 "$(dirname "$PG_BASE")"
    [ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER" "$PG_BASE"
  fi
  PG_DATA="$PG_BASE/data"
  PG_SOCK="$PG_BASE/socket"
  # Unix socket paths are limited to 107 bytes.
  if [ "${#PG_SOCK}" -gt 80 ]; then PG_SOCK="/tmp/atlas-ops-pg-$PATH_SUM"; fi
  mkdir -p "$PG_SOCK"
  [ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER" "$PG_SOCK"
  chmod 0700 "$PG_SOCK"
  if [ "$PG_BASE" = "$DATA/postgres" ]; then PG_LOG="$LOGS/postgres.log"; else PG_LOG="$PG_BASE/postgres.log"; fi
  pg_running || rotate_log "$PG_LOG"
  touch "$PG_LOG"
  [ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER" "$PG_LOG"
  printf '%s\n%s\n' "$PG_DATA" "$PG_SOCK" >"$RUN/postgres.paths"
}

pg_running() { [ -f "$PG_DATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

pg_start() {
  step "initialize PostgreSQL" "$LOGS/postgres-initdb.log"
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    rm -rf "$PG_DATA"
    log "initializing PostgreSQL in $PG_DATA"
    local pwfile="$PG_BASE/initdb-password"
    (umask 077 && printf '%s\n' "$PG_ADMIN_PASSWORD" >"$pwfile")
    [ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER" "$pwfile"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_ADMIN_USER" --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >"$STEP_LOG" 2>&1 9>&- ||
      { rm -f "$pwfile"; fail "initdb failed"; }
    rm -f "$pwfile"
    printf "\ninclude_if_exists 'atlas-ops.conf'\n" | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
  fi

  step "start PostgreSQL" "$PG_LOG"
  if pg_running; then
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT_POSTGRES" -t 5 ||
      fail "PostgreSQL runs from $PG_DATA but does not answer on 127.0.0.1:$PORT_POSTGRES (port base changed? run 'down' first)"
    return 0
  fi
  ensure_port_free "$PORT_POSTGRES" "PostgreSQL"
  # Rewritten on every start so that port and socket follow the current checkout path.
  local sock_q="${PG_SOCK//\'/\'\'}"
  as_pg tee "$PG_DATA/atlas-ops.conf" >/dev/null <<EOF
# Written by test/services/services.sh on every start.
listen_addresses = '127.0.0.1'
port = $PORT_POSTGRES
unix_socket_directories = '$sock_q'
max_connections = 200
password_encryption = 'scram-sha-256'
# Throwaway test data: durability is not needed, speed is.
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >>"$PG_LOG" 2>&1 9>&- ||
    fail "pg_ctl start failed"
  log "started PostgreSQL on 127.0.0.1:$PORT_POSTGRES"
}

pg_provision() {
  step "provision PostgreSQL roles and database" "$LOGS/postgres-provision.log"
  local app_pw_q="${PG_APP_PASSWORD//\'/\'\'}" admin_pw_q="${PG_ADMIN_PASSWORD//\'/\'\'}"
  # Idempotent: runs on every `up` and restores the known passwords if a test changed them.
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PORT_POSTGRES" -U "$PG_ADMIN_USER" \
    -d postgres >"$STEP_LOG" 2>&1 9>&- <<EOF || fail "psql provisioning failed"
SET client_min_messages = warning;
ALTER ROLE $PG_ADMIN_USER PASSWORD '$admin_pw_q';
SELECT 'CREATE ROLE $PG_GROUP_ROLE NOLOGIN'
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_GROUP_ROLE') \gexec
SELECT 'CREATE ROLE $PG_APP_USER LOGIN'
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_APP_USER') \gexec
ALTER ROLE $PG_APP_USER WITH LOGIN INHERIT PASSWORD '$app_pw_q';
GRANT $PG_GROUP_ROLE TO $PG_APP_USER;
SELECT 'CREATE DATABASE $PG_DATABASE OWNER $PG_GROUP_ROLE ENCODING ''UTF8'' TEMPLATE template0'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DATABASE') \gexec
ALTER DATABASE $PG_DATABASE OWNER TO $PG_GROUP_ROLE;
\connect $PG_DATABASE
SET client_min_messages = warning;
-- Every schema (MongoDB database) and table (collection) that FerretDB creates is handed to the group role,
-- so all of its members (one per MongoDB-visible user) can read, write, index and drop the same data.
CREATE OR REPLACE FUNCTION public.atlas_ops_owner_handoff() RETURNS event_trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS \$fn\$
DECLARE
  obj record;
BEGIN
  FOR obj IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    CONTINUE WHEN obj.in_extension OR coalesce(obj.schema_name, '') LIKE 'pg\_temp%';
    IF obj.object_type = 'schema' THEN
      EXECUTE format('ALTER SCHEMA %s OWNER TO $PG_GROUP_ROLE', obj.object_identity);
    ELSIF obj.object_type = 'table' THEN
      EXECUTE format('ALTER TABLE %s OWNER TO $PG_GROUP_ROLE', obj.object_identity);
    END IF;
  END LOOP;
END
\$fn\$;
REVOKE ALL ON FUNCTION public.atlas_ops_owner_handoff() FROM PUBLIC;
DROP EVENT TRIGGER IF EXISTS atlas_ops_owner_handoff;
CREATE EVENT TRIGGER atlas_ops_owner_handoff ON ddl_command_end
  WHEN TAG IN ('CREATE SCHEMA', 'CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')
  EXECUTE FUNCTION public.atlas_ops_owner_handoff();
EOF
}

pg_stop() {
  if [ ! -f "$RUN/postgres.paths" ]; then return 0; fi
  local data
  data="$(sed -n 1p "$RUN/postgres.paths")"
  find_pg_bin || return 0
  if [ "$(id -u)" -eq 0 ]; then PG_OS_USER="postgres"; else PG_OS_USER="$(id -un)"; fi
  if [ -f "$data/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 9>&- ||
      log "pg_ctl stop failed for $data"
    log "stopped PostgreSQL"
  fi
}

# ---------------------------------------------------------------------------------------------------------
# FerretDB

ferretdb_start() {
  local name="$1" port="$2" handler="$3"
  shift 3
  local logfile="$LOGS/$name.log"
  step "start $name" "$logfile"
  local args=("$BIN/ferretdb" -listen-addr "127.0.0.1:$port" -handler "$handler" "$@")
  if is_ours "$name" "-listen-addr 127.0.0.1:$port"; then
    # Keep a running instance only when it runs the current binary with the current flags.
    if [ "$FERRETDB_REBUILT" = 0 ] && same_cmdline "$name" "${args[@]}" && port_open "$port"; then
      return 0
    fi
    stop_pidfile "$name"
  fi
  ensure_port_free "$port" "$name"
  # A clean environment: pgx would otherwise pick up PGUSER/PGPASSWORD or ~/.pgpass for unauthenticated clients.
  start_daemon "$name" "$logfile" env -i PATH=/usr/bin:/bin HOME=/nonexistent TZ=UTC "${args[@]}"
  local pid
  pid="$(read_pid "$name")"
  wait_until 30 "$pid" port_open "$port" || fail "$name did not start listening on 127.0.0.1:$port"
  log "started $name on 127.0.0.1:$port (pid $pid)"
}

# ---------------------------------------------------------------------------------------------------------
# bench server

bench_server_start() {
  local name="bench-server" logfile="$LOGS/bench-server.log"
  step "start $name" "$logfile"
  local args=("$BIN/bench-server" -listen-addr "127.0.0.1:$PORT_BENCH_SERVER" -orders "$BENCH_SERVER_ORDERS")
  if is_ours "$name" "-listen-addr 127.0.0.1:$PORT_BENCH_SERVER"; then
    if [ "$BENCH_SERVER_REBUILT" = 0 ] && same_cmdline "$name" "${args[@]}" && port_open "$PORT_BENCH_SERVER"; then
      return 0
    fi
    stop_pidfile "$name"
  fi
  ensure_port_free "$PORT_BENCH_SERVER" "$name"
  start_daemon "$name" "$logfile" "${args[@]}"
  local pid
  pid="$(read_pid "$name")"
  wait_until 30 "$pid" port_open "$PORT_BENCH_SERVER" || fail "$name did not start listening on 127.0.0.1:$PORT_BENCH_SERVER"
  log "started $name on 127.0.0.1:$PORT_BENCH_SERVER (pid $pid)"
}

# ---------------------------------------------------------------------------------------------------------
# moto

MOTO_PYTHON=""

find_moto() {
  step "install moto" "$LOGS/pip-moto.log"
  local py
  for py in "$STATE/venv/bin/python" python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import moto.server' >/dev/null 2>&1; then
      MOTO_PYTHON="$("$py" -c 'import sys; print(sys.executable)')"
      return 0
    fi
  done
  command -v python3 >/dev/null 2>&1 || fail "python3 is missing (needed for moto)"
  log "installing moto[server] into $STATE/venv (log: $STEP_LOG)"
  {
    python3 -m venv "$STATE/venv" &&
      "$STATE/venv/bin/python" -m pip install --disable-pip-version-check 'moto[server]>=5.2,<6'
  } </dev/null >"$STEP_LOG" 2>&1 9>&- || fail "pip install 'moto[server]' failed"
  MOTO_PYTHON="$STATE/venv/bin/python"
}

moto_answers() {
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT_MOTO/moto-api/" 2>/dev/null
  else
    port_open "$PORT_MOTO"
  fi
}

moto_start() {
  local logfile="$LOGS/moto.log"
  step "start moto" "$logfile"
  if is_ours moto "-p $PORT_MOTO" && moto_answers; then return 0; fi
  stop_pidfile moto
  ensure_port_free "$PORT_MOTO" "moto"
  find_moto
  step "start moto" "$logfile"
  start_daemon moto "$logfile" "$MOTO_PYTHON" -m moto.server -H 127.0.0.1 -p "$PORT_MOTO"
  local pid
  pid="$(read_pid moto)"
  wait_until 60 "$pid" moto_answers || fail "moto did not answer on 127.0.0.1:$PORT_MOTO"
  log "started moto on 127.0.0.1:$PORT_MOTO (pid $pid)"
}

# ---------------------------------------------------------------------------------------------------------
# .services.env

shell_quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

write_env() {
  step "write $ENV_FILE"
  local tmp="$ENV_FILE.tmp"
  {
    echo "# Written by test/services/services.sh up; source it or let test/setup/global-setup.ts load it."
    local kv
    for kv in \
      "TEST_MONGODB_URI=mongodb://127.0.0.1:$PORT_FERRETDB_SQLITE/" \
      "TEST_MONGODB_AUTH_URI=mongodb://$PG_APP_USER:$PG_APP_PASSWORD@127.0.0.1:$PORT_FERRETDB_PG/?authMechanism=PLAIN" \
      "TEST_FERRETDB_PG_HOSTPORT=127.0.0.1:$PORT_FERRETDB_PG" \
      "TEST_POSTGRES_ADMIN_URL=postgresql://$PG_ADMIN_USER:$PG_ADMIN_PASSWORD@127.0.0.1:$PORT_POSTGRES/$PG_DATABASE" \
      "TEST_POSTGRES_FERRETDB_ROLE=$PG_GROUP_ROLE" \
      "TEST_PSQL=$PG_BIN/psql" \
      "AWS_ENDPOINT_URL=http://127.0.0.1:$PORT_MOTO" \
      "AWS_REGION=us-east-1" \
      "AWS_ACCESS_KEY_ID=test" \
      "AWS_SECRET_ACCESS_KEY=test" \
      "MONGODUMP=$BIN/mongodump" \
      "MONGORESTORE=$BIN/mongorestore" \
      "TEST_BENCH_MONGODB_URI=mongodb://127.0.0.1:$PORT_BENCH_SERVER/" \
      "TEST_BENCH_ORDERS=$BENCH_SERVER_ORDERS" \
      "BENCH_SERVER=$BIN/bench-server"; do
      printf '%s=%s\n' "${kv%%=*}" "$(shell_quote "${kv#*=}")"
    done
  } >"$tmp"
  mv -f "$tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------------------------------------------------
# commands

lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/lock"
  if ! flock -w 900 9; then
    fail "another services.sh holds $STATE/lock for more than 15 minutes"
  fi
}

cmd_up() {
  local t0=$SECONDS
  mkdir -p "$BIN" "$DATA" "$LOGS" "$RUN"
  lock

  step "find Go"
  find_go
  go_env_setup
  build_ferretdb
  build_mongo_tools
  build_bench_server

  pg_setup_paths
  pg_start
  pg_provision

  mkdir -p "$DATA/ferretdb-sqlite"
  ferretdb_start ferretdb-sqlite "$PORT_FERRETDB_SQLITE" sqlite -sqlite-url "file:$DATA/ferretdb-sqlite/"
  ferretdb_start ferretdb-pg "$PORT_FERRETDB_PG" postgresql \
    -postgresql-url "postgres://127.0.0.1:$PORT_POSTGRES/$PG_DATABASE?$PG_URL_PARAMS"

  moto_start
  bench_server_start
  write_env
  log "up in $((SECONDS - t0))s; environment in $ENV_FILE"
}

cmd_down() {
  mkdir -p "$RUN"
  lock
  step "stop services"
  stop_pidfile bench-server moto ferretdb-pg ferretdb-sqlite
  pg_stop
  rm -f "$ENV_FILE"
}

status_line() {
  printf '%-16s %-17s %-8s %s\n' "$1" "$2" "$3" "$4"
}

cmd_status() {
  status_line SERVICE ADDRESS PID STATE
  local name port marker pid state
  for name in ferretdb-sqlite postgres ferretdb-pg moto bench-server; do
    case "$name" in
      bench-server) port=$PORT_BENCH_SERVER marker="-listen-addr 127.0.0.1:$port" ;;
      ferretdb-sqlite) port=$PORT_FERRETDB_SQLITE marker="-listen-addr 127.0.0.1:$port" ;;
      ferretdb-pg) port=$PORT_FERRETDB_PG marker="-listen-addr 127.0.0.1:$port" ;;
      moto) port=$PORT_MOTO marker="-p $port" ;;
      postgres) port=$PORT_POSTGRES marker="" ;;
    esac
    pid="-"
    if [ "$name" = postgres ]; then
      local data=""
      [ -f "$RUN/postgres.paths" ] && data="$(sed -n 1p "$RUN/postgres.paths")"
      if [ -n "$data" ] && [ -f "$data/postmaster.pid" ]; then pid="$(head -n 1 "$data/postmaster.pid")"; fi
      if pid_alive "$pid" && port_open "$port"; then state="up"; else state="down"; fi
    elif is_ours "$name" "$marker"; then
      pid="$(read_pid "$name")"
      if port_open "$port"; then state="up"; else state="starting or broken (port closed)"; fi
    else
      state="down"
    fi
    if [ "$state" = down ] && port_open "$port"; then state="down (port taken by another process)"; fi
    status_line "$name" "127.0.0.1:$port" "$pid" "$state"
  done
  local tool
  for tool in mongodump mongorestore; do
    if [ -x "$BIN/$tool" ]; then state="built"; else state="not built"; fi
    status_line "$tool" "-" "-" "$state ($BIN/$tool)"
  done
  echo "logs: $LOGS"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *)
    echo "usage: bash test/services/services.sh up|down|status" >&2
    exit 2
    ;;
esac
