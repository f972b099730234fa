#!/usr/bin/env python3
"""notify_listen.py SOCK LOG SECONDS - a stand-in service manager for tests
and benchmarks: binds the datagram socket SOCK (what NOTIFY_SOCKET names)
and writes each message it gets to LOG as "MONOTONIC MESSAGE", for SECONDS
at most. With "--now LOG" instead, appends "MONOTONIC NOW" to LOG, so a
silence up to now counts as a gap (CLOCK_MONOTONIC is system-wide)."""
import socket
import sys
import time

if sys.argv[1] == "--now":
    with open(sys.argv[2], "a") as log:
        log.write("%.3f NOW\n" % time.monotonic())
    sys.exit(0)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.1)
end = time.time() + float(sys.argv[3])
with open(sys.argv[2], "a", buffering=1) as log:
    while time.time() < end:
        try:
            log.write("%.3f %s\n" % (time.monotonic(), s.recv(4096).decode()))
        except socket.timeout:
            pass
