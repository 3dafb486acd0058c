#!/usr/bin/env bash
# Measures spam classification speed, in messages per second, of Ringmail
# beside SpamAssassin's spamd and Rspamd, all on this machine in one run, on
# the same messages, with every network check off.
#
# Messages: the test split of the SpamAssassin public corpus (file names whose
# FNV-1a hash modulo 100 is 70 or more, as spam/src/corpus_split.rs puts it),
# 1877 messages in corpus 0.2.3, or the first COUNT of them in group and name
# order. They are copied into OUT_DIR/messages once and every tool reads them
# from there.
#
# Runs, in this order:
#   ringmail-check        `ringmail spam check --timing DIR`, one thread per core. The
#                         rate counts scoring time only. Loading and compiling
#                         the rules is timed apart and reported as start-up.
#   ringmail-serve-spamc  `ringmail spam serve`, one worker per core, queried
#                         by spamc -c from CLIENTS parallel xargs workers
#   ringmail-serve-load   the same server, queried by `spamd-load send` with
#                         CLIENTS connections in flight (no process per message)
#   stub-spamc            spamc against `spamd-load stub`, which replies at
#                         once: the cost of spamc and its shell alone
#   stub-load             spamd-load against the stub: the client's own cost
#   spamd-spamc           spamd 4.0.1 --local (no DNS), 2 children, Bayes and
#                         auto-learning off, user config off, queried by spamc
#                         as above
#   rspamd                Rspamd 3.4, 2 normal workers, every module that makes
#                         DNS or HTTP requests disabled, remote maps replaced by
#                         their packaged copies, queried by rspamc -n CLIENTS
#                         with the client IP, HELO and hostname given
# Each server first gets WARMUP messages untimed, so that spamd's children
# and Rspamd's workers have compiled their rules.
#
# Both Ringmail and spamd load SpamAssassin's stock rules from
# /usr/share/spamassassin (no sa-update) and /etc/spamassassin. Every server
# runs under `strace -f --seccomp-bpf -e trace=connect`, and the run fails
# when any of them connects to anything but loopback or a Unix socket. Rspamd
# must log `dns req: 0` for every message.
#
# Usage: bench/compare/spam-compare.sh OUT_DIR [COUNT]
# Environment: BIN (default target/release) holds release builds of ringmail
# and spamd-load (`cargo build --release -p ringmail -p ringmail-bench`);
# CORPUS (default ~/.cache/ringmail/spamassassin-corpus-0.2.3/eml, fetched by
# tests/corpus/fetch.py); CLIENTS (default 4) parallel clients; WARMUP
# (default 20); PORT_BASE (default 27700, uses the next 5 loopback ports).
# Needs root to install the spamd, rspamd and strace packages when missing
# and to run the daemons as their own users. Prints a table on stdout. Logs,
# traces and per-run outputs stay in OUT_DIR. Exits non-zero when a server
# does not start, a message fails, a tool scans fewer messages than given, or
# a server contacts a non-loopback address.
set -euo pipefail

out=${1:?usage: spam-compare.sh OUT_DIR [COUNT]}
count=${2:-all}
bin=$(cd "${BIN:-target/release}" && pwd)
corpus=${CORPUS:-$HOME/.cache/ringmail/spamassassin-corpus-0.2.3/eml}
clients=${CLIENTS:-4}
warmup=${WARMUP:-20}
port_base=${PORT_BASE:-27700}
ringmail=$bin/ringmail
spamd_load=$bin/spamd-load

# Loopback ports. The Rspamd resolver port has no listener: Rspamd opens its
# resolver sockets at start, and this keeps them on loopback. The run checks
# that no DNS request is sent through them.
serve_port=$port_base
stub_port=$((port_base + 1))
spamd_port=$((port_base + 2))
rspamd_port=$((port_base + 3))
rspamd_dns_port=$((port_base + 4))

# Maximum wait for a server's port to open, in tenths of a second. spamd
# and Rspamd parse and compile their rules before they listen, which is slow
# on a loaded 2-core machine.
port_wait_tenths_max=1800

fail() {
  echo "spam-compare: $*" >&2
  exit 1
}

[[ -x $ringmail && -x $spamd_load ]] ||
  fail "missing $ringmail or $spamd_load; run cargo build --release -p ringmail -p ringmail-bench"
[[ -d $corpus ]] || fail "corpus not found in $corpus; run python3 tests/corpus/fetch.py"
[[ $(id -u) -eq 0 ]] || fail "must run as root, to install packages and run the daemons as their users"

mkdir -p "$out"
out=$(cd "$out" && pwd)
results=$out/results.tsv
: >"$results"

# Tracer process ids of the servers, stopped by cleanup on every exit.
tracer_pids=()

# Stops the process that strace started (its only child) with SIGTERM, then
# waits up to 10 s for strace to exit before killing it.
stop_traced() {
  local tracer=$1 child
  for child in $(pgrep -P "$tracer" 2>/dev/null || true); do
    kill -TERM "$child" 2>/dev/null || true
  done
  for _ in $(seq 100); do
    kill -0 "$tracer" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$tracer" 2>/dev/null || true
}

cleanup() {
  local tracer
  for tracer in "${tracer_pids[@]}"; do
    stop_traced "$tracer"
  done
  if [[ -n ${rspamd_pidfile:-} && -s $rspamd_pidfile ]]; then
    kill -TERM "$(cat "$rspamd_pidfile")" 2>/dev/null || true
  fi
  if [[ -n ${spamd_pidfile:-} && -s $spamd_pidfile ]]; then
    kill -TERM "$(cat "$spamd_pidfile")" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# Installs the Debian packages that provide missing commands. A temporary
# policy-rc.d keeps the system-wide spamd and Rspamd services from starting,
# and is removed afterwards only when this script created it.
install_missing() {
  local -A package_of=([spamd]=spamd [rspamd]=rspamd [rspamc]=rspamd [spamc]=spamc [strace]=strace)
  local missing=() command
  for command in "${!package_of[@]}"; do
    command -v "$command" >/dev/null 2>&1 || missing+=("${package_of[$command]}")
  done
  ((${#missing[@]} > 0)) || return 0
  local policy=/usr/sbin/policy-rc.d own_policy=0 status=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  apt-get update >&2 || status=$?
  if ((status == 0)); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $(printf '%s\n' "${missing[@]}" | sort -u) >&2 || status=$?
  fi
  if ((own_policy)); then
    rm -f "$policy"
  fi
  ((status == 0)) || fail "installing ${missing[*]} failed with status $status"
}

# Copies the test split (or its first COUNT messages) into OUT_DIR/messages
# as GROUP--NAME, and prints how many it copied.
select_messages() {
  rm -rf "$out/messages"
  mkdir -p "$out/messages"
  python3 - "$corpus" "$out/messages" "$count" <<'PY'
import os, shutil, sys

corpus, target, count = sys.argv[1], sys.argv[2], sys.argv[3]

def fnv1a(data):
    value = 0xcbf29ce484222325
    for byte in data:
        value ^= byte
        value = (value * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return value

chosen = []
for group in sorted(os.listdir(corpus)):
    for name in sorted(os.listdir(os.path.join(corpus, group))):
        if fnv1a(name.encode()) % 100 >= 70:
            chosen.append((group, name))
if count != "all":
    if len(chosen) < int(count):
        sys.exit(f"the test split has {len(chosen)} messages, fewer than {count}")
    chosen = chosen[: int(count)]
for group, name in chosen:
    shutil.copyfile(os.path.join(corpus, group, name), os.path.join(target, f"{group}--{name}"))
print(len(chosen))
PY
}

# Waits until PORT accepts a probe: a spamd-protocol PING for spamd servers,
# whose children would otherwise wait on an idle probe connection, and a TCP
# connect for Rspamd.
wait_port() {
  local port=$1 tracer=$2 probe=$3
  for _ in $(seq "$port_wait_tenths_max"); do
    if [[ $probe == ping ]]; then
      if spamc -K -d 127.0.0.1 -p "$port" >/dev/null 2>&1; then return 0; fi
    elif (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    kill -0 "$tracer" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# Starts a server under strace, writing its connect calls to
# OUT_DIR/NAME.strace, and waits for PORT to accept PROBE (ping or tcp).
# Fails first when PORT is already taken, because the probe would then
# reach another server.
start_traced() {
  local name=$1 port=$2 probe=$3
  shift 3
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "port $port is already in use, so $name cannot be measured there; set PORT_BASE"
  fi
  strace -f --seccomp-bpf -e trace=connect -o "$out/$name.strace" "$@" \
    >"$out/$name.out" 2>&1 &
  tracer_pids+=($!)
  wait_port "$port" "$!" "$probe" || fail "$name did not open port $port; see $out/$name.out"
}

# Fails when a strace log shows a connect to anything but 127.0.0.0/8, ::1
# or a Unix socket. Prints the number of connect calls seen.
check_connects() {
  local name=$1 trace=$out/$1.strace
  [[ -f $trace ]] || fail "no connect trace for $name"
  local foreign
  foreign=$(grep -E 'connect\(' "$trace" |
    grep -E 'sa_family=AF_INET6?' |
    grep -vE 'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"|inet_pton\(AF_INET6, "::ffff:127\.' || true)
  [[ -z $foreign ]] || fail "$name connected to a non-loopback address: $(head -3 <<<"$foreign")"
  grep -c 'connect(' "$trace" || true
}

now() { date +%s.%N; }

# Prints END - START in seconds.
elapsed() { awk -v start="$1" -v end="$2" 'BEGIN { printf "%.3f", end - start }'; }

# Appends one result row: tool, workers, messages, seconds.
record() {
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$results"
}

# Sends every message with spamc -c from CLIENTS parallel xargs workers, and
# records the run as TOOL. spamc -x turns a server failure into a non-zero
# status instead of an unscanned message. Exit status 1 means spam.
spamc_run() {
  local tool=$1 port=$2 workers=$3 started ended
  local output=$out/$tool.txt
  started=$(now)
  xargs -0 -P "$clients" -n 50 sh -c '
    port=$0
    for file; do
      spamc -x -c -d 127.0.0.1 -p "$port" <"$file"
      status=$?
      [ "$status" -le 1 ] || { echo "spamc failed with status $status on $file" >&2; exit 255; }
    done' "$port" <"$out/files.list" >"$output" 2>"$out/$tool.err" ||
    fail "$tool: spamc failed; see $out/$tool.err"
  ended=$(now)
  local scanned
  scanned=$(grep -cE '^-?[0-9.]+/[0-9.]+$' "$output" || true)
  ((scanned == messages)) || fail "$tool scanned $scanned of $messages messages"
  record "$tool" "$workers" "$scanned" "$(elapsed "$started" "$ended")"
}

# Sends every message with spamd-load and records the run as TOOL.
load_run() {
  local tool=$1 port=$2 workers=$3 line scanned seconds
  line=$("$spamd_load" send --target "127.0.0.1:$port" --connections "$clients" "$out/messages") ||
    fail "$tool: spamd-load failed: $line"
  scanned=$(sed -E 's/.*messages=([0-9]+).*/\1/' <<<"$line")
  seconds=$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$line")
  ((scanned == messages)) || fail "$tool scanned $scanned of $messages messages"
  record "$tool" "$workers" "$scanned" "$seconds"
}

# Sends the first WARMUP messages with spamc, untimed.
warm_up() {
  local port=$1
  head -z -n "$warmup" "$out/files.list" |
    xargs -0 -n 1 sh -c 'spamc -x -c -d 127.0.0.1 -p "$0" <"$1" >/dev/null; [ $? -le 1 ]' "$port" ||
    fail "warm-up on port $port failed"
}

# The whole run is one function, so bash parses it before it starts and an
# edit to this file during a run cannot change the commands still to come.
main() {
install_missing
messages=$(select_messages)
find "$out/messages" -type f -print0 | sort -z >"$out/files.list"
echo "spam-compare: $messages messages, $clients clients, load $(cut -d' ' -f1 /proc/loadavg)" >&2

# Ringmail reads Bayes from its data directory. An empty one means no
# Bayes, as in spamd and Rspamd below.
rm -rf "$out/ringmail-data"
mkdir -p "$out/ringmail-data"
"$ringmail" --data "$out/ringmail-data" spam rules --stats --json >"$out/ringmail-rules.json"

# 1. ringmail spam check, one process, rules compiled once.
check_started=$(now)
strace -f --seccomp-bpf -e trace=connect -o "$out/ringmail-check.strace" \
  "$ringmail" --data "$out/ringmail-data" spam check --timing "$out/messages" \
  >"$out/ringmail-check.txt" 2>"$out/ringmail-check.err" ||
  fail "ringmail spam check failed; see $out/ringmail-check.err"
check_ended=$(now)
check_connects ringmail-check >/dev/null
timing=$(grep '^timing: ' "$out/ringmail-check.err") || fail "no timing line from ringmail spam check"
check_scanned=$(sed -E 's/.* messages=([0-9]+).*/\1/' <<<"$timing")
check_score_ms=$(sed -E 's/.* score_ms=([0-9.]+).*/\1/' <<<"$timing")
check_compile_ms=$(sed -E 's/.*compile_ms=([0-9.]+).*/\1/' <<<"$timing")
((check_scanned == messages)) || fail "ringmail-check scanned $check_scanned of $messages messages"
record ringmail-check "$(nproc)" "$check_scanned" "$(awk -v ms="$check_score_ms" 'BEGIN { printf "%.3f", ms / 1000 }')"

# 2. ringmail spam serve.
cores=$(nproc)
start_traced ringmail-serve "$serve_port" ping \
  "$ringmail" --data "$out/ringmail-data" spam serve --listen "127.0.0.1:$serve_port"
warm_up "$serve_port"
spamc_run ringmail-serve-spamc "$serve_port" "$cores"
load_run ringmail-serve-load "$serve_port" "$cores"
stop_traced "${tracer_pids[-1]}"
check_connects ringmail-serve >/dev/null

# 3. Client costs against a server that does no work.
start_traced stub "$stub_port" ping "$spamd_load" stub --listen "127.0.0.1:$stub_port"
spamc_run stub-spamc "$stub_port" -
load_run stub-load "$stub_port" -
stop_traced "${tracer_pids[-1]}"

# 4. spamd. Its children switch to debian-spamd (the package's user), and
# -x keeps them from reading per-user preferences.
spamd_dir=$out/spamd
rm -rf "$spamd_dir"
mkdir -p "$spamd_dir"
chown debian-spamd: "$spamd_dir"
spamd_pidfile=$spamd_dir/spamd.pid
start_traced spamd "$spamd_port" ping \
  spamd --local --nouser-config --username debian-spamd --groupname debian-spamd \
  --helper-home-dir "$spamd_dir" --listen "127.0.0.1:$spamd_port" --allowed-ips 127.0.0.1 \
  --max-children 2 --min-children 2 --min-spare 2 --max-spare 2 \
  --configpath /usr/share/spamassassin --siteconfigpath /etc/spamassassin \
  --cf 'use_bayes 0' --cf 'bayes_auto_learn 0' \
  --pidfile "$spamd_pidfile" --syslog stderr
warm_up "$spamd_port"
spamc_run spamd-spamc "$spamd_port" 2
stop_traced "${tracer_pids[-1]}"
check_connects spamd >/dev/null

# 5. Rspamd, with a private top-level config over the packaged rules.
rspamd_dir=$out/rspamd
rm -rf "$rspamd_dir"
mkdir -p "$rspamd_dir"/{local,local/local.d,local/override.d,db,run,log}
chown -R _rspamd: "$rspamd_dir"
chmod 755 "$out"
rspamd_pidfile=$rspamd_dir/run/rspamd.pid
cat >"$rspamd_dir/rspamd.conf" <<EOF
.include "\$CONFDIR/common.conf"
options {
  pidfile = "\$RUNDIR/rspamd.pid";
  .include "\$CONFDIR/options.inc"
  .include(try=true; priority=1,duplicate=merge) "\$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
  type = "file";
  filename = "\$LOGDIR/rspamd.log";
  level = "info";
}
worker "normal" {
  bind_socket = "127.0.0.1:$rspamd_port";
  count = 2;
  .include "\$CONFDIR/worker-normal.inc"
}
EOF
# Modules that send DNS queries or HTTP requests, or need Redis. The
# regexp, chartable and other local-only modules stay on.
for module in rbl surbl emails spf dkim dmarc arc mx_check asn hfilter phishing \
  fuzzy_check dkim_signing neural reputation url_redirector ratelimit greylist \
  history_redis replies dcc antivirus external_services p0f clickhouse elastic \
  metadata_exporter metric_exporter rspamd_update bimi spamtrap whitelist multimap \
  aws_s3; do
  echo 'enabled = false;' >"$rspamd_dir/local/local.d/$module.conf"
done
echo "dns { nameserver = [\"127.0.0.1:$rspamd_dns_port\"]; }" >"$rspamd_dir/local/local.d/options.inc"
# Modules whose maps come from maps.rspamd.com: use the packaged copies.
echo 'file = ["${CONFDIR}/maps.d/mime_types.inc"];' >"$rspamd_dir/local/override.d/mime_types.conf"
echo 'source { url = ["${CONFDIR}/maps.d/mid.inc"]; }' >"$rspamd_dir/local/override.d/mid.conf"
chown -R _rspamd: "$rspamd_dir"
start_traced rspamd "$rspamd_port" tcp \
  rspamd --no-fork --config "$rspamd_dir/rspamd.conf" --user _rspamd --group _rspamd \
  --var=LOCAL_CONFDIR="$rspamd_dir/local" --var=DBDIR="$rspamd_dir/db" \
  --var=RUNDIR="$rspamd_dir/run" --var=LOGDIR="$rspamd_dir/log"
rspamc_args=(-h "127.0.0.1:$rspamd_port" -i 127.0.0.1 --helo localhost --hostname localhost -t 60)
head -z -n "$warmup" "$out/files.list" | xargs -0 rspamc "${rspamc_args[@]}" >/dev/null ||
  fail "rspamd warm-up failed"
rspamd_started=$(now)
xargs -0 rspamc "${rspamc_args[@]}" -n "$clients" <"$out/files.list" >"$out/rspamd.txt" 2>"$out/rspamd.err" ||
  fail "rspamc failed; see $out/rspamd.err"
rspamd_ended=$(now)
rspamd_scanned=$(grep -c '^Results for file: ' "$out/rspamd.txt" || true)
rspamd_errors=$(grep -ci 'error' "$out/rspamd.err" || true)
((rspamd_scanned == messages && rspamd_errors == 0)) ||
  fail "rspamd scanned $rspamd_scanned of $messages messages with $rspamd_errors errors"
record rspamd 2 "$rspamd_scanned" "$(elapsed "$rspamd_started" "$rspamd_ended")"
stop_traced "${tracer_pids[-1]}"
check_connects rspamd >/dev/null
tasks_logged=$(grep -c 'dns req: ' "$rspamd_dir/log/rspamd.log" || true)
tasks_no_dns=$(grep -c 'dns req: 0,' "$rspamd_dir/log/rspamd.log" || true)
((tasks_logged == messages + warmup)) ||
  fail "rspamd logged $tasks_logged scans, expected $((messages + warmup))"
((tasks_no_dns == tasks_logged)) ||
  fail "rspamd sent DNS requests in $((tasks_logged - tasks_no_dns)) of $tasks_logged scans"

# Table.
rules=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["rule_names"] - r["undefined"])' "$out/ringmail-rules.json")
echo "spam-compare: SpamAssassin stock rules defined: $rules; ringmail spam check start-up ${check_compile_ms} ms, whole run $(elapsed "$check_started" "$check_ended") s" >&2
python3 - "$results" <<'PY'
import sys

rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
rate = {tool: int(scanned) / float(seconds) for tool, _, scanned, seconds in rows}
print("| tool | workers | messages | seconds | msg/s | x spamd | x Rspamd |")
print("|---|---|---|---|---|---|---|")
for tool, workers, scanned, seconds in rows:
    r = rate[tool]
    # The stub rows measure the clients alone, so a ratio means nothing.
    ratios = "| - | - |" if tool.startswith("stub-") else \
        f"| {r / rate['spamd-spamc']:.1f} | {r / rate['rspamd']:.2f} |"
    print(f"| {tool} | {workers} | {scanned} | {float(seconds):.3f} | {r:.1f} {ratios}")
PY
}

main "$@"
