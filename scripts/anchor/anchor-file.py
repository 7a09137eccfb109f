#!/usr/bin/env python3
"""An example freshness anchor for `sqlitesuperfs mount --anchor-command` (README, SECURITY.md).

Keeps each namespace's newest commit number in a JSON file of its own, in the directory given as
the only argument (made 0700), written crash-safely: a new file, fsync, rename, fsync of the
directory, before each answer. Put the directory somewhere the database's operator cannot write:
another machine's disk mounted here, a service's volume. A real deployment would rather ask a
TEE's monotonic counter or a remote service; the protocol is the same, one line each way:

    read ID          -> ok N     (0 when nothing is recorded)
    advance ID N     -> ok M     (M = max(N, recorded), once durable)
    rebase ID N      -> ok N     (even if lower: after a deliberate restore)

Anything else is answered "error ...". The program ends when its input ends.
"""
import json
import os
import re
import sys

ID = re.compile(r"[A-Za-z0-9]{8,128}\Z")


def path(directory, anchor_id):
    return os.path.join(directory, anchor_id + ".json")


def read(directory, anchor_id):
    try:
        with open(path(directory, anchor_id)) as f:
            return int(json.load(f)["commit"])
    except FileNotFoundError:
        return 0


def write(directory, anchor_id, number):
    target = path(directory, anchor_id)
    temporary = target + ".new"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps({"commit": number}).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, target)
    dirfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def answer(directory, line):
    parts = line.split()
    if len(parts) == 2 and parts[0] == "read" and ID.match(parts[1]):
        return "ok %d" % read(directory, parts[1])
    if len(parts) == 3 and parts[0] in ("advance", "rebase") and ID.match(parts[1]) and parts[2].isdigit():
        number = int(parts[2])
        recorded = read(directory, parts[1])
        if parts[0] == "rebase" or number > recorded:
            write(directory, parts[1], number)
            recorded = number
        return "ok %d" % recorded
    return "error unknown request"


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: anchor-file.py DIRECTORY\n")
        return 2
    directory = sys.argv[1]
    os.makedirs(directory, mode=0o700, exist_ok=True)
    for line in sys.stdin:
        try:
            reply = answer(directory, line)
        except (OSError, ValueError, KeyError) as e:
            reply = "error " + str(e).replace("\n", " ")
        sys.stdout.write(reply + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
