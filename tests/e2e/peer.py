#!/usr/bin/env python3
"""Misbehaving peers for the end-to-end tests (run inside the container as transient units,
lib-causes.sh starts and stops them). Standard library only.

usage:
  peer.py smtp-hang --listen ADDR:PORT
      Answers every connection with a 220 greeting, then reads and ignores what the
      client sends (EHLO, ...) and never answers; holds the connection until the client
      closes it. A next hop that hangs after the greeting (RFC 5321 4.5.3.2 timeouts).
  peer.py smtp-421 --listen ADDR:PORT [--when greeting|ehlo]
      Answers "421 4.3.2 Service not available, try later" at the greeting (default), or
      a 220 greeting and the 421 to the first command (ehlo), and closes (RFC 5321 3.8).
  peer.py dns --listen ADDR:PORT [--a NAME=IPV4]... [--aaaa NAME=IPV6]...
      A UDP DNS responder (RFC 1035 4.1): A/AAAA answers from the table, NOERROR without
      answers for other types of a known name, NXDOMAIN (RCODE 3) for every other name.
      Every query is printed to stdout (the unit's journal): "dns: NAME TYPE -> RCODE".
ADDR may be an IPv6 address in brackets: [2001:db8::2]:25.
"""
import argparse
import ipaddress
import socket
import struct
import sys
import threading

GREETING_421 = b"421 4.3.2 Service not available, try later\r\n"


def parse_listen(text):
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return family, host, int(port)


def tcp_server(listen, handler):
    family, host, port = parse_listen(listen)
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(64)
    print(f"listening on {listen}", flush=True)
    while True:
        conn, peer = srv.accept()
        threading.Thread(target=handler, args=(conn, peer), daemon=True).start()


def smtp_hang(conn, peer):
    print(f"smtp-hang: connection from {peer[0]}", flush=True)
    with conn:
        try:
            conn.sendall(b"220 hang.test ESMTP\r\n")
            while conn.recv(4096):   # read and ignore; never answer
                pass
        except OSError:
            pass
    print(f"smtp-hang: {peer[0]} closed", flush=True)


def smtp_421(when):
    def handler(conn, peer):
        print(f"smtp-421: connection from {peer[0]} ({when})", flush=True)
        with conn:
            try:
                if when == "ehlo":
                    conn.sendall(b"220 relay.test ESMTP\r\n")
                    conn.settimeout(30)
                    conn.recv(4096)
                conn.sendall(GREETING_421)
            except OSError:
                pass
    return handler


# --- DNS (RFC 1035) ---------------------------------------------------------------------
QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV"}


def read_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return ".".join(labels), off + 1
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


def dns_answer(query, table):
    """The response to one query (bytes), or None for something that is not a query."""
    if len(query) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    name, off = read_name(query, 12)
    qtype, qclass = struct.unpack("!HH", query[off:off + 4])
    question = query[12:off + 4]
    key = name.lower().rstrip(".")
    records = table.get(key)
    answers = []
    if records is None:
        rcode = 3   # NXDOMAIN
    else:
        rcode = 0
        for rtype, data in records:
            if rtype == qtype:
                answers.append(b"\xc0\x0c" + struct.pack("!HHIH", rtype, 1, 60, len(data)) + data)
    rd = flags & 0x0100
    header = struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | rd | 0x0080 | rcode, 1, len(answers), 0, 0)
    print(f"dns: {key} {QTYPES.get(qtype, qtype)} -> {'NXDOMAIN' if rcode == 3 else 'NOERROR'}"
          f" ({len(answers)} answers)", flush=True)
    del qclass
    return header + question + b"".join(answers)


def dns_server(listen, table):
    family, host, port = parse_listen(listen)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((host, port))
    print(f"listening on {listen} (udp)", flush=True)
    while True:
        query, peer = sock.recvfrom(4096)
        try:
            reply = dns_answer(query, table)
        except (ValueError, IndexError, struct.error):
            reply = None
        if reply is not None:
            sock.sendto(reply, peer)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["smtp-hang", "smtp-421", "dns"])
    ap.add_argument("--listen", required=True)
    ap.add_argument("--when", choices=["greeting", "ehlo"], default="greeting")
    ap.add_argument("--a", action="append", default=[])
    ap.add_argument("--aaaa", action="append", default=[])
    a = ap.parse_args()
    if a.mode == "smtp-hang":
        tcp_server(a.listen, smtp_hang)
    elif a.mode == "smtp-421":
        tcp_server(a.listen, smtp_421(a.when))
    else:
        table = {}
        for spec, rtype, fam in [(s, 1, 4) for s in a.a] + [(s, 28, 6) for s in a.aaaa]:
            name, _, addr = spec.partition("=")
            packed = ipaddress.ip_address(addr).packed
            if len(packed) != (4 if fam == 4 else 16):
                ap.error(f"not an IPv{fam} address: {addr}")
            table.setdefault(name.lower().rstrip("."), []).append((rtype, packed))
        dns_server(a.listen, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
