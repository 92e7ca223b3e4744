#!/usr/bin/env python3
"""The measuring half of scripts/bench.sh: runs INSIDE the sandbox container (Debian's
python3, /src is the repository, read-only). Every figure is printed as one CSV sample line
on stdout, "section,case,subject,metric,unit,value"; progress goes to stderr.

usage: bench-guest.py template                 keep the one deferred message as the template
       bench-guest.py fill N                   grow the deferred queue to N messages
       bench-guest.py probe CASE REPS CONFIG   one round of each tool, REPS times, interleaved
       bench-guest.py window SECTION CASE SECONDS UNIT[=LABEL]...   CPU and memory of UNITs
       bench-guest.py latency CASE MONO_USEC   the incident that began at MONO_USEC (journal)
       bench-guest.py summary                  samples on stdin -> the table and the table's CSV

Where the numbers come from:
- wall: CLOCK_MONOTONIC around the command;
- CPU of a command: getrusage(RUSAGE_CHILDREN) before and after it, user + system; it
  includes what the command's own children used once they were waited for (getrusage(2));
- CPU of the MTA (showq, which postqueue and mailq ask): usage_usec of the Postfix unit's
  cgroup (cpu.stat, the kernel's cgroup-v2.rst) before and after the command;
- CPU of a daemon: usage_usec of its unit's cgroup over a window (children included);
- memory: /proc/PID/smaps of the unit's main process (proc(5)), read while it has no child
  (a forked child shares its pages for a moment): Rss, Pss, private = Private_Clean +
  Private_Dirty, and private split in two: "anon" (heap, stack, anonymous mappings: what the
  program allocated) and "files" (pages of the program's and its libraries' files that no
  other process maps: relocated data, and text that is private only because nothing else on
  the machine maps that library);
- latencies: journal entries' __MONOTONIC_TIMESTAMP (the daemon's, Postfix's and the webhook
  receiver's), matched by event and order.
"""
import json
import os
import pwd
import random
import resource
import statistics
import subprocess
import sys
import time

SPOOL = "/var/spool/postfix"
QUEUES = ("incoming", "active", "deferred", "maildrop")
TPL = "/run/bench"
MTA_UNIT = "postfix@-.service"
DAEMON_UNIT = "mta-watchdogd.service"
RECEIVER_UNIT = "e2e-receiver.service"
WEBHOOK_LOG = "/var/lib/e2e/webhook.jsonl"
MEMORY_METRICS = ("rss", "pss", "private", "private_anon", "private_files")


def say(msg):
    print("    " + msg, file=sys.stderr, flush=True)


def sample(section, case, subject, metric, unit, value):
    print("%s,%s,%s,%s,%s,%.3f" % (section, case, subject, metric, unit, value), flush=True)


def unit_show(unit, prop):
    return subprocess.run(["systemctl", "show", "-p", prop, "--value", unit],
                          capture_output=True, text=True, check=False).stdout.strip()


def cgroup_usage_usec(unit):
    """usage_usec of UNIT's cgroup (children included), or None while it has none."""
    cg = unit_show(unit, "ControlGroup")
    if not cg:
        return None
    # the unified hierarchy: /sys/fs/cgroup itself, or .../unified on a hybrid system
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        try:
            with open(root + cg + "/cpu.stat", encoding="ascii") as f:
                for line in f:
                    k, v = line.split()
                    if k == "usage_usec":
                        return int(v)
        except OSError:
            continue
    return None


def first_pid(unit):
    """The first process of UNIT's cgroup, for a unit whose MainPID systemd does not know."""
    cg = unit_show(unit, "ControlGroup")
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        try:
            with open(root + cg + "/cgroup.procs", encoding="ascii") as f:
                pids = [int(p) for p in f.read().split()]
            return pids[0] if pids else 0
        except (OSError, ValueError):
            continue
    return 0


def children(pid):
    """PID's child processes (proc(5): /proc/PID/task/TID/children), [] when it is gone."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid), encoding="ascii") as f:
            return f.read().split()
    except OSError:
        return []


def smaps_memory(pid):
    """{rss, pss, private, private_anon, private_files} in KiB of PID from /proc/PID/smaps,
    read at a moment when PID has no child (at most 100 tries 20 ms apart; the last read is
    kept if it never was: the figures then under-state private memory)."""
    vals = {}
    for _ in range(100):
        before = children(pid)
        vals = {"rss": 0, "pss": 0, "private": 0, "private_anon": 0, "private_files": 0}
        anon = True
        try:
            with open("/proc/%d/smaps" % pid, encoding="utf-8", errors="replace") as f:
                for line in f:
                    head = line.split(None, 6)
                    if head and "-" in head[0] and not head[0].endswith(":"):
                        # "ADDR-ADDR PERMS OFFSET DEV INODE [PATH]": a file when INODE != 0
                        anon = len(head) < 5 or head[4] == "0"
                        continue
                    if len(head) < 2 or not head[1].isdigit():
                        continue
                    key, kib = head[0], int(head[1])
                    if key == "Rss:":
                        vals["rss"] += kib
                    elif key == "Pss:":
                        vals["pss"] += kib
                    elif key in ("Private_Clean:", "Private_Dirty:"):
                        vals["private"] += kib
                        vals["private_anon" if anon else "private_files"] += kib
        except OSError:
            return None
        if not before and not children(pid):
            return vals
        time.sleep(0.02)
    return vals


def spool_files(queue):
    out = []
    for root, _, files in os.walk(os.path.join(SPOOL, queue)):
        out += [os.path.join(root, f) for f in files]
    return out


# --- the synthetic spool ------------------------------------------------------------------
def cmd_template():
    """Keeps the one deferred message Postfix made (queue file and defer log) as the template."""
    msgs = spool_files("deferred")
    if len(msgs) != 1:
        sys.exit("template: expected one deferred message, found %d" % len(msgs))
    qid = os.path.basename(msgs[0])
    rel = os.path.relpath(msgs[0], os.path.join(SPOOL, "deferred"))
    os.makedirs(TPL, exist_ok=True)
    with open(msgs[0], "rb") as f:
        data = f.read()
    logs = [p for p in spool_files("defer") if os.path.basename(p) == qid]
    log = b""
    if logs:
        with open(logs[0], "rb") as f:
            log = f.read()
    with open(TPL + "/msg", "wb") as f:
        f.write(data)
    with open(TPL + "/defer", "wb") as f:
        f.write(log)
    say("template: deferred/%s (%d bytes, defer log %d bytes)" % (rel, len(data), len(log)))


def cmd_fill(target):
    """Grows the deferred queue to TARGET messages, as Postfix lays them out: a file is
    created, its short queue id is made of the microseconds of its creation (5 hex digits)
    and its inode number (hex), and it is renamed to deferred/C/ID where C is the id's first
    character (hash_queue_depth = 1, postconf(5) hash_queue_names; mail_queue.c), owner
    postfix, mode 0700; its defer log goes to defer/C/ID. Its mtime, the time of the next
    delivery attempt (qmgr(8)), is up to an hour in the past: the queue is stuck."""
    with open(TPL + "/msg", "rb") as f:
        data = f.read()
    with open(TPL + "/defer", "rb") as f:
        log = f.read()
    pw = pwd.getpwnam("postfix")
    have = len(spool_files("deferred"))
    rng = random.Random(target)
    now = time.time()
    t0 = time.monotonic()
    made = 0
    for _ in range(max(0, target - have)):
        tmp = os.path.join(SPOOL, "deferred", ".bench-tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
        os.write(fd, data)
        os.fchown(fd, pw.pw_uid, pw.pw_gid)
        os.fchmod(fd, 0o700)
        ino = os.fstat(fd).st_ino
        usec = rng.randrange(1000000)
        qid = "%05X%X" % (usec, ino)
        due = now - rng.uniform(0, 3600)
        os.utime(fd, (due, due))
        os.close(fd)
        for q in ("deferred", "defer"):
            os.makedirs(os.path.join(SPOOL, q, qid[0]), mode=0o700, exist_ok=True)
            os.chown(os.path.join(SPOOL, q, qid[0]), pw.pw_uid, pw.pw_gid)
        os.rename(tmp, os.path.join(SPOOL, "deferred", qid[0], qid))
        if log:
            lp = os.path.join(SPOOL, "defer", qid[0], qid)
            fd = os.open(lp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, log)
            os.fchown(fd, pw.pw_uid, pw.pw_gid)
            os.close(fd)
        made += 1
        if made % 20000 == 0:
            say("fill: %d of %d" % (have + made, target))
    say("fill: %d deferred messages (%d new in %.1fs)" % (have + made, made, time.monotonic() - t0))


# --- one round of each tool ------------------------------------------------------------------
def measure(argv):
    """(wall ms, CPU ms of the command and its children, CPU ms of the MTA's cgroup)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    mta0 = cgroup_usage_usec(MTA_UNIT)
    t0 = time.monotonic()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=600)
    wall = (time.monotonic() - t0) * 1000
    mta1 = cgroup_usage_usec(MTA_UNIT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000
    mta = (mta1 - mta0) / 1000 if mta0 is not None and mta1 is not None else 0.0
    return wall, cpu, mta


def cmd_probe(case, reps, config):
    dirs = " ".join(os.path.join(SPOOL, q) for q in QUEUES)
    tools = [("mta-watchdogd --once", ["/usr/sbin/mta-watchdogd", "-c", config, "--once", "--json"])]
    tools.append(("postqueue -j", ["/usr/sbin/postqueue", "-j"]))
    tools.append(("mailq", ["/usr/bin/mailq"]))
    if os.access("/usr/sbin/qshape", os.X_OK):
        tools.append(("qshape", ["/usr/sbin/qshape", "incoming", "active", "deferred"]))
    else:
        say("qshape: not installed, skipped")
    tools.append(("find | wc -l", ["/bin/sh", "-c", "find %s -type f | wc -l" % dirs]))
    for rep in range(1, reps + 1):
        t0 = time.monotonic()
        for name, argv in tools:
            wall, cpu, mta = measure(argv)
            sample("probe", case, name, "wall", "ms", wall)
            sample("probe", case, name, "cpu", "ms", cpu)
            sample("probe", case, name, "mta_cpu", "ms", mta)
            sample("probe", case, name, "cpu_total", "ms", cpu + mta)
        say("probe %s: repetition %d of %d (%.1fs)" % (case, rep, reps, time.monotonic() - t0))


# --- a daemon over a window -------------------------------------------------------------
def journal(unit, since_mono_usec, fields=("MESSAGE",)):
    """(monotonic usec, entry) of UNIT's journal entries at or after SINCE."""
    out = subprocess.run(["journalctl", "-u", unit, "-o", "json", "--no-pager", "-b"],
                         capture_output=True, text=True, check=False).stdout
    entries = []
    for line in out.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        t = int(e.get("__MONOTONIC_TIMESTAMP", 0))
        if t >= since_mono_usec and isinstance(e.get("MESSAGE"), str):
            entries.append((t, e))
    return entries


def mono_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def cmd_window(section, case, seconds, units):
    """CPU of each unit's cgroup over SECONDS (as CPU seconds per hour and, for the watchdog,
    per probe round counted in its debug log), then its main process's memory."""
    labels = {}
    for spec in units:
        u, _, label = spec.partition("=")
        labels[u] = label or u.replace(".service", "")
    units = list(labels)
    u0 = {u: cgroup_usage_usec(u) for u in units}
    m0 = mono_usec()
    t0 = time.monotonic()
    left = seconds
    while left > 0:
        step = min(left, 20)
        time.sleep(step)
        left -= step
        if left > 0:
            say("%s %s: %ds of %ds" % (section, case, seconds - left, seconds))
    elapsed = time.monotonic() - t0
    m1 = mono_usec()
    for u in units:
        u1 = cgroup_usage_usec(u)
        name = labels[u]
        if u0[u] is None or u1 is None:
            say("%s: no cgroup, skipped" % u)
            continue
        used = (u1 - u0[u]) / 1e6
        sample(section, case, name, "cpu_per_hour", "s", used * 3600 / elapsed)
        if u == DAEMON_UNIT:
            rounds = sum(1 for t, e in journal(u, m0) if t <= m1 and ": round: " in e["MESSAGE"])
            if rounds:
                sample(section, case, name, "cpu_per_round", "ms", used * 1000 / rounds)
        pid = int(unit_show(u, "MainPID") or 0) or first_pid(u)
        if pid:
            mem = smaps_memory(pid)
            for metric in MEMORY_METRICS if mem else ():
                sample(section, case, name, metric, "KiB", mem[metric])


# --- latencies of one incident -----------------------------------------------------------------
def cmd_latency(case, since):
    """From the journals since SINCE (monotonic usec): stall.detected -> RestartUnit issued,
    RestartUnit -> its job done, RestartUnit -> first delivery (Postfix's first status=sent),
    and every event -> the receiver's 200 for it (the receiver logs one line per answer; the
    n-th 200 is the n-th line of its webhook log, whose event kind and order name the
    daemon's journal entry with that EVENT field)."""
    daemon = journal(DAEMON_UNIT, since)
    mta = journal(MTA_UNIT, since)
    recv = journal(RECEIVER_UNIT, since)

    def first(entries, text, after=0):
        for t, e in entries:
            if t >= after and text in e["MESSAGE"]:
                return t
        return None

    stall = next((t for t, e in daemon if e.get("EVENT") == "stall.detected"), None)
    call = first(daemon, "calling RestartUnit", stall or 0)
    done = first(daemon, "restart finished", call or 0)
    sent = first(mta, "status=sent", call or 0)
    if stall is None or call is None:
        say("latency %s: no stall.detected or RestartUnit in the journal" % case)
        return
    sample("latency", case, "stall.detected -> RestartUnit issued", "latency", "ms", (call - stall) / 1000)
    if done:
        sample("latency", case, "RestartUnit issued -> restart job done", "latency", "ms", (done - call) / 1000)
    if sent:
        sample("latency", case, "RestartUnit issued -> first delivery", "latency", "ms", (sent - call) / 1000)
    if done and sent:
        sample("latency", case, "restart job done -> first delivery", "latency", "ms", (sent - done) / 1000)
    with open(WEBHOOK_LOG, encoding="utf-8") as f:
        kinds = [json.loads(line).get("event", "?") for line in f if line.strip()]
    oks = [t for t, e in recv if '" 200 ' in e["MESSAGE"]]
    seen = {}
    for i, kind in enumerate(kinds):
        n = seen.get(kind, 0)
        seen[kind] = n + 1
        ev = [t for t, e in daemon if e.get("EVENT") == kind]
        if n < len(ev) and i < len(oks) and oks[i] >= ev[n]:
            sample("latency", case, "event -> receiver's 2xx", "latency", "ms", (oks[i] - ev[n]) / 1000)


# --- the table ----------------------------------------------------------------------------------------
def fmt(v):
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


LABELS = {
    "wall": "wall %s",
    "cpu": "CPU %s, own",
    "mta_cpu": "CPU %s, MTA (showq)",
    "cpu_total": "CPU %s, all",
    "cpu_per_round": "CPU %s per round",
    "cpu_per_hour": "CPU %s per hour",
    "rss": "RSS %s",
    "pss": "PSS %s",
    "private": "private %s",
    "private_anon": "private %s, anon",
    "private_files": "private %s, files",
    "latency": "%s",
}


def cmd_summary():
    groups, order = {}, []
    for line in sys.stdin:
        parts = line.rstrip("\n").split(",")
        if len(parts) != 6 or parts[0] == "section":
            continue
        key = tuple(parts[:5])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(float(parts[5]))

    def stat(section, case, subject, metric):
        for k in order:
            if k[:4] == (section, case, subject, metric):
                v = groups[k]
                return statistics.median(v), min(v), max(v), len(v), k[4]
        return None

    rows, csv = [], ["section,case,subject,metric,unit,median,min,max,n,ratio,ratio_to"]

    def row(section, case, subject, metric, ratio_to=None, ref=None):
        s = stat(section, case, subject, metric)
        if s is None:
            return
        med, lo, hi, n, unit = s
        ratio = ""
        if ref:
            r = stat(*ref)
            if r and r[0] > 0:
                q = med / r[0]
                ratio = ("%.1fx" if q >= 0.1 else "%.3fx") % q
        cell = "%s [%s-%s]" % (fmt(med), fmt(lo), fmt(hi))
        rows.append((section, case, subject, LABELS.get(metric, metric) % unit, cell, str(n),
                     ("%s %s" % (ratio, ratio_to)) if ratio else ""))
        csv.append(",".join([section, case, subject, metric, unit, "%.3f" % med, "%.3f" % lo,
                             "%.3f" % hi, str(n), ratio.rstrip("x"), ratio_to or ""]))

    cases = []
    for k in order:
        if (k[0], k[1]) not in cases:
            cases.append((k[0], k[1]))
    for section, case in cases:
        subjects = []
        for k in order:
            if k[:2] == (section, case) and k[2] not in subjects:
                subjects.append(k[2])
        if section == "probe":
            steady = [s for s in subjects if s.startswith("mta-watchdogd round")]
            ref = ("probe", case, steady[0], "cpu_per_round") if steady else None
            for subj in steady:
                row(section, case, subj, "cpu_per_round", "of the first round's" if subj != steady[0] else None,
                    ref if subj != steady[0] else None)
            for subj in subjects:
                if subj in steady:
                    continue
                row(section, case, subj, "wall")
                if subj in ("postqueue -j", "mailq"):
                    row(section, case, subj, "cpu")
                    row(section, case, subj, "mta_cpu")
                row(section, case, subj, "cpu_total", "of the watchdog's round", ref)
            for subj in steady:
                for metric in MEMORY_METRICS:
                    row(section, case, subj, metric)
        elif section == "cost":
            ref = ("cost", case, "mta-watchdogd", "cpu_per_hour")
            for subj in subjects:
                row(section, case, subj, "cpu_per_hour", None if subj == "mta-watchdogd" else "of mta-watchdogd's",
                    None if subj == "mta-watchdogd" else ref)
                row(section, case, subj, "cpu_per_round")
                for metric in MEMORY_METRICS:
                    row(section, case, subj, metric)
        else:
            for subj in subjects:
                row(section, case, subj, "latency")

    head = ("section", "case", "what", "metric", "median [min-max]", "n", "ratio")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    line = "  ".join("%-*s" % (widths[i], head[i]) for i in range(len(head)))
    print(line.rstrip())
    print("-" * len(line.rstrip()))
    last = None
    for r in rows:
        shown = list(r)
        if (r[0], r[1]) == last:
            shown[0] = shown[1] = ""
        last = (r[0], r[1])
        print("  ".join("%-*s" % (widths[i], shown[i]) for i in range(len(head))).rstrip())
    with open(os.environ.get("BENCH_TABLE_CSV", "/run/bench/table.csv"), "w", encoding="utf-8") as f:
        f.write("\n".join(csv) + "\n")


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    cmd = args[0]
    if cmd == "template":
        cmd_template()
    elif cmd == "fill":
        cmd_fill(int(args[1]))
    elif cmd == "probe":
        cmd_probe(args[1], int(args[2]), args[3])
    elif cmd == "window":
        cmd_window(args[1], args[2], int(args[3]), args[4:])
    elif cmd == "latency":
        cmd_latency(args[1], int(args[2]))
    elif cmd == "summary":
        cmd_summary()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
