#!/usr/bin/env python3
"""Reads the receiver's log (one JSON object per line) inside the container.

usage: events.py [--log FILE] [--event NAME] [--field DOTTED.PATH] [--grep TEXT]
Prints, for every received alert (optionally only those whose "event" is NAME and
whose raw line contains TEXT, case-insensitively), the value of FIELD (default
"event"); missing values print as "-". Lines that are not JSON print as "?".
"""
import argparse
import json


def dig(obj, path):
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return "-"
        obj = obj[part]
    return obj if isinstance(obj, str) else json.dumps(obj)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", default="/var/lib/e2e/webhook.jsonl")
    ap.add_argument("--event")
    ap.add_argument("--field", default="event")
    ap.add_argument("--grep")
    a = ap.parse_args()
    try:
        with open(a.log, encoding="utf-8") as f:
            lines = [line for line in f if line.strip()]
    except FileNotFoundError:
        return
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            print("?")
            continue
        if a.event and obj.get("event") != a.event:
            continue
        if a.grep and a.grep.lower() not in line.lower():
            continue
        print(dig(obj, a.field))


if __name__ == "__main__":
    main()
