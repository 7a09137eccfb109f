#!/usr/bin/env python3
"""The two sides of bench/follow.sh, and the arithmetic.

  followprobe.py writer DB MODE N TIMES    commits N one-row transactions (journal mode MODE,
                                           synchronous=FULL) into DB; writes "id ns" to TIMES as
                                           each COMMIT returns; prints commits_per_s=
  followprobe.py reader DB LAST SEEN       polls max(id) on DB, a follower's copy, read-only, until
                                           it reaches LAST; writes "max ns" to SEEN at each new max
  followprobe.py lag TIMES SEEN            prints lag_p50_ms= and lag_p99_ms=: for every row, from
                                           its COMMIT returning to the first read that saw it

Times are CLOCK_MONOTONIC (time.monotonic_ns), the same in every process of the machine.
"""
import sqlite3
import sys
import time


def writer(db, mode, n, times):
    c = sqlite3.connect(db, isolation_level=None)
    c.execute(f"PRAGMA journal_mode={mode}")
    c.execute("PRAGMA synchronous=FULL")
    c.execute("CREATE TABLE IF NOT EXISTS lag(id INTEGER PRIMARY KEY, v BLOB)")
    with open(times, "w") as out:
        start = time.monotonic_ns()
        for i in range(1, n + 1):
            c.execute("INSERT INTO lag VALUES (?, randomblob(100))", (i,))
            out.write(f"{i} {time.monotonic_ns()}\n")
        elapsed = time.monotonic_ns() - start
    print(f"commits_per_s={n / (elapsed / 1e9):.1f}")


def reader(db, last, seen_file):
    deadline = time.monotonic() + 300
    c = None
    while c is None:
        try:
            c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
            c.execute("SELECT max(id) FROM lag").fetchone()
        except sqlite3.Error:
            c = None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    seen, reads = 0, 0
    with open(seen_file, "w") as out:
        while seen < last:
            if time.monotonic() > deadline:
                sys.exit(f"the follower showed row {seen} of {last} after 300 s")
            m = c.execute("SELECT max(id) FROM lag").fetchone()[0] or 0
            reads += 1
            if m > seen:
                out.write(f"{m} {time.monotonic_ns()}\n")
                seen = m
            time.sleep(0.001)
    print(f"reads={reads}")


def lag(times, seen_file):
    committed = {}
    with open(times) as f:
        for line in f:
            i, t = line.split()
            committed[int(i)] = int(t)
    lags = []
    before = 0
    with open(seen_file) as f:
        for line in f:
            m, t = (int(x) for x in line.split())
            for i in range(before + 1, m + 1):
                if i in committed:
                    lags.append(max(0, t - committed[i]) / 1e6)
            before = m
    lags.sort()
    pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]
    print(f"lag_p50_ms={pick(0.50):.2f}")
    print(f"lag_p99_ms={pick(0.99):.2f}")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "writer":
        writer(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif what == "reader":
        reader(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif what == "lag":
        lag(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {what}")
