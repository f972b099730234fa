#!/usr/bin/env python3
"""hub_load.py - concurrent load for plumb-hub benchmarks.
  ingest URL TOKENS TEMPLATE N THREADS: POSTs N distinct reports (TEMPLATE
      with fresh ids) from THREADS keep-alive connections, each with its own
      host's token (TOKENS: lines "host token"); prints "seconds reports/s".
  hosts URL TOKEN N [PATH]: GET PATH (default /v1/hosts) N times; prints
      "p50_ms p99_ms bytes".
  serve PORTFILE: a reference server that parses each POSTed report and
      answers 201, storing nothing (the load generator's own ceiling).
  hold URL TOKEN N BYTES READYFILE: N uploads with one host's token, each
      declaring BYTES and sending all but the last byte, then waiting
      (until killed, at most 600 s); writes READYFILE once all are sent."""
import http.client
import http.server
import json
import socketserver
import sys
import threading
import time
import urllib.parse
import uuid


def ingest(url, tokens, template, n, threads):
    u = urllib.parse.urlparse(url)
    pairs = [l.split() for l in open(tokens).read().splitlines() if l.strip()]
    tmpl = json.load(open(template))
    per = n // threads
    bodies = []
    for t in range(threads):
        host, tok = pairs[t % len(pairs)]
        lst = []
        for _ in range(per):
            d = dict(tmpl, id=str(uuid.uuid4()), host=host)
            lst.append(json.dumps(d).encode())
        bodies.append((tok, lst))
    errors = []

    def worker(tok, lst):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        h = {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
        for b in lst:
            c.request("POST", "/v1/reports", b, h)
            r = c.getresponse()
            r.read()
            if r.status not in (200, 201):
                errors.append(r.status)
                return
    ths = [threading.Thread(target=worker, args=b) for b in bodies]
    t0 = time.perf_counter()
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    dt = time.perf_counter() - t0
    if errors:
        sys.exit("hub_load: HTTP %r" % errors[:3])
    print("%.3f %.0f" % (dt, per * threads / dt))


def hosts(url, tok, n, path="/v1/hosts"):
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    lat, size = [], 0
    # one untimed request first: the connection, and the hub's first count
    c.request("GET", path, headers={"Authorization": "Bearer " + tok})
    c.getresponse().read()
    for _ in range(n):
        t0 = time.perf_counter()
        c.request("GET", path, headers={"Authorization": "Bearer " + tok})
        r = c.getresponse()
        body = r.read()
        lat.append(time.perf_counter() - t0)
        if r.status != 200:
            sys.exit("hub_load: HTTP %d" % r.status)
        size = len(body)
    lat.sort()
    print("%.2f %.2f %d" % (lat[len(lat) // 2] * 1e3, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3, size))


class Ref(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True      # headers and body go out at once

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        json.loads(body)
        out = b'{"duplicate":false}'
        self.send_response(201)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def hold(url, tok, n, size, ready):
    import socket
    u = urllib.parse.urlparse(url)
    socks = []

    def one():
        try:
            s = socket.create_connection((u.hostname, u.port), timeout=60)
            socks.append(s)
            s.sendall(("POST /v1/reports HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer %s\r\n"
                       "Content-Length: %d\r\n\r\n" % (tok, size)).encode())
            s.sendall(b"{" + b" " * (size - 2))
        except OSError:
            pass
    ths = [threading.Thread(target=one) for _ in range(n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(120)
    open(ready, "w").write("%d\n" % len(socks))
    time.sleep(600)


def serve(portfile):
    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
    s = S(("127.0.0.1", 0), Ref)
    open(portfile, "w").write(str(s.server_address[1]))
    threading.Timer(600, s.shutdown).start()
    s.serve_forever()


cmd = sys.argv[1]
if cmd == "ingest":
    ingest(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
elif cmd == "hosts":
    hosts(sys.argv[2], sys.argv[3], int(sys.argv[4]), *sys.argv[5:6])
elif cmd == "serve":
    serve(sys.argv[2])
elif cmd == "hold":
    hold(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
