#!/usr/bin/env python3
"""Webhook receiver for the end-to-end tests (runs inside the container as a unit).

Every POST body is appended to LOG as one line (JSON re-serialised compactly, anything
else with its newlines escaped); its path and headers go to LOG's sibling
requests.jsonl, for tests of signing or other formats. The answer is 200, unless the file
FAIL_FLAG exists: then it answers with the status code written in it (503 if empty or
not a number) and does not record the body. Tests flip that file to simulate an outage of
the receiver.
"""
import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:9000")
    ap.add_argument("--log", default="/var/lib/e2e/webhook.jsonl")
    ap.add_argument("--fail-flag", default="/var/lib/e2e/receiver-fail")
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

    def append(path, line):
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            status = failing_status()
            if status is None:
                text = body.decode("utf-8", "replace")
                try:
                    line = json.dumps(json.loads(text), separators=(",", ":"))
                except ValueError:
                    line = text.replace("\\", "\\\\").replace("\n", "\\n")
                append(args.log, line)
                append(requests_log, json.dumps(
                    {"path": self.path, "headers": dict(self.headers.items()),
                     "body": text}, separators=(",", ":")))
                status = 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"ok\n" if status < 300 else b"no\n")

        def log_message(self, fmt, *a):
            sys.stderr.write("receiver: %s %s\n" % (self.address_string(), fmt % a))

    HTTPServer((host, int(port)), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
