#!/usr/bin/env python3
"""Webhook receiver for the end-to-end tests (runs inside the container as a unit).

Every POST body is appended to LOG as one line (JSON re-serialised compactly, anything
else with its newlines escaped); its path and headers go to LOG's sibling
requests.jsonl, for tests of signing or other formats. The answer is 200, unless the file
FAIL_FLAG exists: then it answers with the status code written in it (503 if empty or
not a number) and does not record the body. Tests flip that file to simulate an outage of
the receiver.

With --secret-file, every request must carry a valid Standard Webhooks signature
(webhook-id, webhook-timestamp within 5 minutes, webhook-signature "v1,<base64 HMAC-SHA256>"
over "id.timestamp.body", key from the file's "whsec_<base64>", read at each request);
a request that fails is answered 401 and logged to requests.jsonl with "signature":
"invalid" and its reason, one that passes is recorded with "signature": "valid".
With --tls-cert and --tls-key it serves HTTPS.
With --body-flag FILE, while FILE exists the answer is 200 with FILE's content as its body,
as a receiver (or a proxy in front of one) does that says "refused" in a 200: the body is not
recorded in LOG, only in requests.jsonl with "refused": true. Otherwise a 200 says "ok".
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


def verify(secret_file, headers, body):
    """None if the signature is valid, else the reason."""
    with open(secret_file, encoding="utf-8") as f:
        secret = f.read().strip()
    if not secret.startswith("whsec_"):
        return "secret file without whsec_ prefix"
    key = base64.b64decode(secret[len("whsec_"):])
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature")
    if not msg_id or not ts or not sigs:
        return "missing webhook-* headers"
    if not ts.isdigit() or abs(time.time() - int(ts)) > 300:
        return "timestamp out of tolerance"
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for sig in sigs.split(" "):
        version, _, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(value, want):
            return None
    return "no matching v1 signature"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:9000")
    ap.add_argument("--log", default="/var/lib/e2e/webhook.jsonl")
    ap.add_argument("--fail-flag", default="/var/lib/e2e/receiver-fail")
    ap.add_argument("--secret-file")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--body-flag")
    args = ap.parse_args()
    host, port = args.listen.rsplit(":", 1)
    requests_log = os.path.join(os.path.dirname(args.log), "requests.jsonl")
    os.makedirs(os.path.dirname(args.log), exist_ok=True)

    def failing_status():
        try:
            with open(args.fail_flag, encoding="utf-8") as f:
                text = f.read().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else 503

    def refusal_body():
        if not args.body_flag:
            return None
        try:
            with open(args.body_flag, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def append(path, line):
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            status = failing_status()
            refusal = refusal_body() if status is None else None
            if refusal is not None:
                append(requests_log, json.dumps(
                    {"path": self.path, "body": body.decode("utf-8", "replace"), "refused": True},
                    separators=(",", ":")))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(refusal)))
                self.end_headers()
                self.wfile.write(refusal)
                return
            signature = None
            if status is None and args.secret_file:
                reason = verify(args.secret_file, self.headers, body)
                signature = "valid" if reason is None else "invalid"
                if reason is not None:
                    append(requests_log, json.dumps(
                        {"path": self.path, "headers": dict(self.headers.items()),
                         "signature": "invalid", "reason": reason}, separators=(",", ":")))
                    status = 401
            if status is None:
                text = body.decode("utf-8", "replace")
                try:
                    line = json.dumps(json.loads(text), separators=(",", ":"))
                except ValueError:
                    line = text.replace("\\", "\\\\").replace("\n", "\\n")
                append(args.log, line)
                append(requests_log, json.dumps(
                    {"path": self.path, "headers": dict(self.headers.items()),
                     "body": text, "signature": signature}, separators=(",", ":")))
                status = 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"ok\n" if status < 300 else b"no\n")

        def log_message(self, fmt, *a):
            sys.stderr.write("receiver: %s %s\n" % (self.address_string(), fmt % a))

    server = HTTPServer((host, int(port)), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
