#!/usr/bin/env python3
"""The relay of the Exim sandbox: an SMTP sink (RFC 5321) that accepts every message and
stores each in its own file, like Postfix's smtp-sink -d in the Postfix sandbox (postfix
and exim4 cannot be installed together). Standard library only.

usage: sink.py --listen ADDR:PORT --dir DIR [--hostname NAME] [--hold-flag FILE]

Answers EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT (no extensions advertised but
PIPELINING and 8BITMIME, so clients send plain SMTP); every accepted message is written to
DIR/<time>.<n> (written to a temporary name first, then renamed). Each delivery is printed
to stdout (the unit's journal). While FILE (--hold-flag) exists, the answer to DATA waits:
a client's delivery is then in progress (Exim holds its message's -D lock) while greetings,
and so the watchdog's SMTP probe, are answered as usual.
"""
import argparse
import os
import socket
import threading
import time

lock = threading.Lock()
counter = [0]


def store(directory, data):
    with lock:
        counter[0] += 1
        n = counter[0]
    name = f"{time.strftime('%H%M%S')}.{os.getpid()}.{n}"
    tmp = os.path.join(directory, "." + name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(directory, name))
    return name


def session(conn, peer, args):
    f = conn.makefile("rb")

    def reply(text):
        conn.sendall(text.encode() + b"\r\n")

    try:
        reply(f"220 {args.hostname} ESMTP sink")
        rcpts = 0
        while True:
            line = f.readline(4096)
            if not line:
                return
            cmd = line.decode("latin-1").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                reply(f"250-{args.hostname}\r\n250-PIPELINING\r\n250 8BITMIME")
            elif verb == "HELO":
                reply(f"250 {args.hostname}")
            elif verb == "MAIL":
                rcpts = 0
                reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                rcpts += 1
                reply("250 2.1.5 Ok")
            elif verb == "DATA":
                if rcpts == 0:
                    reply("503 5.5.1 Error: need RCPT command")
                    continue
                while args.hold_flag and os.path.exists(args.hold_flag):
                    time.sleep(0.1)
                reply("354 End data with <CR><LF>.<CR><LF>")
                data = bytearray()
                while True:
                    d = f.readline(65536)
                    if not d:
                        return
                    if d in (b".\r\n", b".\n"):
                        break
                    data += d[1:] if d.startswith(b"..") else d
                name = store(args.dir, bytes(data))
                print(f"sink: message from {peer[0]} stored as {name}", flush=True)
                reply(f"250 2.0.0 Ok: queued as {name}")
                rcpts = 0
            elif verb in ("RSET", "NOOP"):
                rcpts = 0 if verb == "RSET" else rcpts
                reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                reply("221 2.0.0 Bye")
                return
            else:
                reply("502 5.5.2 Error: command not recognized")
    except OSError:
        pass
    finally:
        conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--hostname", default="relay.test")
    p.add_argument("--hold-flag")
    args = p.parse_args()
    host, _, port = args.listen.rpartition(":")
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, int(port)))
    srv.listen(64)
    print(f"listening on {args.listen}", flush=True)
    while True:
        conn, peer = srv.accept()
        threading.Thread(target=session, args=(conn, peer, args), daemon=True).start()


if __name__ == "__main__":
    main()
