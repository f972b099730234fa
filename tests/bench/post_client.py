#!/usr/bin/env python3
"""post_client.py - reference for the delivery benchmark: POSTs every file
given (a list in a file) over one keep-alive HTTPS connection, like the sender.
Usage: post_client.py HOST PORT CAFILE LISTFILE"""
import http.client
import ssl
import sys

host, port, ca, listfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
conn = http.client.HTTPSConnection(host, port, context=ctx)
for path in open(listfile).read().split():
    body = open(path, "rb").read()
    conn.request("POST", "/v1/reports", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("post_client: HTTP %d" % r.status)
