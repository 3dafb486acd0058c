#!/bin/sh
# Compare Ringmail's Bayes probability with SpamAssassin's on the public
# corpus. Both learn the same TRAIN spam (spam-2) and ham (easy-ham-1)
# messages, the first in file name order, and then score TEST messages each
# of spam-1 and easy-ham-2, so no test message was learned. SpamAssassin
# runs with -L (no network tests) and its Bayes database in a temporary
# directory, so neither the system nor the user configuration is changed.
#
# Usage: tests/spam/compare_bayes.sh [TRAIN [TEST]]   (defaults 200 and 15)
# Prints one line per test message: group, file, Ringmail p, SpamAssassin p.
set -eu

train=${1:-200}
test=${2:-15}
corpus=${RINGMAIL_CORPUS_DIR:-$HOME/.cache/ringmail/spamassassin-corpus-0.2.3}/eml
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/spam" "$work/ham"
ls "$corpus/spam-2" | sort | head -n "$train" | while read -r name; do
    ln -s "$corpus/spam-2/$name" "$work/spam/$name"
done
ls "$corpus/easy-ham-1" | sort | head -n "$train" | while read -r name; do
    ln -s "$corpus/easy-ham-1/$name" "$work/ham/$name"
done

cargo build --quiet --manifest-path "$repo/Cargo.toml" --bin ringmail
cargo build --quiet --manifest-path "$repo/Cargo.toml" -p ringmail-spam --example bayes_probability
"$repo/target/debug/ringmail" --data "$work/data" spam learn --spam "$work/spam" --ham "$work/ham" >&2

sa_config="$work/sa.cf"
printf 'use_bayes 1\nbayes_auto_learn 0\nbayes_auto_expire 0\nbayes_path %s/sa/bayes\n' "$work" >"$sa_config"
sa-learn --prefspath "$sa_config" --spam "$work/spam" >&2
sa-learn --prefspath "$sa_config" --ham "$work/ham" >&2

for group in spam-1 easy-ham-2; do
    ls "$corpus/$group" | sort | head -n "$test" | while read -r name; do
        file="$corpus/$group/$name"
        ours=$("$repo/target/debug/examples/bayes_probability" "$work/data" "$file" | cut -f2)
        theirs=$(spamassassin -L -t -D bayes --prefspath "$sa_config" <"$file" 2>&1 >/dev/null \
            | sed -n 's/.*bayes: score = \([0-9.e-]*\).*/\1/p' | tail -n 1)
        printf '%s\t%s\t%s\t%s\n' "$group" "$name" "$ours" "${theirs:-none}"
    done
done
