#!/usr/bin/env python3
"""alert_receiver.py - a loopback webhook/Slack receiver for the hub's alert
tests: every POST is one JSON line in LOG with its path, the plumb headers,
the body, and whether X-Plumb-Signature verifies against the secret file
(HMAC-SHA256 over "<X-Plumb-Timestamp>.<body>", checked here independently
of the hub's code). Usage: alert_receiver.py PORTFILE LOG [SECRETFILE]."""
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log = sys.argv[1], sys.argv[2]
secret = open(sys.argv[3], "rb").read().rstrip(b"\r\n") if len(sys.argv) > 3 and sys.argv[3] else None


class H(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        ts = self.headers.get("X-Plumb-Timestamp")
        sig = self.headers.get("X-Plumb-Signature")
        ok = None
        if secret is not None and sig is not None and ts is not None:
            want = "sha256=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(want, sig)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        rec = {"path": self.path, "timestamp": ts, "signature": sig, "delivery": self.headers.get("X-Plumb-Delivery"),
               "sig_ok": ok, "body": doc, "raw": body.decode("utf-8", "replace")}
        with open(log, "a") as f:
            f.write(json.dumps(rec) + "\n")
        time.sleep(float(os.environ.get("ALERT_RCV_DELAY", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[4]) if len(sys.argv) > 4 else 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
