#!/usr/bin/env python3
"""latency.py - drift-to-revert latency of a running plumbd: writes drift
into N distinct managed files (one at a time) and times until each is back,
polling every 0.2 ms. Usage: latency.py LIST0 N (LIST0: NUL-separated paths)."""
import os
import sys
import time

paths = [p for p in open(sys.argv[1], "rb").read().split(b"\0") if p][: int(sys.argv[2])]
lat = []
for p in paths:
    want = open(p, "rb").read()
    t0 = time.perf_counter()
    with open(p, "wb") as f:
        f.write(b"drift\n")
    deadline = t0 + 5
    while time.perf_counter() < deadline:
        try:
            with open(p, "rb") as f:
                if f.read() == want:
                    break
        except FileNotFoundError:
            pass
        time.sleep(0.0002)
    else:
        sys.exit("latency: %s was not reverted within 5 s" % p.decode())
    lat.append(time.perf_counter() - t0)
lat.sort()
q = lambda x: lat[min(len(lat) - 1, int(x * len(lat)))] * 1000
print("  drift-to-revert over %d writes: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms"
      % (len(lat), q(0.50), q(0.90), q(0.99), lat[-1] * 1000))
