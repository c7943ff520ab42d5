#!/usr/bin/env bash
# Throwaway PostgreSQL 15 and Redis servers for the test suite (the PostgreSQL
# store contract, later the Redis queue/locks). Installs nothing: it expects
# Debian's `postgresql` and `redis-server` packages (see .ci/run).
#
#   scripts/test-services.sh start        # prints the path of an env file
#   source "$that_file"                   # exports TUFBOX_TEST_POSTGRES_URL, TUFBOX_TEST_REDIS_URL
#   scripts/test-services.sh stop [FILE]  # FILE (or $TUFBOX_TEST_SERVICES_ENV) from start
#
# Outages, for the scale-out tests (same FILE rule; same data dir and port, so
# the URLs in FILE stay valid):
#   scripts/test-services.sh stop-postgres [FILE]   # fast shutdown, waits until it is gone
#   scripts/test-services.sh start-postgres [FILE]  # start it again, waits until it answers
#   scripts/test-services.sh stop-redis [FILE]
#   scripts/test-services.sh start-redis [FILE]
#
# Both servers listen on 127.0.0.1 only, on ports the OS picked, keep their
# data in one temporary directory, and are stopped by pid, never by name: a
# developer's own PostgreSQL or Redis (or Debian's cluster on 5432) is left alone.
set -euo pipefail

PG_VERSION=${TUFBOX_PG_VERSION:-15}
PG_BIN=${TUFBOX_PG_BINDIR:-/usr/lib/postgresql/$PG_VERSION/bin}

die() {
  echo "test-services: $*" >&2
  exit 1
}

# A failed start deletes its directory, so show the log before it goes.
die_with_log() {
  local log=$1
  shift
  [[ -f $log ]] && tail -n 20 "$log" >&2
  die "$@"
}

# A port the OS considers free right now. Node is on every machine we build on
# (MACHINE-NOTES.md); fetch refuses some ports outright, so skip those.
free_port() {
  local port
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
    case $port in
      6000 | 6665 | 6666 | 6667 | 6668 | 6669 | 10080) continue ;;
      *) echo "$port"; return 0 ;;
    esac
  done
  die "could not find a free port"
}

# Root runs PostgreSQL as the postgres user (initdb and postgres refuse root).
# A command prefix, not a function: a backgrounded function would be a bash
# subshell, and $! its pid; setpriv execs, so $! is the server itself.
AS_POSTGRES=()
[[ $EUID -eq 0 ]] && AS_POSTGRES=(setpriv --reuid=postgres --regid=postgres --init-groups --)

# True while $1 is alive and is still the process we started (its command line
# mentions our directory), so a recycled pid is never signalled.
ours() {
  local pid=$1 marker=$2
  [[ -n $pid && -n $marker ]] || return 1
  [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"
}

stop_pid() {
  local pid=$1 marker=$2 signal=$3
  ours "$pid" "$marker" || return 0
  kill "-$signal" "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    ours "$pid" "$marker" || return 0
    sleep 0.1
  done
  echo "test-services: pid $pid ignored SIG$signal for 10 s, sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

start() {
  [[ -x $PG_BIN/postgres ]] || die "no PostgreSQL $PG_VERSION in $PG_BIN (apt-get install -y postgresql, or set TUFBOX_PG_BINDIR)"
  command -v redis-server >/dev/null || die "no redis-server on PATH (apt-get install -y redis-server)"

  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/tufbox-services.XXXXXX")
  # Half a start is no start: whatever did come up is stopped again.
  STARTING_DIR=$dir
  trap 'if [[ -n ${STARTING_DIR:-} ]]; then stop_dir "$STARTING_DIR"; fi' EXIT
  chmod 755 "$dir"
  [[ $EUID -eq 0 ]] && chown postgres: "$dir"
  local env_file=$dir/env.sh

  # --- PostgreSQL ---
  # UTF8 + C locale: the store sorts text keys by code point (COLLATE "C")
  # and needs real UTF-8 text, which a SQL_ASCII cluster would not check.
  "${AS_POSTGRES[@]}" "$PG_BIN/initdb" -D "$dir/pg" -A trust -U postgres -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
    die_with_log "$dir/initdb.log" "initdb failed"
  local pg_port pg_ok="" attempt
  for attempt in 1 2 3; do
    pg_port=$(free_port)
    if run_postgres "$dir" "$pg_port"; then
      pg_ok=1
      break
    fi
    # Lost the race for the port (or failed otherwise): try another port.
    echo "test-services: postgres did not start on port $pg_port (attempt $attempt):" >&2
    tail -n 5 "$dir/postgres.log" >&2
  done
  [[ -n $pg_ok ]] || die_with_log "$dir/postgres.log" "PostgreSQL would not start"
  "$PG_BIN/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres tufbox_test

  # --- Redis ---
  local redis_port redis_ok=""
  for attempt in 1 2 3; do
    redis_port=$(free_port)
    if run_redis "$dir" "$redis_port"; then
      redis_ok=1
      break
    fi
  done
  [[ -n $redis_ok ]] || die_with_log "$dir/redis.log" "Redis would not start"

  STARTING_DIR=""
  cat >"$env_file" <<EOF
export TUFBOX_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$pg_port/tufbox_test
export TUFBOX_TEST_REDIS_URL=redis://127.0.0.1:$redis_port
export TUFBOX_TEST_SERVICES_ENV=$env_file
EOF
  echo "$env_file"
}

# Start PostgreSQL on the cluster in $1/pg, port $2; wait until it answers.
# Returns non-zero (after stopping what it started) if it does not come up.
run_postgres() {
  local dir=$1 port=$2 pid
  # fsync stays on: the suite checks durability claims, and the throwaway
  # cluster should behave like a real one.
  "${AS_POSTGRES[@]}" "$PG_BIN/postgres" -D "$dir/pg" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 \
    -c max_connections=200 >>"$dir/postgres.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/postgres.pid"
  echo "$port" >"$dir/postgres.port"
  for _ in $(seq 1 150); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  stop_pid "$pid" "$dir/pg" KILL
  return 1
}

# Start Redis with its files in $1, port $2; wait until it answers.
run_redis() {
  local dir=$1 port=$2 pid
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    >>"$dir/redis.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/redis.pid"
  echo "$port" >"$dir/redis.port"
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  stop_pid "$pid" "$port" KILL
  return 1
}

# The directory start made, from FILE or $TUFBOX_TEST_SERVICES_ENV.
services_dir() {
  local env_file=${1:-${TUFBOX_TEST_SERVICES_ENV:-}}
  [[ -n $env_file ]] || die "this command needs the env file that start printed (or TUFBOX_TEST_SERVICES_ENV)"
  local dir
  dir=$(dirname "$env_file")
  [[ -d $dir && $(basename "$dir") == tufbox-services.* ]] || die "$dir is not a directory made by start"
  echo "$dir"
}

# The port a service was started on: from its port file, else from the URL in env.sh.
service_port() {
  local dir=$1 name=$2 var=$3
  if [[ -f $dir/$name.port ]]; then
    cat "$dir/$name.port"
  else
    sed -n "s|^export $var=[a-z]*://[^:/]*:\([0-9]*\).*|\1|p" "$dir/env.sh"
  fi
}

stop_postgres() {
  local dir
  dir=$(services_dir "${1:-}")
  [[ -f $dir/postgres.pid ]] || return 0
  # SIGINT = "fast" shutdown: sessions are terminated, as in a real restart.
  stop_pid "$(cat "$dir/postgres.pid")" "$dir/pg" INT
}

start_postgres() {
  local dir port
  dir=$(services_dir "${1:-}")
  if [[ -f $dir/postgres.pid ]] && ours "$(cat "$dir/postgres.pid")" "$dir/pg"; then return 0; fi
  port=$(service_port "$dir" postgres TUFBOX_TEST_POSTGRES_URL)
  [[ -n $port ]] || die "no PostgreSQL port recorded in $dir"
  run_postgres "$dir" "$port" || die_with_log "$dir/postgres.log" "PostgreSQL would not start again on port $port"
}

stop_redis() {
  local dir
  dir=$(services_dir "${1:-}")
  [[ -f $dir/redis.pid && -f $dir/redis.port ]] || return 0
  stop_pid "$(cat "$dir/redis.pid")" "$(cat "$dir/redis.port")" TERM
}

start_redis() {
  local dir port
  dir=$(services_dir "${1:-}")
  port=$(service_port "$dir" redis TUFBOX_TEST_REDIS_URL)
  [[ -n $port ]] || die "no Redis port recorded in $dir"
  if [[ -f $dir/redis.pid ]] && ours "$(cat "$dir/redis.pid")" "$port"; then return 0; fi
  run_redis "$dir" "$port" || die_with_log "$dir/redis.log" "Redis would not start again on port $port"
}

stop() {
  local env_file=${1:-${TUFBOX_TEST_SERVICES_ENV:-}}
  [[ -n $env_file ]] || die "stop needs the env file that start printed (or TUFBOX_TEST_SERVICES_ENV)"
  local dir
  dir=$(dirname "$env_file")
  [[ -d $dir && $(basename "$dir") == tufbox-services.* ]] || die "$dir is not a directory made by start"
  stop_dir "$dir"
}

stop_dir() {
  local dir=$1
  # SIGINT = PostgreSQL's "fast" shutdown: roll back sessions, exit cleanly.
  if [[ -f $dir/postgres.pid ]]; then stop_pid "$(cat "$dir/postgres.pid")" "$dir/pg" INT; fi
  if [[ -f $dir/redis.pid && -f $dir/redis.port ]]; then stop_pid "$(cat "$dir/redis.pid")" "$(cat "$dir/redis.port")" TERM; fi
  rm -rf "$dir"
}

case ${1:-} in
  start) start ;;
  stop) stop "${2:-}" ;;
  stop-postgres) stop_postgres "${2:-}" ;;
  start-postgres) start_postgres "${2:-}" ;;
  stop-redis) stop_redis "${2:-}" ;;
  start-redis) start_redis "${2:-}" ;;
  *) die "usage: $0 start | stop [ENV_FILE] | stop-postgres|start-postgres|stop-redis|start-redis [ENV_FILE]" ;;
esac
