#!/usr/bin/env bash
# Compare Ringmail's spam classifier with SpamAssassin 4.0.1 on the test
# split of the SpamAssassin public corpus.
#
# Steps:
#   1. `ringmail spam split --test|--train` lists the split, so this script
#      and the Rust tests split the corpus with the same function.
#   2. A private spamd listens on 127.0.0.1 with --local (no network
#      tests) and a site config that adds the hit rules and the score as
#      header fields. The script installs Debian's spamd package when it is
#      missing, with a policy-rc.d that keeps the system service stopped.
#      spamc sends every test message to it. Results are cached per message
#      under $WORK/sa-cache, so later runs skip SpamAssassin.
#   3. `ringmail spam check --json` scores the same files.
#   4. spam-accuracy.py compares the rule hits of the rules both support
#      and the scores.
#   5. Bayes: Ringmail (`spam learn`) and SpamAssassin (`sa-learn` with a
#      private database in $WORK) learn the train split. Both then score
#      the test split with Bayes on, and spam-accuracy.py reports spam caught
#      and ham false positives.
#
# spamd and sa-learn run under `strace -f -e trace=connect`, and the script
# fails when either connected to an inet address other than loopback.
#
# Usage: bench/compare/spam-accuracy.sh [--no-bayes]
# Environment: CORPUS (default ~/.cache/ringmail/spamassassin-corpus-0.2.3/eml),
# WORK (default target/spam-accuracy), SPAMD_PORT (default 17831),
# RINGMAIL (a built binary; default: build target/release/ringmail).
# Output: $WORK/report-rules.txt, $WORK/report-bayes.txt, and the same on
# standard output.

set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
corpus=${CORPUS:-$HOME/.cache/ringmail/spamassassin-corpus-0.2.3/eml}
work=${WORK:-$root/target/spam-accuracy}
port=${SPAMD_PORT:-17831}
run_bayes=1
if [[ ${1:-} == --no-bayes ]]; then
  run_bayes=0
fi

# Maximum message bytes spamc sends, as Ringmail's `spam check` maximum.
# spamc's own default (500 KB) would pass larger messages through unscored.
message_size_max=$((64 * 1024 * 1024))
# Parallel spamc clients, one per spamd child and per core of the 2-core
# machine the figures in docs/BENCHMARKS.md come from.
clients=2
# Maximum seconds to wait for spamd to load its rules and reply to PING.
spamd_start_timeout_s=120

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi

install_spamd() {
  if command -v spamd >/dev/null 2>&1 && command -v spamc >/dev/null 2>&1; then
    return
  fi
  echo "spam-accuracy: installing spamd and spamc"
  "${sudo[@]}" apt-get update
  # policy-rc.d exiting 101 is the Debian way to veto service starts during
  # an install: the private spamd below is the only one that runs.
  local policy=/usr/sbin/policy-rc.d own_policy=0 status=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends \
    spamd spamc || status=$?
  if ((own_policy)); then
    "${sudo[@]}" rm -f "$policy"
  fi
  if ((status != 0)); then
    echo "spam-accuracy: apt-get install failed with status $status" >&2
    exit "$status"
  fi
}

build_ringmail() {
  if [[ -n ${RINGMAIL:-} ]]; then
    ringmail=$RINGMAIL
    return
  fi
  (cd "$root" && cargo build --release --locked --bin ringmail)
  ringmail=${CARGO_TARGET_DIR:-$root/target}/release/ringmail
}

# Writes the SpamAssassin site config: a copy of /etc/spamassassin (so the
# same plugins and local.cf load as for Ringmail) plus the settings of this
# comparison. $1 is the directory, $2 is 0 (Bayes off) or 1 (Bayes on).
write_site_config() {
  local dir=$1 bayes=$2
  rm -rf "$dir"
  mkdir -p "$dir"
  cp /etc/spamassassin/*.pre /etc/spamassassin/*.cf "$dir"/
  {
    echo "# Written by bench/compare/spam-accuracy.sh."
    echo "use_bayes $bayes"
    echo "bayes_auto_learn 0"
    echo "bayes_path $work/sa-bayes/bayes"
    echo "bayes_learn_during_report 0"
    echo "lock_method flock"
    echo "add_header all CompareTests _TESTSSCORES(,)_"
    echo "add_header all CompareScore _SCORE_"
    # The relay pseudo-headers, to test Ringmail's parse of the Received chain.
    echo "add_header all CompareRelaysTrusted _RELAYSTRUSTED_"
    echo "add_header all CompareRelaysUntrusted _RELAYSUNTRUSTED_"
    echo "add_header all CompareRelaysInternal _RELAYSINTERNAL_"
    echo "add_header all CompareRelaysExternal _RELAYSEXTERNAL_"
  } >"$dir/zz_spam_accuracy.cf"
  chmod -R a+rX "$dir"
}

# Fails when a strace log shows a connect(2) to an inet address other than
# 127.0.0.1 or ::1. $1 is the log, $2 the program's name for the message.
check_loopback_only() {
  local log=$1 name=$2 foreign
  foreign=$(grep -E 'connect\(.*sa_family=AF_INET6?' "$log" |
    grep -vE 'inet_addr\("127\.0\.0\.1"\)|inet_pton\(AF_INET6, "::1"' || true)
  if [[ -n $foreign ]]; then
    echo "spam-accuracy: $name connected to a non-loopback address:" >&2
    echo "$foreign" | head -5 >&2
    exit 1
  fi
  echo "spam-accuracy: $name: $(grep -c 'connect(' "$log" || true) connect calls, all to loopback or unix sockets"
}

spamd_pid=
strace_pid=

stop_spamd() {
  if [[ -n $spamd_pid ]]; then
    kill "$spamd_pid" 2>/dev/null || true
  fi
  if [[ -n $strace_pid ]]; then
    wait "$strace_pid" 2>/dev/null || true
  fi
  spamd_pid=
  strace_pid=
}
trap stop_spamd EXIT

# Starts a private spamd on 127.0.0.1:$port with the site config $1, under
# strace, logging to $2.log, and waits until it replies to PING.
#
# Each child serves one message (--max-conn-per-child 1). SpamAssassin
# 4.0.1 matches a rule with a %{TAG} capture template through `/$test_qr/o`,
# and `/o` compiles the pattern once per process. A child that served more
# messages would match every later message against the tag value of its
# first one (seen with GB_CUSTOM_HTM_URI, which standalone `spamassassin`
# hits on messages where spamd did not).
start_spamd() {
  local site=$1 name=$2 user_args=()
  if [[ $(id -u) -eq 0 ]]; then
    # spamd drops root for each child; name the user so it does not guess.
    user_args=(-u nobody)
    chown -R nobody "$work/sa-bayes"
  fi
  rm -f "$work/$name.pid"
  strace -f --seccomp-bpf -e trace=connect -o "$work/$name.strace" \
    spamd --local -x --listen "127.0.0.1:$port" --max-children "$clients" \
    --min-children "$clients" --max-conn-per-child 1 --configpath /usr/share/spamassassin \
    --siteconfigpath "$site" --pidfile "$work/$name.pid" \
    --syslog-socket file --syslog "$work/$name.log" "${user_args[@]}" &
  strace_pid=$!
  local waited=0
  until spamc -d 127.0.0.1 -p "$port" -K >/dev/null 2>&1; do
    if ((waited >= spamd_start_timeout_s)); then
      echo "spam-accuracy: spamd did not reply to PING within ${spamd_start_timeout_s}s; see $work/$name.log" >&2
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  spamd_pid=$(cat "$work/$name.pid")
  echo "spam-accuracy: spamd ($name) ready after ${waited}s, pid $spamd_pid"
}

# Sends every test message without a cached result to spamd and stores the
# header block of spamd's response in $1/<group>__<file>. $1 is the cache.
query_spamd() {
  local cache=$1
  mkdir -p "$cache"
  export cache port message_size_max
  cut -f2 "$work/test.tsv" | while read -r path; do
    local key
    key="$(basename "$(dirname "$path")")__$(basename "$path")"
    [[ -s $cache/$key ]] || printf '%s\0' "$path"
  done | xargs -0 -r -P "$clients" -n 20 bash -c '
    for path; do
      key="$(basename "$(dirname "$path")")__$(basename "$path")"
      # -x: fail instead of passing the message through when spamd fails.
      if ! spamc -x -d 127.0.0.1 -p "$port" -s "$message_size_max" --headers \
          <"$path" | sed "/^\r\{0,1\}$/q" >"$cache/$key.tmp"; then
        echo "spam-accuracy: spamc failed on $path" >&2
        exit 255
      fi
      mv "$cache/$key.tmp" "$cache/$key"
    done' _
}

main() {
  install_spamd
  build_ringmail
  if [[ ! -d $corpus ]]; then
    python3 "$root/tests/corpus/fetch.py"
  fi
  mkdir -p "$work" "$work/sa-bayes"

  "$ringmail" spam split --test "$corpus" >"$work/test.tsv"
  "$ringmail" spam split --train "$corpus" >"$work/train.tsv"
  echo "spam-accuracy: test split $(wc -l <"$work/test.tsv") messages, train split $(wc -l <"$work/train.tsv")"
  "$ringmail" spam rules --json >"$work/rules.jsonl"
  "$ringmail" spam rules --stats | head -1 >"$work/rule-sources.txt"

  # Rule comparison: Bayes off on both sides (an empty data directory).
  local cache_rules=$work/sa-cache/rules
  if [[ $(find "$cache_rules" -type f 2>/dev/null | wc -l) -lt $(wc -l <"$work/test.tsv") ]]; then
    write_site_config "$work/sa-site-rules" 0
    start_spamd "$work/sa-site-rules" spamd-rules
    time query_spamd "$cache_rules"
    stop_spamd
    check_loopback_only "$work/spamd-rules.strace" spamd
  fi
  rm -rf "$work/rm-data-empty"
  mkdir -p "$work/rm-data-empty"
  cut -f2 "$work/test.tsv" | tr '\n' '\0' |
    xargs -0 "$ringmail" --data "$work/rm-data-empty" spam check --json >"$work/rm-rules.jsonl"
  python3 "$root/bench/compare/spam-accuracy.py" rules --work "$work" \
    --sa-cache "$cache_rules" --ringmail "$work/rm-rules.jsonl" | tee "$work/report-rules.txt"

  if ((run_bayes == 0)); then
    return
  fi

  # Bayes: both learn the train split from the same symlinked directories.
  rm -rf "$work/train"
  mkdir -p "$work/train/spam" "$work/train/ham"
  while IFS=$'\t' read -r label path; do
    ln -s "$path" "$work/train/$label/$(basename "$(dirname "$path")")__$(basename "$path")"
  done <"$work/train.tsv"

  rm -rf "$work/rm-data-bayes"
  mkdir -p "$work/rm-data-bayes"
  time "$ringmail" --data "$work/rm-data-bayes" spam learn \
    --spam "$work/train/spam" --ham "$work/train/ham"

  local cache_bayes=$work/sa-cache/bayes
  if [[ $(find "$cache_bayes" -type f 2>/dev/null | wc -l) -lt $(wc -l <"$work/test.tsv") ]]; then
    write_site_config "$work/sa-site-bayes" 1
    rm -rf "$work/sa-bayes"
    mkdir -p "$work/sa-bayes"
    : >"$work/sa-empty-prefs"
    time strace -f --seccomp-bpf -e trace=connect -o "$work/sa-learn.strace" \
      sa-learn --siteconfigpath "$work/sa-site-bayes" -p "$work/sa-empty-prefs" \
      --dbpath "$work/sa-bayes" --spam "$work/train/spam"
    time strace -f --seccomp-bpf -e trace=connect -o "$work/sa-learn-ham.strace" \
      sa-learn --siteconfigpath "$work/sa-site-bayes" -p "$work/sa-empty-prefs" \
      --dbpath "$work/sa-bayes" --ham "$work/train/ham"
    sa-learn --siteconfigpath "$work/sa-site-bayes" -p "$work/sa-empty-prefs" \
      --dbpath "$work/sa-bayes" --dump magic | tee "$work/sa-bayes-magic.txt"
    check_loopback_only "$work/sa-learn.strace" sa-learn
    check_loopback_only "$work/sa-learn-ham.strace" sa-learn
    start_spamd "$work/sa-site-bayes" spamd-bayes
    time query_spamd "$cache_bayes"
    stop_spamd
    check_loopback_only "$work/spamd-bayes.strace" spamd
  fi
  cut -f2 "$work/test.tsv" | tr '\n' '\0' |
    xargs -0 "$ringmail" --data "$work/rm-data-bayes" spam check --json >"$work/rm-bayes.jsonl"
  python3 "$root/bench/compare/spam-accuracy.py" bayes --work "$work" \
    --sa-cache "$cache_bayes" --ringmail "$work/rm-bayes.jsonl" | tee "$work/report-bayes.txt"
}

main "$@"
