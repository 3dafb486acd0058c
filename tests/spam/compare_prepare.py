#!/usr/bin/env python3
"""Compare Ringmail's message preparation with SpamAssassin's on a sample.

Picks COUNT corpus messages spread evenly over the sorted corpus, dumps
SpamAssassin's view with sa_dump.pl and Ringmail's with the prepare_dump
example, and prints agreement:
- body exact: the body text arrays are equal after joining them and
  collapsing whitespace;
- body similar: difflib ratio of those texts is at least 0.95;
- uri hosts: the sets of lowercase URI hosts are equal, and their mean
  Jaccard index.
SpamAssassin runs at about 17 messages per second here, so keep COUNT small.
Usage: compare_prepare.py [COUNT]
"""
import difflib
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.expanduser("~/.cache/ringmail/spamassassin-corpus-0.2.3/eml")


def sample(count):
    paths = []
    for directory, _, names in os.walk(CORPUS):
        paths.extend(os.path.join(directory, name) for name in names)
    paths.sort()
    step = max(1, len(paths) // count)
    return paths[::step][:count]


def dump(command):
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return {record["file"]: record for record in map(json.loads, output.splitlines())}


def flat(lines):
    return re.sub(r"\s+", " ", "".join(lines)).strip()


def hosts(uris):
    found = set()
    for uri in uris:
        match = re.match(r"^[a-z][a-z0-9+.-]*://([^/?#:]+)", uri, re.I)
        if match:
            found.add(match.group(1).lower())
        elif uri.lower().startswith("mailto:") and "@" in uri:
            found.add(uri.split("@", 1)[1].lower().split("?")[0])
    return found


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    if not os.path.isdir(CORPUS):
        print("skipped: corpus not found, run `python3 tests/corpus/fetch.py`")
        return
    paths = sample(count)
    theirs = dump(["perl", os.path.join(HERE, "sa_dump.pl"), *paths])
    ours = dump(["cargo", "run", "-q", "-p", "ringmail-spam", "--example", "prepare_dump", "--", *paths])
    exact = similar = uri_equal = 0
    jaccard_total = 0.0
    for path in paths:
        sa_body, rm_body = flat(theirs[path]["body"]), flat(ours[path]["body"])
        ratio = difflib.SequenceMatcher(None, sa_body, rm_body, autojunk=False).ratio()
        exact += sa_body == rm_body
        similar += ratio >= 0.95
        sa_hosts, rm_hosts = hosts(theirs[path]["uris"]), hosts(ours[path]["uris"])
        union = sa_hosts | rm_hosts
        jaccard = len(sa_hosts & rm_hosts) / len(union) if union else 1.0
        jaccard_total += jaccard
        uri_equal += sa_hosts == rm_hosts
        if ratio < 0.95 or sa_hosts != rm_hosts:
            print(f"differs: {path} body ratio {ratio:.3f}, hosts only in sa "
                  f"{sorted(sa_hosts - rm_hosts)[:5]}, only in ringmail {sorted(rm_hosts - sa_hosts)[:5]}")
    total = len(paths)
    print(f"messages {total}: body exact {exact}, body similar (>= 0.95) {similar}, "
          f"uri hosts equal {uri_equal}, uri host jaccard mean {jaccard_total / total:.3f}")


if __name__ == "__main__":
    main()
