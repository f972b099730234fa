#!/usr/bin/env python3
"""report_server.py - a stand-in control plane for tests: HTTPS (TLS 1.2+)
on 127.0.0.1, records every POST as a JSON line in --log (report id, auth
header, client certificate subject, status answered), answers from --script
(one line per request: "STATUS [RETRY-AFTER]"; consumed in order; 200 when
empty; 401/403/413/429/503 as asked), optionally demands a bearer token or a client certificate, and
optionally waits --delay seconds per request. Exits after --lifetime s."""
import argparse
import http.server
import json
import os
import ssl
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--port-file", required=True)
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--log", required=True)
ap.add_argument("--script")
ap.add_argument("--token")
ap.add_argument("--client-ca")
ap.add_argument("--delay", type=float, default=0)
ap.add_argument("--lifetime", type=float, default=300)
args = ap.parse_args()
threading.Timer(args.lifetime, lambda: os._exit(0)).start()
lock = threading.Lock()


def next_answer():
    if not args.script or not os.path.exists(args.script):
        return 200, None
    with lock:
        lines = open(args.script).read().splitlines()
        if not lines:
            return 200, None
        with open(args.script, "w") as f:
            f.write("".join(l + "\n" for l in lines[1:]))
    parts = lines[0].split()
    return int(parts[0]), (parts[1] if len(parts) > 1 else None)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True      # headers and body go out at once

    def log_message(self, fmt, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if args.delay:
            time.sleep(args.delay)
        try:
            doc = json.loads(body)
            rid, spool, nev, run = doc.get("id"), doc.get("spool"), len(doc.get("events", [])), doc.get("run")
        except Exception:
            rid, spool, nev, run = None, None, None, None
        auth = self.headers.get("Authorization")
        cert = self.connection.getpeercert() if args.client_ca else None
        subject = dict(x[0] for x in cert["subject"]).get("commonName") if cert else None
        if args.token and auth != "Bearer " + args.token:
            status, retry = 401, None
        else:
            status, retry = next_answer()
        with lock, open(args.log, "a") as f:
            f.write(json.dumps({"path": self.path, "id": rid, "auth": auth, "client": subject,
                                "status": status, "bytes": len(body), "events": nev, "spool": spool, "run": run,
                                "t": time.time()}) + "\n")
        reply = json.dumps({"status": status}).encode()
        self.send_response(status)
        if retry:
            self.send_header("Retry-After", retry)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


class Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


srv = Server(("127.0.0.1", args.port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(args.cert, args.key)
if args.client_ca:
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(args.client_ca)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
tmp = args.port_file + ".tmp"
with open(tmp, "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(tmp, args.port_file)
srv.serve_forever()
