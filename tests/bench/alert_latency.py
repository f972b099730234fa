#!/usr/bin/env python3
"""alert_latency.py HUB_URL TOKEN PORT N - drift-to-alert latency at the hub:
serves a webhook on 127.0.0.1:PORT (the hub's --alerts names it), posts N
reports that alternate drift and clean (each one a transition: firing, then
resolved), and times from the hub's answer to the POST to the alert's
arrival. The reference is the POST round trip itself (same request, same
run). Prints "alert_p50 alert_p99 post_p50 post_p99" in milliseconds."""
import json, sys, threading, time, urllib.request, uuid, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

hub, token, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
arrived = {}
cv = threading.Condition()


class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with cv:
            arrived[(body["alertname"], body["state"], body["summary"].split()[0])] = time.monotonic()
            arrived.setdefault("_n", 0)
            arrived["_n"] += 1
            cv.notify_all()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


srv = ThreadingHTTPServer(("127.0.0.1", port), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()


def report(drift):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ev = [{"resource": "file:/etc/motd", "drift": ["content"], "action": "detected", "expected": None,
           "actual": None, "at": now}] if drift else []
    return json.dumps({"schema": "plumb.report/v1", "id": str(uuid.uuid4()), "host": "bench1",
                       "agent_version": "0.1.0", "mode": "enforce", "started_at": now, "finished_at": now,
                       "baseline": {"commit": "0" * 40, "signer": "b@example.com",
                                    "fingerprint": "SHA256:" + "A" * 43, "serial": 1},
                       "events": ev, "summary": {"resources": 1, "drifted": len(ev), "reverted": 0, "failed": 0},
                       "run": {"id": str(uuid.uuid4()), "part": 1, "parts": 1}}).encode()


alert, post = [], []
for i in range(n):
    drift = i % 2 == 0
    body = report(drift)
    with cv:
        seen = arrived.get("_n", 0)
    req = urllib.request.Request(hub + "/v1/reports", data=body, method="POST",
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    t0 = time.monotonic()
    with urllib.request.urlopen(req) as r:
        r.read()
    t1 = time.monotonic()
    with cv:
        cv.wait_for(lambda: arrived.get("_n", 0) > seen, timeout=10)
        got = arrived.get("_n", 0) > seen
        t2 = max(v for k, v in arrived.items() if k != "_n") if got else None
    if t2 is None:
        sys.exit("alert %d did not arrive within 10 s" % i)
    post.append((t1 - t0) * 1000)
    alert.append((t2 - t1) * 1000)
srv.shutdown()
alert.sort(); post.sort()
q = lambda v, p: v[min(len(v) - 1, int(len(v) * p))]
print("%.1f %.1f %.1f %.1f" % (q(alert, 0.5), q(alert, 0.99), q(post, 0.5), q(post, 0.99)))
