#!/bin/sh
# Runs SpamAssassin (local tests only, -L) over a fixed sample of the public
# SpamAssassin corpus and prints, per message, the eval rules that hit.
# Output lines: "<dir/file>\t<RULE,RULE,...>". The sample takes every 97th
# file of each folder, so it is the same on every machine that has the corpus.
# Usage: collect.sh > sa_eval_hits.tsv
set -eu
corpus="${HOME}/.cache/ringmail/spamassassin-corpus-0.2.3/eml"
for folder in spam-1 spam-2 hard-ham-1 easy-ham-1 easy-ham-2; do
    ls "$corpus/$folder" | sort | awk 'NR % 97 == 1' | head -n 8 | while read -r name; do
        hits=$(spamassassin -L -t -D rules < "$corpus/$folder/$name" 2>&1 >/dev/null \
            | sed -n 's/.*ran eval rule \([A-Za-z0-9_]*\) =*> got hit.*/\1/p' \
            | sort -u | paste -sd, -)
        printf '%s/%s\t%s\n' "$folder" "$name" "$hits"
    done
done
