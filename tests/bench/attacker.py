#!/usr/bin/env python3
"""attacker.py - what a hostile local user costs a running plumbd.
  sparse ROOT N: drift-to-revert time of /etc/m0../etc/m<2N-1> (each once,
    so none is backed off as contested): the first N with a 15 TiB sparse
    file replacing the managed /srv/app/big each round, the other N without
    it (the reference, same run); prints both and the ratio.
  storm PID DIR N: N mkdir/rmdir pairs in DIR; prints plumbd's CPU ticks
    against the storm's own (the reference) over the same seconds."""
import os
import sys
import time


def revert_time(motd, want, giant):
    if giant:
        with open(giant, "wb") as f:
            f.truncate(15 << 40)
    t0 = time.perf_counter()
    with open(motd, "wb") as f:
        f.write(b"drift\n")
    while time.perf_counter() < t0 + 30:
        with open(motd, "rb") as f:
            if f.read() == want:
                return time.perf_counter() - t0
        time.sleep(0.0002)
    sys.exit("attacker: /etc/motd not reverted within 30 s")


def ticks(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


if sys.argv[1] == "sparse":
    root, n = sys.argv[2], int(sys.argv[3])
    big = root + "/srv/app/big"
    runs = {}
    for k, (name, giant) in enumerate((("with a 15 TiB sparse file", big), ("reference, no sparse file", None))):
        lat = []
        for i in range(n):
            m = "%s/etc/m%d" % (root, k * n + i)
            lat.append(revert_time(m, open(m, "rb").read(), giant))
            time.sleep(0.05)
        lat.sort()
        runs[name] = lat[len(lat) // 2]
        print("  revert other drift %s: p50 %.1f ms, max %.1f ms over %d files"
              % (name, lat[len(lat) // 2] * 1e3, lat[-1] * 1e3, n))
    a, b = runs.values()
    print("  ratio sparse / reference (p50): %.2fx" % (a / b if b else float("nan")))
else:
    pid, d, n = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    hz = os.sysconf("SC_CLK_TCK")
    c0, s0, t0 = ticks(pid), os.times(), time.perf_counter()
    for _ in range(n):
        os.mkdir(d)
        os.rmdir(d)
    time.sleep(1)       # let plumbd finish what the storm queued
    c1, s1, secs = ticks(pid), os.times(), time.perf_counter() - t0
    own = (s1.user + s1.system - s0.user - s0.system) * hz
    print("  %d mkdir/rmdir of %s in %.1f s: plumbd %d ticks, the storm itself %.0f ticks (ratio %.2f)"
          % (n, os.path.basename(d), secs, c1 - c0, own, (c1 - c0) / own if own else float("nan")))
