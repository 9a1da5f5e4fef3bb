#!/usr/bin/env bash
# Soak test: a real worker process under steady load for minutes, watched for leaks, then checked
# for exactness. `make soak` builds and runs it; `make soak QUICK=1` (or SOAK_QUICK=1) runs 2 min.
#
#   ops/soak.sh                       # after: mvn package + the test classpath (see Makefile)
#
# Settings (environment):
#   SOAK_SECONDS      load duration (default 600; 120 with SOAK_QUICK=1)
#   SOAK_RATE         target increments per second, steady (default 200000)
#   SOAK_KEYS         distinct keys of counter `soak` (default 200000)
#   SOAK_HEAP         worker -Xmx (default 256m)
#   SOAK_THREADS      generator threads (default 2)
#   SOAK_SAMPLE       seconds between samples (default 15)
#   SOAK_STRIPES      keys.stripes (default 4096)
#   SOAK_FLUSH        flush.interval (default 200ms)
#   SOAK_HEAP_FACTOR, SOAK_HEAP_FLOOR_MB, SOAK_HEAP_MAX_PERCENT   heap rule (default 1.3, 24, 75)
#   SOAK_WARMUP       seconds of warm-up whose samples the rules ignore (default 30)
#   SOAK_DRAIN_TIMEOUT  seconds the generator's final flush and the worker's drain may take (default 180)
#   SOAK_REDIS_PORT, SOAK_PG_PORT, SOAK_PG_DB, SOAK_PG_USER   servers on 127.0.0.1 (6379, 5432, test, postgres)
#   SOAK_KEEP=1       keep the run's Redis keys and PostgreSQL schema afterwards (default: dropped)
#
# Everything it starts (worker, generator) is stopped on exit, failure or Ctrl-C included. It
# talks to 127.0.0.1 only, under its own key prefix and schema (soak<epoch>_<pid>). Output goes
# to target/soak/<run>/ (worker.log, generator.log, samples.tsv, verdict.txt).
# Exit status: 0 pass, 1 a soak rule failed, 2 could not set up.

set -euo pipefail
cd "$(dirname "$0")/.."

: "${JAVA_HOME:=$(ops/find-jdk.sh)}"
JAVA="$JAVA_HOME/bin/java"
JCMD="$JAVA_HOME/bin/jcmd"

QUICK=${SOAK_QUICK:-0}
if [[ "$QUICK" == 1 || "$QUICK" == true ]]; then DEFAULT_SECONDS=120; else DEFAULT_SECONDS=600; fi
LOAD_SECONDS=${SOAK_SECONDS:-$DEFAULT_SECONDS}
RATE=${SOAK_RATE:-200000}
KEYS=${SOAK_KEYS:-200000}
HEAP=${SOAK_HEAP:-256m}
THREADS=${SOAK_THREADS:-2}
SAMPLE=${SOAK_SAMPLE:-15}
STRIPES=${SOAK_STRIPES:-4096}
FLUSH=${SOAK_FLUSH:-200ms}
HEAP_FACTOR=${SOAK_HEAP_FACTOR:-1.3}
HEAP_FLOOR_MB=${SOAK_HEAP_FLOOR_MB:-24}
HEAP_MAX_PERCENT=${SOAK_HEAP_MAX_PERCENT:-75}
KEYS_FACTOR=1.3
KEYS_FLOOR=1000
DRAIN_TIMEOUT=${SOAK_DRAIN_TIMEOUT:-180}
WARMUP=${SOAK_WARMUP:-30}   # samples taken earlier are shown but not used by the rules
HOST=127.0.0.1
REDIS_PORT=${SOAK_REDIS_PORT:-6379}
PG_PORT=${SOAK_PG_PORT:-5432}
PG_DB=${SOAK_PG_DB:-test}
PG_USER=${SOAK_PG_USER:-postgres}

RUN="soak$(date +%s)_$$"
PREFIX="$RUN:"
SCHEMA="$RUN"
DIR="target/soak/$RUN"
JAR=target/spillway.jar
CP_FILE=target/soak-classpath.txt

WORKER_PID=""
GEN_PID=""
FAILS=()    # one sentence per failed rule
NOTES=()   # rules that held
INFOS=()   # observations that are not rules

say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { say "soak: $*" >&2; exit 2; }
fail() { FAILS+=("$*"); say "FAIL: $*"; }
rcli() { redis-cli -h "$HOST" -p "$REDIS_PORT" --no-auth-warning "$@"; }
psql_() { psql -h "$HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -v ON_ERROR_STOP=1 -qAtX "$@"; }
alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

# Stops a process we started: SIGTERM, then SIGKILL after $2 seconds.
stop_pid() {
  local pid=$1 grace=$2 i
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do alive "$pid" || return 0; sleep 0.1; done
  say "pid $pid ignored SIGTERM for ${grace}s; SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$GEN_PID" 10
  stop_pid "$WORKER_PID" 40
  if [[ "${SOAK_KEEP:-0}" == 1 ]]; then
    say "kept Redis keys ${PREFIX}* and schema $SCHEMA (SOAK_KEEP=1)"
  else
    rcli --scan --pattern "${PREFIX}*" 2>/dev/null | xargs -r -n 500 redis-cli -h "$HOST" -p "$REDIS_PORT" unlink >/dev/null 2>&1 || true
    psql_ -c "DROP SCHEMA IF EXISTS \"$SCHEMA\" CASCADE" >/dev/null 2>&1 || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# ---- preflight ------------------------------------------------------------------------------
for tool in redis-cli psql curl awk "$JCMD"; do
  command -v "$tool" >/dev/null || die "$tool not found: the soak needs redis-cli, psql, curl, awk and the JDK's jcmd"
done
[[ -f "$JAR" && -f "$CP_FILE" && -d target/test-classes/dev/spillway/soak ]] ||
  die "build first: make soak (or mvn package dependency:build-classpath -DskipTests -Dmdep.outputFile=$CP_FILE -Dmdep.includeScope=test)"
[[ "$(rcli ping 2>/dev/null)" == PONG ]] || die "Redis does not answer at $HOST:$REDIS_PORT"
psql_ -c 'select 1' >/dev/null 2>&1 || die "PostgreSQL does not answer at $HOST:$PG_PORT (database $PG_DB, user $PG_USER)"
mkdir -p "$DIR"
# The worker and the generator must not pick up someone's SPILLWAY_* overrides: 127.0.0.1 only.
for v in $(env | grep -o '^SPILLWAY_[A-Z_]*' || true); do unset "$v"; done

cat >"$DIR/worker.yaml" <<EOF
# Generated by ops/soak.sh for run $RUN.
redis:
  uri: redis://$HOST:$REDIS_PORT
postgres:
  jdbc-url: jdbc:postgresql://$HOST:$PG_PORT/$PG_DB
  user: $PG_USER
  schema: $SCHEMA
keys:
  prefix: "$PREFIX"
  stripes: $STRIPES
flush:
  interval: $FLUSH
worker:
  http:
    bind: $HOST
    port: 0
EOF

HTTP=""
WORKER_LOG=""
WORKERS=0
DIED=""
# Starts a worker with log file $1; sets WORKER_PID and HTTP (host:port) once it is ready.
start_worker() {
  local log=$1 i
  WORKER_LOG=$log
  WORKERS=$((WORKERS + 1))
  prev_rows="" # a new process counts its rows from zero
  "$JAVA" -XX:+ExitOnOutOfMemoryError "-Xmx$HEAP" -jar "$JAR" worker --config "$DIR/worker.yaml" >"$log" 2>&1 &
  WORKER_PID=$!
  HTTP=""
  for ((i = 0; i < 1200; i++)); do
    alive "$WORKER_PID" || { tail -5 "$log" >&2; die "the worker exited during start (log: $log)"; }
    if [[ -z "$HTTP" ]]; then
      HTTP=$(grep -o 'event=http_listening address=[0-9.:]*' "$log" | head -1 | sed 's/.*address=//' || true)
    fi
    if [[ -n "$HTTP" ]] && curl -fsS --max-time 3 "http://$HTTP/health/ready" >/dev/null 2>&1; then
      say "worker pid $WORKER_PID ready at http://$HTTP (heap -Xmx$HEAP, log $log)"
      return 0
    fi
    sleep 0.1
  done
  die "the worker was not ready within 120 s (log: $log)"
}

# Prometheus sample: first value of the series matching the regex (or "sum" / "max" of all).
metric() { # $1 metrics file, $2 regex for the series, $3 sum|max|first
  awk -v re="$2" -v how="$3" '
    $0 ~ "^#" {next}
    $0 ~ re { v = $NF + 0; n++; if (how == "sum") a += v; else if (how == "max") { if (n == 1 || v > a) a = v } else if (n == 1) a = v }
    END { if (n) printf "%.6f\n", a; else print "NA" }' "$1"
}

# Keys under the prefix into $DIR/keys.tmp; false when the scan failed (then nothing is concluded).
scan_keys() { rcli --scan --pattern "${PREFIX}*" >"$DIR/keys.tmp" 2>"$DIR/keys.err" && [[ ! -s "$DIR/keys.err" ]]; }
count_keys() { if scan_keys; then wc -l <"$DIR/keys.tmp"; else echo NA; fi; }
# Live hashes, claimed batches and batch sets left: 0 means everything reached PostgreSQL.
counter_keys_left() { if scan_keys; then grep -cE ':(live|batches|batch:.*)$' "$DIR/keys.tmp" || true; else echo NA; fi; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "NA" || v == "") print "NA"; else printf f "\n", v }'; }
# Logged errors, plus what bypasses the logger: an uncaught exception, the JVM's OOM message.
ERROR_RE='level=ERROR|"level":"ERROR"|OutOfMemoryError|^Exception in thread'
error_lines() { cat "$DIR"/worker*.log 2>/dev/null | grep -cE "$ERROR_RE" || true; }
warn_lines() { cat "$DIR"/worker*.log 2>/dev/null | grep -cE 'level=WARN|"level":"WARN"' || true; }

say "run $RUN: ${LOAD_SECONDS}s at ${RATE}/s over $KEYS keys, $THREADS generator threads," \
  "worker -Xmx$HEAP, flush every $FLUSH, $STRIPES stripes, sample every ${SAMPLE}s"
say "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (shared machine: contention is expected)"
start_worker "$DIR/worker.log"

"$JAVA" -Xmx1g -cp "target/classes:target/test-classes:$(cat "$CP_FILE")" dev.spillway.soak.SoakGenerator \
  "redis=redis://$HOST:$REDIS_PORT" "jdbc=jdbc:postgresql://$HOST:$PG_PORT/$PG_DB" "user=$PG_USER" \
  "schema=$SCHEMA" "prefix=$PREFIX" "stripes=$STRIPES" "keys=$KEYS" "rate=$RATE" \
  "seconds=$LOAD_SECONDS" "threads=$THREADS" "drain-seconds=$DRAIN_TIMEOUT" "out=$DIR" >"$DIR/generator.log" 2>&1 &
GEN_PID=$!
say "generator pid $GEN_PID started (log $DIR/generator.log)"

# ---- sampling -------------------------------------------------------------------------------
COLUMNS_="t_s gen_rate client_pending heap_after_gc_mb redis_keys redis_used_mb oldest_batch_s flush_max_s lag_s flushed_rows_s errors"
printf '%s\n' "$COLUMNS_" | tr ' ' '\t' >"$DIR/samples.tsv"
print_header() { printf '%6s %10s %9s %8s %10s %9s %8s %9s %7s %8s %6s\n' t_s gen_rate/s client_pend heap_MB redis_keys redis_MB oldest_s flush_max lag_s rows/s errors; }
print_row() { awk -F'\t' '{printf "%6s %10s %11s %8s %10s %9s %8s %9s %7s %8s %6s\n", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11}'; }

LOAD_T0_MS=""
prev_ms=""; prev_sent=0; prev_rows=""; prev_rows_ms=""
# Records that the worker exited on its own ($1: when), and forgets its pid.
worker_died() {
  local rc oom=""
  wait "$WORKER_PID" && rc=0 || rc=$?
  if grep -q OutOfMemoryError "$WORKER_LOG"; then oom=", OutOfMemoryError"; fi
  fail "the worker died $1 (exit status $rc$oom; log: $WORKER_LOG)"
  WORKER_PID=""
  DIED=1
}
take_sample() {
  local now_ms t m heap oldest fmax rows keys used p_ms sent pend rate pg_probe q_ms lag rows_s errs
  now_ms=$(($(date +%s%N) / 1000000))
  # Seconds since the load started (the generator writes the moment); "pre" before it did.
  t=pre
  if [[ -z "$LOAD_T0_MS" && -f "$DIR/started" ]]; then read -r LOAD_T0_MS <"$DIR/started" || true; fi
  if [[ -n "$LOAD_T0_MS" ]]; then t=$(((now_ms - LOAD_T0_MS) / 1000)); fi
  # Lag first, before the GC and the scan below take their seconds. The probe key's total is the
  # wall-clock time (epoch ms) of the newest probe increment that reached PostgreSQL.
  lag=NA
  if alive "$GEN_PID"; then
    pg_probe=$(psql_ -c "select coalesce(sum(total),0) from \"$SCHEMA\".counter_totals where counter='soak_probe'" 2>/dev/null || echo NA)
    q_ms=$(($(date +%s%N) / 1000000))
    if [[ "$pg_probe" =~ ^[0-9]+$ ]] && ((pg_probe > 0)); then
      lag=$(awk -v q="$q_ms" -v p="$pg_probe" 'BEGIN{printf "%.1f", (q-p)/1000}')
    fi
  fi
  sent=$prev_sent; p_ms=$now_ms; pend=NA
  if [[ -f "$DIR/progress" ]]; then read -r p_ms sent _ _ _ pend <"$DIR/progress" || true; fi
  rate=NA
  if [[ -n "$prev_ms" && "$p_ms" -gt "$prev_ms" ]]; then rate=$(((sent - prev_sent) * 1000 / (p_ms - prev_ms))); fi
  if [[ -z "$prev_ms" && "$sent" -gt 0 && -n "$LOAD_T0_MS" && "$p_ms" -gt "$LOAD_T0_MS" ]]; then rate=$((sent * 1000 / (p_ms - LOAD_T0_MS))); fi
  if [[ "$sent" -gt 0 ]]; then prev_ms=$p_ms; prev_sent=$sent; fi
  alive "$GEN_PID" || rate=NA # after the load: nothing to rate
  m="$DIR/metrics.last"
  heap=NA; oldest=NA; fmax=NA; rows=NA
  # GC.class_histogram runs a full GC first (what GC.run would do) and names what the heap holds:
  # the last one is kept as histogram.txt for the verdict.
  if timeout 60 "$JCMD" "$WORKER_PID" GC.class_histogram >"$DIR/histogram.tmp" 2>&1 &&
    curl -fsS --max-time 10 "http://$HTTP/metrics" >"$m" 2>/dev/null; then
    heap=$(metric "$m" '^jvm_memory_used_bytes[{].*area="heap"' sum)
    [[ "$heap" == NA ]] || heap=$(fmt "$(awk -v b="$heap" 'BEGIN{print b/1048576}')" %.1f)
    oldest=$(fmt "$(metric "$m" '^spillway_flush_oldest_batch_age' first)" %.1f)
    fmax=$(fmt "$(metric "$m" '^spillway_flush_duration_seconds_max' max)" %.2f)
    rows=$(metric "$m" '^spillway_flush_rows_upserted_total' sum)
    head -n 30 "$DIR/histogram.tmp" >"$DIR/histogram.txt"
    [[ "$t" == pre ]] || cp "$DIR/histogram.txt" "$DIR/histogram-${t}s.txt"
  fi
  keys=$(count_keys)
  used=$({ rcli info memory || true; } | awk -F: '/^used_memory:/{printf "%.1f", $2/1048576}')
  [[ -n "$used" ]] || used=NA
  rows_s=NA
  if [[ "$rows" != NA ]]; then
    if [[ -n "$prev_rows" ]]; then rows_s=$(awk -v a="$rows" -v b="$prev_rows" -v dt=$((now_ms - prev_rows_ms)) 'BEGIN{printf "%d", (a-b)*1000/dt}'); fi
    prev_rows=$rows; prev_rows_ms=$now_ms
  fi
  errs=$(error_lines)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$rate" "${pend:-NA}" "$heap" "$keys" "$used" "$oldest" "$fmax" "$lag" "$rows_s" "$errs" |
    tee -a "$DIR/samples.tsv" | print_row
}

print_header
next=$(($(date +%s) + SAMPLE))
while alive "$GEN_PID"; do
  if ! alive "$WORKER_PID"; then
    worker_died "under load"
    touch "$DIR/stop" # the generator ends early, flushing what it has
    break
  fi
  if (($(date +%s) >= next)); then
    take_sample
    next=$((next + SAMPLE))
  fi
  sleep 1
done

# ---- end of load: generator flushes and closes ----------------------------------------------
wait "$GEN_PID" && gen_rc=0 || gen_rc=$?
GEN_PID=""
say "generator exited with status $gen_rc:"
sed 's/^/    /' "$DIR/result" 2>/dev/null || true
declare -A R=()
if [[ -f "$DIR/result" ]]; then
  while IFS='=' read -r k v; do R[$k]=$v; done <"$DIR/result"
fi
ACK=${R[acknowledged]:-unknown}
[[ "$gen_rc" == 0 && "$ACK" != unknown ]] ||
  fail "the generator did not end cleanly (status $gen_rc, acknowledged=$ACK; log: $DIR/generator.log)"

# ---- drain ----------------------------------------------------------------------------------
# A worker that died (under load or while draining) is replaced, so that what it left is still
# applied and exactness is still checked; a dead worker has already failed the run.
drained=""
for ((i = 0; i < DRAIN_TIMEOUT; i++)); do
  if ! alive "$WORKER_PID"; then
    [[ -z "$WORKER_PID" ]] || worker_died "while draining"
    if ((WORKERS > 3)); then break; fi
    say "starting worker $((WORKERS + 1)) to drain what the previous one left"
    start_worker "$DIR/worker-drain-$WORKERS.log"
  fi
  left=$(counter_keys_left)
  if [[ "$left" == 0 ]]; then drained="after ${i}s"; break; fi
  sleep 1
done
if [[ -n "$drained" ]]; then
  say "drained $drained: no live hash, no claimed batch left under ${PREFIX}"
  if alive "$WORKER_PID"; then take_sample >/dev/null; fi # a last heap and metrics reading, not in the rules
else
  fail "Redis was not drained within ${DRAIN_TIMEOUT}s ($(counter_keys_left) live/batch keys left; $WORKERS worker(s) started)"
fi

# ---- stop the worker ------------------------------------------------------------------------
if alive "$WORKER_PID"; then
  kill -TERM "$WORKER_PID"
  for ((i = 0; i < 600; i++)); do alive "$WORKER_PID" || break; sleep 0.1; done
  if alive "$WORKER_PID"; then
    fail "the worker did not stop within 60 s of SIGTERM"
  else
    wait "$WORKER_PID" && wrc=0 || wrc=$?
    WORKER_PID=""
    [[ "$wrc" == 0 ]] || fail "the worker exited with status $wrc after SIGTERM"
    grep -q 'event=stopped graceful=true' "$WORKER_LOG" || NOTES+=("the worker's last log has no 'event=stopped graceful=true' line")
  fi
fi

# ---- rules ----------------------------------------------------------------------------------
median() { sort -n | awk '{a[NR]=$1} END{if (!NR) print "NA"; else if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
# Column $1 of samples.tsv taken during the load; prints "first_median last_median count".
thirds() {
  tail -n +2 "$DIR/samples.tsv" | head -n "$LOAD_SAMPLES" |
    awk -F'\t' -v c="$1" -v w="$WARMUP" -v end="$LOAD_SECONDS" \
      '$1 ~ /^[0-9]+$/ && $1 + 0 >= w && $1 + 0 <= end && $c != "NA" {print $c}' >"$DIR/col.tmp"
  local n third
  n=$(wc -l <"$DIR/col.tmp")
  third=$((n / 3))
  if ((third < 1)); then echo "NA NA $n"; return; fi
  echo "$(head -n "$third" "$DIR/col.tmp" | median) $(tail -n "$third" "$DIR/col.tmp" | median) $n"
}
LOAD_SAMPLES=$(($(wc -l <"$DIR/samples.tsv") - 1))
[[ -n "$drained" ]] && LOAD_SAMPLES=$((LOAD_SAMPLES - 1)) # the post-drain reading is not a load sample

HEAP_CAP_MB=$(awk -v h="$HEAP" -v p="$HEAP_MAX_PERCENT" 'BEGIN{
  n = h + 0; u = tolower(substr(h, length(h)));
  mb = (u == "g") ? n*1024 : (u == "m") ? n : (u == "k") ? n/1024 : n/1048576; printf "%.1f", mb*p/100}')
RULE_HEAP="heap after GC: median of the last third of samples <= min(median of the first third x $HEAP_FACTOR + $HEAP_FLOOR_MB MB, ${HEAP_MAX_PERCENT}% of -Xmx$HEAP = $HEAP_CAP_MB MB)"
read -r h1 h3 hn < <(thirds 4)
if [[ "$h1" == NA && -n "$DIED" ]]; then
  INFOS+=("heap rule not judged: $hn sample(s) after warm-up before the worker died")
elif [[ "$h1" == NA ]]; then
  fail "too few heap samples after warm-up ($hn) for the heap rule; run longer than ${WARMUP}s + 3 x ${SAMPLE}s"
else
  # Growth is judged against the first third, but never beyond HEAP_MAX_PERCENT of -Xmx: a leak
  # fast enough to fill most of the heap before the first third would otherwise pass.
  hlimit=$(awk -v a="$h1" -v f="$HEAP_FACTOR" -v fl="$HEAP_FLOOR_MB" -v cap="$HEAP_CAP_MB" \
    'BEGIN{l = a*f+fl; if (l > cap) l = cap; printf "%.1f", l}')
  if awk -v b="$h3" -v l="$hlimit" 'BEGIN{exit !(b > l)}'; then
    fail "heap after GC grew: first third median ${h1} MB, last third ${h3} MB > limit ${hlimit} MB"
    last_histo=$(ls -1 "$DIR"/histogram-*s.txt 2>/dev/null | sort -t- -k2 -n | tail -1 || true)
    if [[ -n "$last_histo" ]]; then
      INFOS+=("largest classes in the heap at the last sample ($last_histo): $(awk 'NR > 3 && NR <= 9 {printf "%s%s %.1f MB", (NR > 4 ? "; " : ""), $4, $3/1048576}' "$last_histo")")
    fi
  else
    NOTES+=("heap after GC: first third median ${h1} MB, last third ${h3} MB, limit ${hlimit} MB: ok")
  fi
fi

RULE_KEYS="Redis keys under the prefix: median of the last third <= median of the first third x $KEYS_FACTOR + $KEYS_FLOOR"
read -r k1 k3 kn < <(thirds 5)
if [[ "$k1" == NA && -n "$DIED" ]]; then
  INFOS+=("Redis keys rule not judged: $kn sample(s) after warm-up before the worker died")
elif [[ "$k1" == NA ]]; then
  fail "too few key-count samples ($kn) for the Redis keys rule"
else
  klimit=$(awk -v a="$k1" -v f="$KEYS_FACTOR" -v fl="$KEYS_FLOOR" 'BEGIN{printf "%d", a*f+fl}')
  if awk -v b="$k3" -v l="$klimit" 'BEGIN{exit !(b > l)}'; then
    fail "Redis keys under $PREFIX grew: first third median $k1, last third $k3 > limit $klimit"
  else
    NOTES+=("Redis keys: first third median $k1, last third $k3, limit $klimit: ok")
  fi
fi

read -r l1 l3 _ < <(thirds 9)
lmax=$(tail -n +2 "$DIR/samples.tsv" | head -n "$LOAD_SAMPLES" | awk -F'\t' '$9!="NA" && $9+0>m{m=$9+0} END{print m+0}')
INFOS+=("flush lag (probe, increment() to PostgreSQL): first third median ${l1/%[0-9]/&s}, last third ${l3/%[0-9]/&s}, max ${lmax}s; not a rule: with every key pending it is bounded by keys / flush throughput")

errs=$(error_lines)
if [[ "$errs" != 0 ]]; then
  fail "$errs ERROR line(s) in the worker log; first: $(cat "$DIR"/worker*.log | grep -m1 -E "$ERROR_RE" | cut -c1-300)"
fi

# ---- exactness ------------------------------------------------------------------------------
if [[ "$ACK" != unknown && -z "$drained" ]]; then
  fail "exactness not checked: counts are still pending in Redis"
elif [[ "$ACK" != unknown ]]; then
  pg_sum=$(psql_ -c "select coalesce(sum(total),0) from \"$SCHEMA\".counter_totals where counter='soak'")
  if [[ "$pg_sum" == "$ACK" ]]; then
    NOTES+=("exact: PostgreSQL holds $pg_sum increments of 'soak', the generator had $ACK acknowledged")
  else
    fail "totals differ: PostgreSQL holds $pg_sum increments of 'soak', the generator had $ACK acknowledged (difference $((pg_sum - ACK)))"
  fi
  # Every key, not a sample: the generator wrote its per-key counts.
  per_key=$(psql_ <<SQL
create temp table expected(counter text, key text, n bigint);
\copy expected from '$DIR/expected.csv' with (format csv)
select count(*) || ' ' || coalesce(string_agg(line, '; ') filter (where rn <= 5), '')
from (select coalesce(e.counter, t.counter) || '/' || coalesce(e.key, t.key) || ' expected '
             || coalesce(e.n, 0) || ' found ' || coalesce(t.total, 0) as line,
             row_number() over () as rn
      from expected e
      full join (select counter, key, total from "$SCHEMA".counter_totals
                 where counter in ('soak', 'soak_probe')) t
        on t.counter = e.counter and t.key = e.key
      where coalesce(e.n, 0) <> coalesce(t.total, 0)) d;
SQL
  )
  read -r bad detail <<<"$per_key"
  checked=$(wc -l <"$DIR/expected.csv")
  if [[ "$bad" == 0 ]]; then
    NOTES+=("per key: all $checked (counter, key) totals in PostgreSQL equal the generator's counts")
  else
    fail "$bad of $checked keys differ in PostgreSQL, e.g. $detail"
  fi
  dead=$(psql_ -c "select count(*) from \"$SCHEMA\".dead_letter")
  [[ "$dead" == 0 ]] || fail "$dead dead letter(s) in $SCHEMA.dead_letter"
fi

# ---- report ---------------------------------------------------------------------------------
{
  echo
  echo "Soak run $RUN: target ${RATE}/s over $KEYS keys for ${LOAD_SECONDS}s, worker -Xmx$HEAP, flush every $FLUSH, $STRIPES stripes"
  echo "generator: sent ${R[sent]:-?}, achieved ${R[achieved_rate]:-?}/s over ${R[elapsed_s]:-?}s (missed ${R[missed]:-?} paced slots, ${R[failures]:-?} failures), keys touched ${R[keys_touched]:-?}, final flush ${R[final_flush_ms]:-?} ms"
  echo
  print_header
  tail -n +2 "$DIR/samples.tsv" | head -n "$LOAD_SAMPLES" | print_row
  if [[ -n "$drained" ]] && (($(wc -l <"$DIR/samples.tsv") - 1 > LOAD_SAMPLES)); then
    echo "after drain:"
    tail -n 1 "$DIR/samples.tsv" | print_row
  fi
  echo
  echo "t_s: seconds since the load started; client_pend: cells in the generator's client not yet acknowledged by Redis;"
  echo "heap_MB: worker heap used right after a full GC (jcmd GC.class_histogram, then /metrics jvm_memory_used_bytes{area=heap});"
  echo "redis_keys: keys under $PREFIX; redis_MB: the whole Redis's used_memory (shared with other users);"
  echo "oldest_s: spillway_flush_oldest_batch_age; flush_max: spillway_flush_duration_seconds_max;"
  echo "lag_s: increment() to PostgreSQL, from a probe key whose total is the time of its newest increment (every 100 ms); errors: ERROR lines so far."
  echo
  echo "rules (on the samples from ${WARMUP}s to ${LOAD_SECONDS}s of load; earlier ones are warm-up: JIT, pools, the generator ramping up):"
  echo "       $RULE_HEAP;"
  echo "       $RULE_KEYS;"
  echo "       no ERROR line in the worker log; the worker stays up, drains within ${DRAIN_TIMEOUT}s and stops on SIGTERM;"
  echo "       SUM(counter_totals.total) for 'soak' = increments acknowledged, every key equal, no dead letter."
  ach=${R[achieved_rate]:-}
  if [[ -n "$ach" ]] && ((ach * 100 < RATE * 95)); then
    echo "note:  the generator achieved ${R[achieved_rate]}/s, less than 95% of the ${RATE}/s target (machine too busy?)"
  fi
  echo "info:  $(warn_lines) WARN line(s) in the worker log (not a rule; see the log)"
  for n in "${INFOS[@]}"; do echo "info:  $n"; done
  for n in "${NOTES[@]}"; do echo "ok:    $n"; done
  for f in "${FAILS[@]}"; do echo "FAIL:  $f"; done
  if ((${#FAILS[@]} == 0)); then echo "VERDICT: PASS"; else echo "VERDICT: FAIL (${#FAILS[@]} rule(s))"; fi
  echo "files: $DIR"
} | tee "$DIR/verdict.txt"
((${#FAILS[@]} == 0)) || exit 1
