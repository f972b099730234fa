#!/usr/bin/env python3
"""gentree.py - builds a benchmark tree: N managed files under ROOT, the same
files as sources under BL/files, and BL/baseline.yaml naming them.
Usage: gentree.py OUT NFILES TOTAL_BYTES NBIG
  NBIG large binaries share half of TOTAL_BYTES; the rest are config-sized."""
import os
import random
import sys

out, nfiles, total, nbig = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(42)
block = rng.randbytes(1 << 20)          # content does not matter to the cost of hashing
root, bl = os.path.join(out, "root"), os.path.join(out, "bl")
sizes = []
if nbig:
    big = total // 2 // nbig
    sizes += [big] * nbig
small_n = nfiles - nbig
small_avg = (total - sum(sizes)) // max(small_n, 1)
sizes += [max(64, int(small_avg * rng.uniform(0.2, 1.8))) for _ in range(small_n)]
with open(os.path.join(out, "list0"), "wb") as listing:
    os.makedirs(bl, exist_ok=True)
    with open(os.path.join(bl, "baseline.yaml"), "w") as y:
        y.write("version: 1\nserial: 1\nfiles:\n")
        for i, size in enumerate(sizes):
            rel = "srv/d%03d/f%05d" % (i % 200, i)
            start = rng.randrange(len(block))
            for base in (root, os.path.join(bl, "files")):
                p = os.path.join(base, rel)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, "wb") as f:
                    off = start
                    left = size
                    while left:
                        chunk = block[off:off + left] or block[:left]
                        f.write(chunk)
                        left -= len(chunk)
                        off = 0
            y.write('  - path: /%s\n    source: files/%s\n    mode: "0644"\n' % (rel, rel))
            listing.write(os.path.join(root, rel).encode() + b"\0")
