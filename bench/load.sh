#!/usr/bin/env bash
# Load benchmark of Relais on one backend: bench/load.sh sqlite|postgres
#
# Seeds a fresh database (`relais seed`), starts the release build of `relais serve`, hammers each
# endpoint with oha (64 connections, 20 s, after a 3 s warm-up), then starts the bench server
# (api/benches/load_server.rs: the same app plus the baseline routes /bench/*) on the same
# database for the baselines. Prints one markdown table. Checks after the create run that the
# situations table gained exactly as many rows as there were 201 answers.
#
# Needs: oha (cargo install oha --locked), curl, jq, sqlite3 or psql.
# Settings (environment): RELAIS_LOAD_DURATION (20s), RELAIS_LOAD_CONNECTIONS (64),
# RELAIS_LOAD_WARMUP (3s), RELAIS_LOAD_SEED ("--posts 40 --years 3"), RELAIS_LOAD_PORT (18181),
# RELAIS_LOAD_PG (postgres://postgres@127.0.0.1:5432), RELAIS_LOAD_ONLY (a space-separated list
# of row names to run, e.g. "get_situation raw_sql"; default all).
set -euo pipefail

BACKEND=${1:-}
case "$BACKEND" in sqlite | postgres) ;; *)
  echo "usage: $0 sqlite|postgres" >&2
  exit 2
  ;;
esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${RELAIS_LOAD_DURATION:-20s}
CONNECTIONS=${RELAIS_LOAD_CONNECTIONS:-64}
WARMUP=${RELAIS_LOAD_WARMUP:-3s}
SEED=${RELAIS_LOAD_SEED:---posts 40 --years 3}
PORT=${RELAIS_LOAD_PORT:-18181}
PG=${RELAIS_LOAD_PG:-postgres://postgres@127.0.0.1:5432}
ONLY=${RELAIS_LOAD_ONLY:-}
BASE=http://127.0.0.1:$PORT

for tool in oha curl jq; do
  command -v "$tool" >/dev/null || {
    echo "$0: $tool is needed" >&2
    exit 1
  }
done

log() { echo "[load $(date +%T)] $*" >&2; }

# --- Build: the release `relais` and the bench server, in one build (the bench profile is the
# release profile; the bench build enables persistence's `testing` feature, which only adds a
# test-helper module that the binary does not use).
log "building"
ARTIFACTS=$(cd "$ROOT" && cargo bench -q -p relais-api --bench load_server --no-run --message-format=json 2>/dev/null)
SERVER_BIN=$(jq -r 'select(.reason == "compiler-artifact" and .target.name == "load_server") | .executable' <<<"$ARTIFACTS")
RELAIS=$(jq -r 'select(.reason == "compiler-artifact" and .target.name == "relais" and (.target.kind | index("bin"))) | .executable' <<<"$ARTIFACTS")
[ -x "$RELAIS" ] || RELAIS=$ROOT/target/release/relais
[ -x "$SERVER_BIN" ] || {
  echo "$0: the bench server did not build" >&2
  exit 1
}

# --- A fresh database, dropped at the end.
WORK=$ROOT/target/bench/load-$BACKEND
rm -rf "$WORK"
mkdir -p "$WORK"
SERVER_PID=
if [ "$BACKEND" = sqlite ]; then
  URL=$WORK/load.db
  sql() { sqlite3 "$URL" "$1"; }
else
  DBNAME=relais_load_$$
  psql "$PG/postgres" -qc "CREATE DATABASE $DBNAME"
  URL=$PG/$DBNAME
  sql() { psql "$URL" -tAqc "$1"; }
fi
cleanup() {
  stop_server
  if [ "$BACKEND" = postgres ]; then psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DBNAME" || true; fi
  rm -f "$WORK"/load.db*
}
trap cleanup EXIT

export DATABASE_URL=$URL RELAIS_BIND=127.0.0.1:$PORT RUST_LOG=warn RELAIS_WEBHOOKS=off \
  RELAIS_RATE_LIMIT_PER_MINUTE=0 RELAIS_RATE_LIMIT_PER_ADDRESS_PER_MINUTE=0

log "seeding: relais seed $SEED"
# shellcheck disable=SC2086
"$RELAIS" seed $SEED >"$WORK/seed.txt"
SITUATIONS=$(sql "SELECT COUNT(*) FROM situations")
# A freshly loaded PostgreSQL table costs its first readers the hint bits and the visibility
# map; measure the steady state, as a production base that autovacuum keeps.
[ "$BACKEND" = postgres ] && sql "VACUUM ANALYZE"

start_server() {
  "$@" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 150); do
    curl -fs "$BASE/health" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "$0: the server did not start:" >&2
  cat "$WORK/server.log" >&2
  exit 1
}
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}

# --- What to ask for: the busiest post, its newest situation and busiest year, the partner with
# the most hand-offs beyond drafts.
POST_ID=$(sql "SELECT post_id FROM situations GROUP BY post_id ORDER BY COUNT(*) DESC, post_id LIMIT 1")
SIT_ID=$(sql "SELECT id FROM situations WHERE post_id = '$POST_ID' ORDER BY id DESC LIMIT 1")
YEAR=$(sql "SELECT substr(CAST(opened_on AS TEXT), 1, 4) AS y FROM situations WHERE post_id = '$POST_ID' GROUP BY y ORDER BY COUNT(*) DESC, y LIMIT 1")
PARTNER_ID=$(sql "SELECT partner_id FROM hand_offs WHERE status <> 'draft' GROUP BY partner_id ORDER BY COUNT(*) DESC, partner_id LIMIT 1")
ADMIN=$("$RELAIS" token --role admin --subject load-admin)
SW=$("$RELAIS" token --role social_worker --post "$POST_ID" --subject load-sw)
PARTNER=$("$RELAIS" token --role partner --partner "$PARTNER_ID" --subject load-partner)

LIST_URL="$BASE/api/v1/situations?post_id=$POST_ID&problem=conjugal_violence&limit=20"
FEED_URL="$BASE/api/v1/hand-offs?limit=20"
STATS_URL="$BASE/api/v1/statistics?from=$YEAR-01-01&to=$YEAR-12-31&post_id=$POST_ID"
RAW_LIST_URL="$BASE/bench/raw-list?post_id=$POST_ID&problem=conjugal_violence&limit=20"
RAW_FEED_URL="$BASE/bench/raw-feed/$PARTNER_ID?limit=20"
RAW_STATS_URL="$BASE/bench/raw-statistics?from=$YEAR-01-01&to=$YEAR-12-31&post_id=$POST_ID"

# --- Measurement. One oha run per row; results kept as JSON, summarised at the end.
ROWS=()
wanted() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }

# run NAME LABEL TOKEN URL [oha options...]
run() {
  local name=$1 label=$2 token=$3 url=$4
  shift 4
  local auth=()
  [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
  if [ "$WARMUP" != 0s ]; then
    oha --no-tui -z "$WARMUP" -c "$CONNECTIONS" "${auth[@]}" "$@" "$url" >/dev/null
  fi
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  sleep 1
  log "$name: $label (load $load)"
  oha --no-tui --output-format json --wait-ongoing-requests-after-deadline -z "$DURATION" \
    -c "$CONNECTIONS" "${auth[@]}" "$@" "$url" >"$WORK/$name.json"
  echo "$load" >"$WORK/$name.load"
  ROWS+=("$name|$label")
}

# check NAME TOKEN URL JQ-EXPR: one request, to show what is measured.
check() {
  local body
  body=$(curl -fsS -H "Authorization: Bearer $2" "$3") || {
    echo "$0: $1: $3 failed" >&2
    exit 1
  }
  log "$1: $(echo "$body" | wc -c) bytes, $(echo "$body" | jq -c "$4")"
}

log "phase 1: relais serve ($BACKEND, $SITUATIONS situations)"
start_server "$RELAIS" serve
check get_situation "$SW" "$BASE/api/v1/situations/$SIT_ID" '{id, status}'
check list "$SW" "$LIST_URL" '{items: (.items | length)}'
check partner_feed "$PARTNER" "$FEED_URL" '{items: (.items | length)}'
check statistics "$SW" "$STATS_URL" '{indicators: (.indicators | length)}'

wanted get_situation && run get_situation "GET /situations/{id}" "$SW" "$BASE/api/v1/situations/$SIT_ID"
wanted get_post && run get_post "GET /posts/{id} as admin (not audited)" "$ADMIN" "$BASE/api/v1/posts/$POST_ID"
wanted list && run list "GET /situations?post_id&problem&limit=20" "$SW" "$LIST_URL"
wanted partner_feed && run partner_feed "GET /hand-offs?limit=20 as partner" "$PARTNER" "$FEED_URL"
wanted statistics && run statistics "GET /statistics (post, year $YEAR)" "$SW" "$STATS_URL"

stop_server

log "phase 2: bench server (the same app plus /bench/*)"
start_server "$SERVER_BIN" serve
check unaudited "$SW" "$BASE/bench/unaudited-situation/$SIT_ID" '{id, status}'
check raw_list "$SW" "$RAW_LIST_URL" '{items: (.items | length)}'
check raw_feed "$SW" "$RAW_FEED_URL" '{items: (.items | length), people: (.people | length)}'
check raw_statistics "$SW" "$RAW_STATS_URL" '{rows: length}'
wanted static && run static "baseline: static JSON (/bench/static)" "" "$BASE/bench/static"
wanted raw_sql && run raw_sql "baseline: raw SQL (/bench/raw-situation/{id})" "" "$BASE/bench/raw-situation/$SIT_ID"
wanted raw_list && run raw_list "baseline: raw SQL (/bench/raw-list)" "" "$RAW_LIST_URL"
wanted raw_feed && run raw_feed "baseline: raw SQL (/bench/raw-feed/{partner_id})" "" "$RAW_FEED_URL"
wanted raw_statistics && run raw_statistics "baseline: raw SQL (/bench/raw-statistics)" "" "$RAW_STATS_URL"
wanted unaudited && run unaudited "GET situation minus audit (/bench/unaudited-situation/{id})" "$SW" "$BASE/bench/unaudited-situation/$SIT_ID"
wanted get_situation_2 && run get_situation_2 "GET /situations/{id} (bench server, cross-check)" "$SW" "$BASE/api/v1/situations/$SIT_ID"
stop_server

# --- Writes last, so that the reads above all see the seeded database as it was.
# The body of a create at post $1 (always a new person).
create_body() {
  echo "{\"post_id\":\"$1\",\"opened_on\":\"$(date -u +%F)\",\"origin\":\"police\",\"standing\":\"victim\",\"penal\":true,\"problems\":[\"conjugal_violence\",\"housing\"],\"principal_problem\":\"conjugal_violence\",\"beneficiary\":{\"first_name\":\"Camille\",\"last_name\":\"Martin\",\"birth_year\":1987,\"sex\":\"female\",\"commune_code\":\"07010\",\"known_to_social_services\":\"no\"}}"
}
CREATE_CHECK="not run"
if wanted create; then
  log "phase 3: relais serve, creates"
  start_server "$RELAIS" serve
  # Creates go to a post of their own, so that its situations are exactly the run's.
  NEW_POST=$(curl -fsS -X POST "$BASE/api/v1/posts" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d '{"name":"ISCG Bench","kind":"mixed","department_code":"07","employer":"Bench","convention":"tripartite"}' | jq -r .id)
  SW_NEW=$("$RELAIS" token --role social_worker --post "$NEW_POST" --subject load-create)
  BODY=$(create_body "$NEW_POST")
  # The warm-up creates too: count from after it.
  oha --no-tui -z "$WARMUP" -c "$CONNECTIONS" -H "Authorization: Bearer $SW_NEW" -m POST -T application/json -d "$BODY" \
    --wait-ongoing-requests-after-deadline "$BASE/api/v1/situations" >/dev/null
  BEFORE_POST=$(sql "SELECT COUNT(*) FROM situations WHERE post_id = '$NEW_POST'")
  BEFORE_ALL=$(sql "SELECT COUNT(*) FROM situations")
  WARMUP=0s run create "POST /situations" "$SW_NEW" "$BASE/api/v1/situations" -m POST -T application/json -d "$BODY"
  AFTER_POST=$(sql "SELECT COUNT(*) FROM situations WHERE post_id = '$NEW_POST'")
  AFTER_ALL=$(sql "SELECT COUNT(*) FROM situations")
  CREATED=$(jq '.statusCodeDistribution["201"] // 0' "$WORK/create.json")
  ROWS_ADDED=$((AFTER_ALL - BEFORE_ALL))
  if [ "$ROWS_ADDED" -eq "$CREATED" ] && [ $((AFTER_POST - BEFORE_POST)) -eq "$CREATED" ]; then
    CREATE_CHECK="OK: situations table +$ROWS_ADDED rows = $CREATED answers 201"
  else
    CREATE_CHECK="MISMATCH: situations table +$ROWS_ADDED rows (post +$((AFTER_POST - BEFORE_POST))), $CREATED answers 201"
  fi
  log "create: $CREATE_CHECK"
  stop_server
fi

if wanted raw_create; then
  log "phase 4: bench server, the creates' baseline"
  start_server "$SERVER_BIN" serve
  RAW_POST=$(curl -fsS -X POST "$BASE/api/v1/posts" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d '{"name":"ISCG Bench raw","kind":"mixed","department_code":"07","employer":"Bench","convention":"tripartite"}' | jq -r .id)
  RAW_BODY=$(create_body "$RAW_POST")
  run raw_create "baseline: raw SQL (/bench/raw-create)" "" "$BASE/bench/raw-create" -m POST -T application/json -d "$RAW_BODY"
  stop_server
fi

# --- The table.
rps() { jq '.summary.requestsPerSec' "$WORK/$1.json" 2>/dev/null || echo 0; }
STATIC=$(rps static)
# The raw-SQL baseline of each row: the same queries, without the API around them.
baseline_of() {
  case $1 in
  get_situation | get_situation_2 | unaudited) echo raw_sql ;;
  list) echo raw_list ;;
  partner_feed) echo raw_feed ;;
  statistics) echo raw_statistics ;;
  create) echo raw_create ;;
  raw_*) echo "$1" ;;
  *) echo none ;;
  esac
}
echo
echo "### $BACKEND — $SITUATIONS seeded situations; $CONNECTIONS connections, $DURATION per row; $(nproc) cores"
echo
echo "| endpoint | req/s | p50 ms | p99 ms | answers | not 2xx / errors | ÷ its raw SQL | p99 − its raw SQL's p99 | ÷ static | load (1 min) at start |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for row in "${ROWS[@]}"; do
  name=${row%%|*}
  label=${row#*|}
  base=$(baseline_of "$name")
  raw=0 raw_p99=0
  if [ -f "$WORK/$base.json" ]; then
    raw=$(rps "$base")
    raw_p99=$(jq '.latencyPercentiles.p99' "$WORK/$base.json")
  fi
  jq -r --arg row "$label" --argjson raw "${raw:-0}" --argjson raw_p99 "${raw_p99:-0}" --argjson static "${STATIC:-0}" --arg load "$(cat "$WORK/$name.load")" '
    def r(x): (x * 10 | round) / 10;
    def ratio(x; base): if base > 0 then "\((x / base * 100 | round) / 100)×" else "–" end;
    def extra(p99): if $raw > 0 then "\(r((p99 - $raw_p99) * 1000)) ms" else "–" end;
    (.statusCodeDistribution | to_entries | map(.value) | add // 0) as $answers
    | ([.statusCodeDistribution | to_entries[] | select(.key | test("^2") | not) | .value] | add // 0) as $bad
    | (.errorDistribution | to_entries | map(.value) | add // 0) as $errors
    | "| \($row) | \(.summary.requestsPerSec | round) | \(r(.latencyPercentiles.p50 * 1000)) | \(r(.latencyPercentiles.p99 * 1000)) | \($answers) | \($bad) / \($errors) | \(ratio(.summary.requestsPerSec; $raw)) | \(extra(.latencyPercentiles.p99)) | \(ratio(.summary.requestsPerSec; $static)) | \($load) |"
  ' "$WORK/$name.json"
done
echo
echo "Create check: $CREATE_CHECK."
echo
echo "Ids: post $POST_ID, situation $SIT_ID, partner $PARTNER_ID, year $YEAR. Seed: \`relais seed $SEED\`."
