#!/usr/bin/env bash
# Measures the durable accept rate of Ringmail beside Postfix and the load generator's
# sink, all on this machine in one run, with the same load: 4 KiB messages,
# 50 connections, 100 messages per connection.
#
# Five loads per repetition, back to back:
#   sink             ringmail-loadgen sink (no storage: the ceiling)
#   ringmail-spool   Ringmail, remote recipient from a relay network: one
#                    spool record per message, group-committed with fdatasync
#   ringmail-maildir Ringmail, local recipient: batched Maildir delivery
#   postfix-hold     Postfix, remote recipient, queue file fsynced, then held
#   postfix-deliver  Postfix, local recipient, delivered to Maildir later
#
# Usage: bench/compare/accept-compare.sh OUT_DIR [REPS]
# Needs root (for the private Postfix), release builds of ringmail and
# ringmail-loadgen in $BIN (default target/release), and free loopback
# ports 27600-27640. Results: OUT_DIR/rep<N>-<load>.json and a summary table.
set -euo pipefail

out=${1:?usage: accept-compare.sh OUT_DIR [REPS]}
reps=${2:-3}
bin=${BIN:-target/release}
here=$(cd "$(dirname "$0")" && pwd)
loadgen=$bin/ringmail-loadgen
ringmail=$bin/ringmail
load=(--connections 50 --per-connection 100 --messages 20000 --size 4096)

mkdir -p "$out"
cleanup() {
  for pid in ${sink_pid:-} ${server_pid:-}; do kill "$pid" 2>/dev/null || true; done
  "$here/postfix-accept.sh" stop "$out/pf-deliver" >/dev/null 2>&1 || true
  "$here/postfix-accept.sh" stop "$out/pf-hold" >/dev/null 2>&1 || true
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "port $1 did not open" >&2
  return 1
}

# Waits until a Postfix queue directory has no files left in incoming/ or
# active/, so one run's deliveries do not slow the next load.
wait_postfix_idle() {
  for _ in $(seq 600); do
    if [[ -z $(find "$1/spool/incoming" "$1/spool/active" "$1/spool/maildrop" -type f 2>/dev/null | head -1) ]]; then
      return 0
    fi
    sleep 1
  done
}

"$here/postfix-accept.sh" start 27631 "$out/pf-deliver" >/dev/null
"$here/postfix-accept.sh" start 27632 "$out/pf-hold" hold >/dev/null
"$loadgen" sink --listen 127.0.0.1:27621 >"$out/sink.log" 2>&1 &
sink_pid=$!
wait_port 27621

for rep in $(seq "$reps"); do
  echo "rep $rep: load $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out/loadavg.txt"
  "$loadgen" smtp --target 127.0.0.1:27621 "${load[@]}" --json "$out/rep$rep-sink.json" >/dev/null

  for kind in spool maildir; do
    data="$out/data-$rep-$kind"
    rm -rf "$data"
    mkdir -p "$data"
    printf '[smtp]\nrelay_networks = ["127.0.0.0/8"]\n' >"$out/ringmail.toml"
    "$ringmail" serve --data "$data" --config "$out/ringmail.toml" \
      --smtp 127.0.0.1:27611 --imap 127.0.0.1:27612 \
      --submission 127.0.0.1:27613 --submission-tls 127.0.0.1:27614 2>"$out/rep$rep-$kind.log" &
    server_pid=$!
    wait_port 27611
    if [[ $kind == spool ]]; then to=someone@example.net; else to=postmaster@localhost; fi
    "$loadgen" smtp --target 127.0.0.1:27611 "${load[@]}" --to "$to" --json "$out/rep$rep-ringmail-$kind.json" >/dev/null
    kill "$server_pid"
    wait "$server_pid" || true
    server_pid=
  done

  "$loadgen" smtp --target 127.0.0.1:27632 "${load[@]}" --to someone@example.net --json "$out/rep$rep-postfix-hold.json" >/dev/null
  wait_postfix_idle "$out/pf-deliver"
  "$loadgen" smtp --target 127.0.0.1:27631 "${load[@]}" --to pfbench@localhost --json "$out/rep$rep-postfix-deliver.json" >/dev/null
  wait_postfix_idle "$out/pf-deliver"
done

python3 - "$out" "$reps" <<'PY'
import json, sys
out, reps = sys.argv[1], int(sys.argv[2])
loads = ["sink", "ringmail-spool", "ringmail-maildir", "postfix-hold", "postfix-deliver"]
print("| rep | load | accepted | msg/s | message p50 | p99 |")
print("|---|---|---|---|---|---|")
for rep in range(1, reps + 1):
    for load in loads:
        with open(f"{out}/rep{rep}-{load}.json") as f:
            r = json.load(f)
        m = r["message_ms"]
        print(f"| {rep} | {load} | {r['accepted']} | {r['msgs_per_sec']:.1f} | {m['p50']:.1f} ms | {m['p99']:.1f} ms |")
PY
