#!/usr/bin/env python3
"""measure.py - runs a command REPS times; prints the best wall time in
seconds and that run's peak RSS in KiB as /usr/bin/time reports it (a fork
of python would count python's own pages). Usage: measure.py REPS CMD [ARGS...]"""
import subprocess
import sys
import tempfile
import time

reps, cmd = int(sys.argv[1]), sys.argv[2:]
best = None
out = tempfile.NamedTemporaryFile(prefix="plumb-measure.")
for _ in range(reps):
    t0 = time.perf_counter()
    rc = subprocess.call(["/usr/bin/time", "-o", out.name, "-f", "%M"] + cmd,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dt = time.perf_counter() - t0
    if rc not in (0, 2):
        sys.exit("measure: %s exited %d" % (cmd[0], rc))
    with open(out.name) as f:
        rss = int(f.read().split()[-1])
    if best is None or dt < best[0]:
        best = (dt, rss)
print("%.4f %d" % best)
