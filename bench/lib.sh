# bench/lib.sh — sourced by every bench script (`source "$(dirname "$0")/lib.sh"`), never run on its own.
# It moves to the repo root, installs the virtualenv (make install), makes a work directory, and on exit stops
# every process started with `spawn`, drops every PostgreSQL database made with `fresh_db` and removes the work
# directory, keeping the script's exit status. The Python side of the same helpers is bench/common.py.
#
#   bench_env                     FLASK_APP, APP_ENV, LOG_LEVEL and a fresh SECRET_KEY / PII_KEY, exported
#   open_rate_limits              raise the anonymous rating limits out of reach (the counters still run)
#   need_wrk                      install wrk with apt-get when it is missing
#   require_free PORT…            exit 2 when something already listens on a port
#   wait_port PORT [SECONDS]      until something accepts connections on PORT
#   wait_http URL [SECONDS] [curl options…]   until GET URL answers 2xx
#   spawn LOG CMD…                start CMD in the background (output to LOG), stopped at exit; pid in SPAWNED
#   stop PID                      SIGTERM, then SIGKILL after 15 s, and reap
#   fresh_db VAR sqlite|postgres NAME   VAR= the SQLAlchemy URL of a fresh database: $WORK/NAME.db, or a new
#                                 PostgreSQL database bench_NAME_<random> (PG_HOST/PG_PORT/PG_USER), dropped at exit
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV=${VENV:-.venv}
BIN=$ROOT/$VENV/bin
[ "${VENV#/}" = "$VENV" ] || BIN=$VENV/bin
make -s install VENV="$VENV"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-$(basename "$0").XXXXXX")
_BENCH_PIDS=()
_BENCH_DBS=()

stop() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

_bench_cleanup() {
  local rc=$? pid db
  trap - EXIT INT TERM
  for pid in "${_BENCH_PIDS[@]}"; do stop "$pid"; done
  for db in "${_BENCH_DBS[@]}"; do "$BIN/python" bench/common.py dropdb "$db" || echo "could not drop $db" >&2; done
  rm -rf "$WORK"
  exit "$rc"
}
trap _bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_env() { eval "$("$BIN/python" bench/common.py env)"; }

open_rate_limits() { export RATE_LIMIT_ANON_RATINGS=100000000/60 RATE_LIMIT_ANON_RATINGS_PER_IP=100000000/60; }

need_wrk() {
  command -v wrk >/dev/null && return 0
  echo "wrk is missing; installing it (apt-get)"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  command -v wrk >/dev/null || { echo "could not install wrk" >&2; exit 2; }
}

_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

require_free() {
  local port
  for port in "$@"; do
    if _listening "$port"; then echo "port $port is already in use; choose another (PORT=…)" >&2; exit 2; fi
  done
}

wait_port() {
  local port=$1 tenths=$((${2:-30} * 10))
  for _ in $(seq "$tenths"); do _listening "$port" && return 0; sleep 0.1; done
  echo "nothing listens on port $port after ${2:-30} s" >&2; exit 1
}

wait_http() {
  local url=$1 tenths=$((${2:-30} * 10))
  shift $(($# < 2 ? $# : 2))
  for _ in $(seq "$tenths"); do curl -sf -o /dev/null "$@" "$url" && return 0; sleep 0.1; done
  echo "GET $url did not answer 2xx within $((tenths / 10)) s" >&2; exit 1
}

spawn() {
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  SPAWNED=$!
  _BENCH_PIDS+=("$SPAWNED")
}

fresh_db() {
  local var=$1 kind=$2 name=$3 made
  case $kind in
    sqlite) printf -v "$var" 'sqlite:///%s/%s.db' "$WORK" "$name" ;;
    postgres|postgresql)
      made=$("$BIN/python" bench/common.py createdb "bench_$name")  # "name url"
      _BENCH_DBS+=("${made%% *}")
      printf -v "$var" '%s' "${made#* }" ;;
    *) echo "unknown database kind '$kind' (sqlite or postgres)" >&2; exit 2 ;;
  esac
}
