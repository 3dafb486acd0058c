#!/usr/bin/env python3
"""Compare Ringmail's spam results with SpamAssassin's on the corpus test split.

bench/compare/spam-accuracy.sh writes the inputs into its work directory:
test.tsv (LABEL<TAB>PATH per test message, from `ringmail spam split`),
rules.jsonl (`ringmail spam rules --json`), a cache directory with the
header block of spamd's response per message (CompareTests and CompareScore
fields), and Ringmail's `spam check --json` lines.

`rules` reports rule agreement over the rules both support: the rules that
`ringmail spam rules --json` marks supported, with a non-zero score in score
set 0, and not `__` sub-rules, because neither program lists those. For each
such rule, agreement is the share of test messages on which both hit it or
both missed it. The report gives:
- the share of agreeing (rule, message) pairs over all rules;
- the same share over the rules that hit at least once on either side, so
  rules that never hit do not inflate the figure;
- the 20 rules with the most disagreements;
- the share of messages whose score is within 0.5 of SpamAssassin's, for
  the full score and for the score summed over supported rules only.

`rules` also writes relays-oracle.tsv (PATH<TAB>trusted relays<TAB>external
relays, as spamd reported them), the input of the ignored Rust test
relays_match_spamassassin_oracle.

`bayes` reports, per class, how many test messages each program calls spam
at its required score with Bayes on, and the Bayes band alone.
"""

import argparse
import collections
import json
import pathlib
import re
import sys

# Largest score difference that counts as "within" SpamAssassin's score.
SCORE_TOLERANCE = 0.5
# Rules listed in the report of most disagreements.
DISAGREEMENT_LIST_LEN = 20
# Example messages named per listed rule.
EXAMPLES_PER_RULE = 3
# Lowest Bayes band that counts as a spam verdict of Bayes alone: BAYES_80
# and up hit when the spam probability is at least 0.8.
BAYES_SPAM_BAND_MIN = 80


def cache_key(path):
    """Return the cache file name of a message: <group>__<file>."""
    path = pathlib.Path(path)
    return f"{path.parent.name}__{path.name}"


def read_split(work):
    """Return [(label, path)] of the test split, in file order."""
    rows = []
    for line in (work / "test.tsv").read_text().splitlines():
        label, path = line.split("\t", 1)
        rows.append((label, path))
    return rows


def read_rules(work):
    """Return {name: rule object} from `ringmail spam rules --json`."""
    rules = {}
    for line in (work / "rules.jsonl").read_text().splitlines():
        rule = json.loads(line)
        rules[rule["name"]] = rule
    return rules


def unfold_field(header_block, name):
    """Return the unfolded value of header field `name`, or None."""
    lines = header_block.replace("\r\n", "\n").split("\n")
    value = None
    for line in lines:
        if value is not None:
            if line[:1] in (" ", "\t"):
                value += " " + line.strip()
                continue
            break
        if line.lower().startswith(name.lower() + ":"):
            value = line[len(name) + 1:].strip()
    return value


def read_spamassassin(cache, path):
    """Return (score, {rule: score}) from spamd's cached response for `path`."""
    block = (cache / cache_key(path)).read_text(errors="replace")
    tests = unfold_field(block, "X-Spam-CompareTests")
    score = unfold_field(block, "X-Spam-CompareScore")
    if tests is None or score is None:
        sys.exit(f"spam-accuracy.py: no CompareTests or CompareScore field for {path}")
    hits = {}
    for item in re.split(r"[,\s]+", tests):
        if not item or item == "none":
            continue
        name, _, value = item.partition("=")
        hits[name] = float(value) if value else 0.0
    return float(score), hits


def read_ringmail(jsonl):
    """Return {path: check object} from `ringmail spam check --json`."""
    results = {}
    for line in pathlib.Path(jsonl).read_text().splitlines():
        result = json.loads(line)
        if "error" in result:
            sys.exit(f"spam-accuracy.py: ringmail failed on {result['path']}: {result['error']}")
        results[result["path"]] = result
    return results


def compared_rules(rules):
    """Return the names of the rules both programs run and list."""
    return {
        name
        for name, rule in rules.items()
        if rule["supported"] and rule["score"] != 0 and not name.startswith("__")
    }


def percent(part, whole):
    return 100.0 * part / whole if whole else 0.0


def report_rules(args):
    work = pathlib.Path(args.work)
    cache = pathlib.Path(args.sa_cache)
    split = read_split(work)
    rules = read_rules(work)
    ringmail = read_ringmail(args.ringmail)
    compared = compared_rules(rules)
    reasons = collections.Counter(
        rule["unsupported_reason"].split(" ")[0]
        for rule in rules.values()
        if not rule["supported"] and rule["score"] != 0 and not rule["name"].startswith("__")
    )

    only_sa = collections.Counter()
    only_ringmail = collections.Counter()
    examples = collections.defaultdict(list)
    hit_any = set()
    unknown_to_ringmail = collections.Counter()
    both_hit_pairs = 0
    full_within = 0
    supported_within = 0
    score_rows = []
    oracle_lines = []
    for _label, path in split:
        sa_score, sa_hits = read_spamassassin(cache, path)
        block = (cache / cache_key(path)).read_text(errors="replace")
        trusted = unfold_field(block, "X-Spam-CompareRelaysTrusted") or ""
        external = unfold_field(block, "X-Spam-CompareRelaysExternal") or ""
        oracle_lines.append(f"{path}\t{trusted}\t{external}\n")
        result = ringmail[path]
        rm_hits = {hit["name"]: hit["score"] for hit in result["hits"]}
        for name in sa_hits:
            if name not in rules:
                unknown_to_ringmail[name] += 1
        sa_set = {name for name in sa_hits if name in compared}
        rm_set = {name for name in rm_hits if name in compared}
        hit_any |= sa_set | rm_set
        both_hit_pairs += len(sa_set & rm_set)
        for name in sa_set - rm_set:
            only_sa[name] += 1
            if len(examples[name]) < EXAMPLES_PER_RULE:
                examples[name].append("-" + cache_key(path))
        for name in rm_set - sa_set:
            only_ringmail[name] += 1
            if len(examples[name]) < EXAMPLES_PER_RULE:
                examples[name].append("+" + cache_key(path))

        rm_score = result["score"]
        sa_supported = sum(sa_hits[name] for name in sa_set)
        rm_supported = sum(rm_hits[name] for name in rm_set)
        full_within += abs(rm_score - sa_score) <= SCORE_TOLERANCE + 1e-9
        supported_within += abs(rm_supported - sa_supported) <= SCORE_TOLERANCE + 1e-9
        score_rows.append((abs(rm_supported - sa_supported), cache_key(path), sa_supported, rm_supported))

    # Input of the ignored Rust test relays_match_spamassassin_oracle.
    (work / "relays-oracle.tsv").write_text("".join(oracle_lines))

    messages = len(split)
    disagreements = only_sa + only_ringmail
    pairs = len(compared) * messages
    disagreeing_pairs = sum(disagreements.values())
    per_rule = {name: 1.0 - disagreements[name] / messages for name in compared}
    below = sorted(name for name, share in per_rule.items() if share < 0.99)
    either_pairs = both_hit_pairs + disagreeing_pairs

    out = []
    out.append(f"test messages: {messages}")
    out.append(f"rules compared (supported, scored in set 0, not __): {len(compared)}")
    out.append("scored rules left out, by reason: " + ", ".join(
        f"{reason} {count}" for reason, count in sorted(reasons.items())))
    out.append(f"rules hit by either program on some message: {len(hit_any)}")
    out.append(
        f"agreement over all (rule, message) pairs: {percent(pairs - disagreeing_pairs, pairs):.3f}% "
        f"({disagreeing_pairs} of {pairs} pairs disagree)")
    active_pairs = len(hit_any) * messages
    out.append(
        f"agreement over pairs of rules that hit at least once: "
        f"{percent(active_pairs - disagreeing_pairs, active_pairs):.3f}% of {active_pairs}")
    out.append(
        f"hits on which both agree (both hit / either hit): {percent(both_hit_pairs, either_pairs):.2f}% "
        f"({both_hit_pairs} of {either_pairs})")
    if per_rule:
        worst = min(per_rule.values())
        out.append(f"lowest per-rule agreement: {100 * worst:.2f}%; rules below 99%: {len(below)}"
                   + (f" ({', '.join(below)})" if below else ""))
    out.append(
        f"score within {SCORE_TOLERANCE} of SpamAssassin's, full scores: "
        f"{percent(full_within, messages):.2f}% ({full_within} of {messages})")
    out.append(
        f"score within {SCORE_TOLERANCE}, supported rules only: "
        f"{percent(supported_within, messages):.2f}% ({supported_within} of {messages})")
    out.append("")
    out.append(f"{DISAGREEMENT_LIST_LEN} rules with the most disagreements "
               "(SA only = SpamAssassin hit, Ringmail missed):")
    out.append(f"{'rule':<32}{'SA only':>8}{'RM only':>8}{'agree %':>9}  examples (-SA only, +RM only)")
    for name, count in disagreements.most_common(DISAGREEMENT_LIST_LEN):
        out.append(f"{name:<32}{only_sa[name]:>8}{only_ringmail[name]:>8}"
                   f"{100 * per_rule[name]:>9.2f}  {' '.join(examples[name])}")
    if unknown_to_ringmail:
        out.append("")
        out.append("rules SpamAssassin hit that Ringmail's rule list does not define: " + ", ".join(
            f"{name} {count}" for name, count in unknown_to_ringmail.most_common()))
    out.append("")
    out.append("largest score differences over supported rules (message, SA, Ringmail):")
    for diff, key, sa_supported, rm_supported in sorted(score_rows, reverse=True)[:10]:
        out.append(f"  {key}  {sa_supported:.3f}  {rm_supported:.3f}")
    print("\n".join(out))


def bayes_band(hits):
    """Return the highest BAYES_NN band hit, as NN (00 to 999), or None."""
    bands = [int(name[6:]) for name in hits if re.fullmatch(r"BAYES_\d+", name)]
    if not bands:
        return None
    # BAYES_999 hits together with BAYES_99; the band is the highest one.
    return max(bands, key=lambda band: band / 10 if band >= 100 else band)


def report_bayes(args):
    work = pathlib.Path(args.work)
    cache = pathlib.Path(args.sa_cache)
    split = read_split(work)
    ringmail = read_ringmail(args.ringmail)
    counts = {
        program: {label: collections.Counter() for label in ("spam", "ham")}
        for program in ("SpamAssassin", "Ringmail")
    }
    bands = {
        program: {label: collections.Counter() for label in ("spam", "ham")}
        for program in ("SpamAssassin", "Ringmail")
    }
    for label, path in split:
        sa_score, sa_hits = read_spamassassin(cache, path)
        result = ringmail[path]
        rm_hits = {hit["name"] for hit in result["hits"]}
        for program, is_spam, hits in (
            ("SpamAssassin", sa_score >= result["required"], sa_hits),
            ("Ringmail", result["verdict"] == "spam", rm_hits),
        ):
            band = bayes_band(hits)
            counts[program][label]["messages"] += 1
            counts[program][label]["verdict spam"] += is_spam
            counts[program][label]["bayes spam"] += band is not None and band >= BAYES_SPAM_BAND_MIN
            bands[program][label]["none" if band is None else f"BAYES_{band:02}"] += 1

    out = []
    out.append(f"test messages: {len(split)}; required_score {ringmail[split[0][1]]['required']}; "
               f"Bayes alone calls spam at BAYES_{BAYES_SPAM_BAND_MIN} and up")
    out.append(f"{'program':<14}{'spam caught':>18}{'ham false pos.':>18}"
               f"{'spam by Bayes':>18}{'ham by Bayes':>18}")
    for program, by_label in counts.items():
        spam, ham = by_label["spam"], by_label["ham"]
        out.append(
            f"{program:<14}"
            f"{spam['verdict spam']:>7} ({percent(spam['verdict spam'], spam['messages']):5.2f}%)"
            f"{ham['verdict spam']:>8} ({percent(ham['verdict spam'], ham['messages']):5.2f}%)"
            f"{spam['bayes spam']:>8} ({percent(spam['bayes spam'], spam['messages']):5.2f}%)"
            f"{ham['bayes spam']:>8} ({percent(ham['bayes spam'], ham['messages']):5.2f}%)")
    out.append(f"spam messages: {counts['Ringmail']['spam']['messages']}, "
               f"ham messages: {counts['Ringmail']['ham']['messages']}")
    out.append("")
    out.append("Bayes band per class (messages):")
    names = sorted({band for program in bands.values() for label in program.values() for band in label},
                   key=lambda band: (band == "none", float(band[6:]) / (10 if len(band) > 8 else 1)
                                     if band != "none" else 0))
    out.append(f"{'band':<11}" + "".join(f"{p[:2] + ' ' + l:>10}" for p in bands for l in ("spam", "ham")))
    for band in names:
        out.append(f"{band:<11}" + "".join(
            f"{bands[p][l][band]:>10}" for p in bands for l in ("spam", "ham")))
    print("\n".join(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["rules", "bayes"])
    parser.add_argument("--work", required=True, help="work directory of spam-accuracy.sh")
    parser.add_argument("--sa-cache", required=True, help="directory of spamd's cached responses")
    parser.add_argument("--ringmail", required=True, help="`ringmail spam check --json` output")
    args = parser.parse_args()
    if args.mode == "rules":
        report_rules(args)
    else:
        report_bayes(args)


if __name__ == "__main__":
    main()
