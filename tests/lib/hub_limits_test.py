#!/usr/bin/env python3
"""hub_limits_test.py - one host's token (or many) against the real plumb-hub:
held uploads (memory stays bounded: RSS measured, not timed), slow requests
(closed by the receive deadline, and the address is not locked out), the
per-host ingest rate (429 + Retry-After). Properties, not timings: every
wait is bounded and only decides when to look. Exits non-zero on the first
failed check, naming it.
usage: hub_limits_test.py --case memory|slowloris|rate --hub BIN --db DB --url URL --pid PID ..."""
import argparse
import copy
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

ap = argparse.ArgumentParser()
ap.add_argument("--case", required=True, choices=("memory", "slowloris", "rate"))
ap.add_argument("--hub", required=True)
ap.add_argument("--db", required=True)
ap.add_argument("--url", required=True)
ap.add_argument("--pid", type=int, required=True)
ap.add_argument("--template", required=True)
ap.add_argument("--max-inflight", type=int, default=0)
ap.add_argument("--max-body", type=int, default=0)
ap.add_argument("--recv-timeout", type=int, default=0)
ap.add_argument("--host-rate", type=int, default=0)
args = ap.parse_args()
u = urllib.parse.urlparse(args.url)
checks = 0
MiB = 1 << 20


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


def token(*a):
    return subprocess.run([args.hub, "--db", args.db, "token", *a], check=True, capture_output=True,
                          text=True).stdout.strip()


def rss():
    for line in open("/proc/%d/status" % args.pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


template = json.load(open(args.template))


def report(host):
    d = copy.deepcopy(template)
    d["id"] = str(uuid.uuid4())
    d["host"] = host
    return d


def post(doc, tok):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("POST", "/v1/reports", body=json.dumps(doc).encode(), headers={"Authorization": "Bearer " + tok})
    r = c.getresponse()
    body = r.read()
    ra = r.getheader("Retry-After")
    c.close()
    return r.status, ra, body


def open_upload(tok, declared):
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    s.sendall(("POST /v1/reports HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (tok, declared)).encode())
    return s


def hold(socks, tokens, n, per_conn):
    """n uploads declaring per_conn bytes, each sending all but the last byte
    and then waiting; tokens are used in turn. Fills socks."""
    def one(i):
        try:
            s = open_upload(tokens[i % len(tokens)], per_conn)
            socks[i] = s
            s.sendall(b"{" + b" " * (per_conn - 2))
        except OSError:
            pass

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def unread():
    """Bytes the hub has not read yet from its clients' sockets (the kernel's
    receive queues of the hub's side, /proc/net/tcp)."""
    total = 0
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(f).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == u.port and fields[3] == "01":  # ESTABLISHED
                total += int(fields[4].split(":")[1], 16)
    return total


def settle():
    """Waits (bounded) until the hub has read everything sent to it, so that
    what it keeps is in its memory, not in the kernel's buffers."""
    for _ in range(240):
        if unread() == 0:
            return
        time.sleep(0.5)
    check(False, "the hub did not read its clients' data within 120s (%d bytes unread)" % unread())


def finish(socks):
    """Sends each held upload's last byte; returns the status each got, and
    whether it carried Retry-After ("429 retry"), or "closed"."""
    out = []
    for s in socks:
        if s is None:
            out.append("closed")
            continue
        try:
            s.settimeout(30)
            s.sendall(b"}")
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                more = s.recv(4096)
                if not more:
                    break
                data += more
        except OSError:
            out.append("closed")
            continue
        head = data.decode("latin-1")
        code = head.split(" ", 2)[1] if head.startswith("HTTP/") else "closed"
        out.append(code + (" retry" if "\r\nretry-after:" in head.lower() else ""))
    return out


def close_all(socks):
    for s in socks:
        if s is not None:
            try:
                s.close()
            except OSError:
                pass


if args.case == "memory":
    N = 200
    per_conn = 1 * MiB
    agent = token("add", "holder")
    genuine = token("add", "genuine")
    for _ in range(3):  # warm up: the hub's pools and caches are in place
        post(report("genuine"), genuine)
    base = rss()

    # 1. 200 uploads held by ONE host's token: the per-host bound (two
    # largest bodies) keeps them from taking the hub-wide budget.
    socks = [None] * N
    hold(socks, [agent], N, per_conn)
    settle()
    grown = rss() - base
    print("one token, %d held uploads of %d MiB each: RSS %+.1f MiB" % (N, per_conn // MiB, grown / MiB))
    bound = 2 * args.max_body
    check(grown < 2 * bound + 24 * MiB,
          "RSS grew %.1f MiB with %d uploads held by one token (bound %d MiB)" % (grown / MiB, N, bound // MiB))
    st, ra, body = post(report("genuine"), genuine)
    check(st == 201, "another host's report is stored while one token holds %d uploads (got %d %r)" % (N, st, body))
    got = finish(socks)
    refused = [a for a in got if a.startswith("429")]
    kept = [a for a in got if a[:3] in ("400", "422")]  # held to the end: "{ ... }" is no report
    check(len(kept) <= bound // per_conn + 1 and len(refused) == N - len(kept),
          "uploads past the per-host bound are answered 429, the rest read in full (%r)" % sorted(set(got)))
    check(all(a.endswith("retry") for a in refused), "every 429 carries Retry-After")
    close_all(socks)

    # 2. 200 uploads held by 20 hosts' tokens: the hub-wide --max-inflight.
    tokens = [token("add", "holder%02d" % i) for i in range(20)]
    base = rss()
    socks = [None] * N
    hold(socks, tokens, N, per_conn)
    settle()
    grown = rss() - base
    print("20 tokens, %d held uploads of %d MiB each: RSS %+.1f MiB" % (N, per_conn // MiB, grown / MiB))
    check(grown < 2 * args.max_inflight + 24 * MiB,
          "RSS grew %.1f MiB with %d uploads held (bound %d MiB); unbounded it would be %d MiB" %
          (grown / MiB, N, args.max_inflight // MiB, N * per_conn // MiB))
    got = finish(socks)
    busy = [a for a in got if a.startswith("503")]
    kept = [a for a in got if a[:3] in ("400", "422")]
    check(len(kept) <= args.max_inflight // per_conn + 1,
          "at most --max-inflight worth of uploads were kept (%d)" % len(kept))
    check(len(busy) == N - len(kept) and all(a.endswith("retry") for a in busy),
          "the rest are answered 503 with Retry-After (%r)" % sorted(set(got)))
    close_all(socks)
    # Given back: once the holders are gone, a report is stored again.
    for _ in range(50):
        st, ra, body = post(report("genuine"), genuine)
        if st == 201:
            break
        time.sleep(0.2)
    check(st == 201, "the budget is given back when the uploads end (got %d)" % st)

elif args.case == "slowloris":
    agent = token("add", "slow")
    # 250 connections from one address trickling a request (the per-address
    # limit is 256): the receive deadline closes every one of them, so the
    # address is not locked out.
    socks = []
    for i in range(250):
        s = socket.create_connection((u.hostname, u.port), timeout=10)
        s.sendall(b"POST /v1/reports HTTP/1.1\r\nHost: hub\r\n")
        socks.append(s)
    start = time.monotonic()
    alive = list(range(len(socks)))
    limit = args.recv_timeout * 4 + 10
    while alive and time.monotonic() - start < limit:
        for i in list(alive):
            try:
                socks[i].sendall(b"X")  # one header byte a second: never idle
                socks[i].settimeout(0.001)
                try:
                    if socks[i].recv(1) == b"":
                        alive.remove(i)
                except socket.timeout:
                    pass
            except OSError:
                alive.remove(i)
        time.sleep(1)
    took = time.monotonic() - start
    print("slowloris: %d of %d connections closed by the hub after %.0fs (--recv-timeout %ds)" %
          (len(socks) - len(alive), len(socks), took, args.recv_timeout))
    check(not alive, "every trickling connection was closed by the receive deadline (%d still open after %ds)" %
          (len(alive), limit))
    close_all(socks)
    st, ra, body = post(report("slow"), agent)
    check(st == 201, "the same address reports again after the slow connections (got %d %r)" % (st, body))
    # The deadline covers the body too: whole headers, then a byte a second.
    s = open_upload(agent, 4096)
    start, closed = time.monotonic(), False
    while time.monotonic() - start < limit and not closed:
        try:
            s.sendall(b" ")
            s.settimeout(0.001)
            try:
                closed = s.recv(1) == b""
            except socket.timeout:
                pass
        except OSError:
            closed = True
        time.sleep(1)
    s.close()
    check(closed, "a body trickled a byte a second was cut by the receive deadline")
    # A connection that is simply quick stays usable: keep-alive requests each
    # get a fresh deadline.
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    for i in range(3):
        c.request("POST", "/v1/reports", body=json.dumps(report("slow")).encode(),
                  headers={"Authorization": "Bearer " + agent})
        r = c.getresponse()
        r.read()
        check(r.status == 201, "keep-alive request %d stored" % i)
        if i < 2:
            time.sleep(args.recv_timeout * 0.7)
    c.close()

elif args.case == "rate":
    agent = token("add", "chatty")
    other = token("add", "quiet")
    d = report("chatty")
    d["events"] = [dict(d["events"][0], error="r" * 3000) for _ in range(15)] if d["events"] else []
    size = len(json.dumps(d))
    cap = max(args.host_rate, args.max_body)
    stored, st = 0, 0
    for i in range(cap // size + 5):
        d["id"] = str(uuid.uuid4())
        st, ra, body = post(d, agent)
        if st == 429:
            break
        check(st == 201, "chatty report %d stored under the rate (got %d %r)" % (i, st, body))
        stored += 1
    print("rate: %d reports of %d bytes stored before 429 (bucket %d bytes)" % (stored, size, cap))
    check(st == 429, "past --host-rate: 429 (got %d)" % st)
    check(ra is not None and int(ra) >= 1, "the 429 says when to retry (%r)" % ra)
    check(stored * size <= cap + size, "the bucket let through at most its size (%d reports)" % stored)
    check(post(report("quiet"), other)[0] == 201, "another host is not limited by the chatty one")

print("hub limits (%s): %d checks passed" % (args.case, checks))
