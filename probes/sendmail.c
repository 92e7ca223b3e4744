/* SPDX-License-Identifier: MIT */
/* Sendmail 8: its queue probe and MTA profile. Its log rules are in
 * probes/sendmail-log.c.
 *
 * Sources: the Sendmail Installation and Operation Guide ("op guide":
 * 1.3.7 queue groups, 3.3 "Forcing the queue", 3.9 host status, 5.6
 * options MinQueueAge, MaxQueueAge, Timeout.hoststatus, Appendix B queue
 * file formats) and sendmail 8's src/queue.c (gatherq(), queueup()),
 * src/mci.c (mci_get(), mci_read_persistent(), mci_store_persistent(),
 * mci_generate_persistent_path()), src/convtime.c; Debian 12's
 * /etc/init.d/sendmail and cf/ostype/debian.m4.
 *
 * Backlog: the "qf<id>" files of the MTA queue (QueueDirectory; its last
 * component may end in '*', a wildcard for queue group directories, each
 * of which may keep its qf files in a "qf/" subdirectory) and of the
 * submission client queue (/var/spool/mqueue-client, the MSP's), counted
 * apart: the MTA queue in active (never attempted, N0) and deferred, the
 * client queue in maildrop (mail submitted locally that the MSP could not
 * hand to the MTA yet, as Postfix's maildrop; never overdue: sendmail-msp
 * runs it, on Debian from cron every MSP_INTERVAL, and a restart of the MTA
 * does not). "tf" (a qf being
 * rewritten), "df", "xf" are not messages; "Qf" (lost: sendmail gave up on
 * the file) and "hf" (quarantined) wait for an administrator, and are
 * counted apart in frozen, like Exim's frozen mail.
 *
 * Schedule: sendmail keeps no next-attempt time. A queue runner every
 * queue interval (-q10m on Debian) gathers every qf and skips a job only
 * when it is too young (gatherq(), 'K' case): with MaxQueueAge > 0 when
 * now - K < min(K - T, MaxQueueAge), else with MinQueueAge > 0 when now - K
 * < MinQueueAge; a job with N0 is never too young. Each job processed gets
 * K = now and N + 1. So a job is due at T (N0) or K + that spacing, and
 * overdue when it is more than the slack past due; overdue_slack "auto" is
 * the interval plus a minute: a whole queue run should have taken it. With
 * no queue runner (QUEUE_MODE none or cron in sendmail.conf, a daemon
 * without -q, queue_interval = 0) nothing is ever overdue. The qf files are
 * read without locks (sendmail flocks them while it works on one; our
 * shared lock would make its non-blocking attempt fail), 512 bytes each: T,
 * K and N are the first lines. A file cut short or garbled counts as
 * backlog with no schedule.
 *
 * Host status: after a failure sendmail writes the host's status file
 * (E errno, S exit status, U time) and, for Timeout.hoststatus (30m), every
 * queue run defers mail for that host without connecting, logging the
 * same "Deferred: Connection refused by HOST" as a real attempt. That wait
 * is sendmail's own rule, not a stall: the scan reports the longest such
 * wait left of any host's failure (wait_left_usec, wait_reason), and the
 * detector detects no stall while it lasts (README "How it decides"). Any
 * host counts, not only the relay the reachability probes watch: the probe
 * does not route mail, and a wait for another host ends at most
 * Timeout.hoststatus after sendmail last tried it (a queue run that uses
 * the cached status does not renew U), so it can delay a stall verdict
 * by that much, never hide one (a U further than Timeout.hoststatus
 * ahead of the clock is no wait). The files are read without a lock (a
 * shared lock would make a delivering sendmail's LOCK_NB attempt fail);
 * only a file that ends with its "." line counts.
 */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "conf-parser.h"
#include "config.h"
#include "duration.h"
#include "fileio.h"
#include "log.h"
#include "macros.h"
#include "mta.h"
#include "text.h"
#include "queue-scan.h"
#include "sendmail.h"

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

int sendmail_parse_time(const char *s, size_t n, char default_unit, uint64_t *ret_usec) {
        uint64_t total = 0;
        size_t i = 0;

        if (n == 0)
                return -EBADMSG;
        while (i < n) {
                uint64_t v = 0, mult;
                size_t start = i;
                char unit;

                while (i < n && isdigit((unsigned char) s[i])) {
                        if (v > (UINT64_MAX - 9) / 10)
                                return -ERANGE;
                        v = v * 10 + (uint64_t) (s[i] - '0');
                        i++;
                }
                if (i == start)
                        return -EBADMSG;
                unit = i < n ? s[i++] : default_unit;
                switch (unit) {
                case 's': mult = 1; break;
                case 'm': mult = 60; break;
                case 'h': mult = 3600; break;
                case 'd': mult = 86400; break;
                case 'w': mult = 7 * 86400; break;
                default: return -EBADMSG;
                }
                if (v > UINT64_MAX / USEC_PER_SEC / mult || total > UINT64_MAX - 1 - v * mult * USEC_PER_SEC)
                        return -ERANGE;
                total += v * mult * USEC_PER_SEC;
        }
        *ret_usec = total;
        return 0;
}

static bool parse_int(const char *s, size_t n, int *ret) {
        uint64_t v;
        bool neg = n > 0 && s[0] == '-';

        if (!text_parse_u64(s + neg, n - neg, &v) || v > INT_MAX)
                return false;
        *ret = neg ? -(int) v : (int) v;
        return true;
}

void sendmail_cf_done(SendmailCf *cf) {
        free(cf->queue_directory);
        free(cf->host_status_directory);
        *cf = (SendmailCf) {
                .min_queue_age_usec = USEC_INFINITY,
                .max_queue_age_usec = USEC_INFINITY,
                .host_status_timeout_usec = USEC_INFINITY,
        };
}

int sendmail_parse_cf(const char *text, SendmailCf *ret, char *error, size_t error_size) {
        static const struct {
                const char *name;
                size_t offset;
                bool time;
        } options[] = {
                { "QueueDirectory",      offsetof(SendmailCf, queue_directory),          false },
                { "HostStatusDirectory", offsetof(SendmailCf, host_status_directory),    false },
                { "MinQueueAge",         offsetof(SendmailCf, min_queue_age_usec),       true  },
                { "MaxQueueAge",         offsetof(SendmailCf, max_queue_age_usec),       true  },
                { "Timeout.hoststatus",  offsetof(SendmailCf, host_status_timeout_usec), true  },
        };
        SendmailCf cf = {};
        const char *line = text;

        sendmail_cf_done(&cf);
        while (line && *line) {
                const char *end = strchr(line, '\n'), *v, *ve;
                size_t len = end ? (size_t) (end - line) : strlen(line);

                /* "O Name=value" (readcf(): blanks after O, around '=') */
                if (len > 2 && line[0] == 'O' && (line[1] == ' ' || line[1] == '\t')) {
                        const char *p = line + 1, *le = line + len;

                        while (p < le && (*p == ' ' || *p == '\t'))
                                p++;
                        for (size_t i = 0; i < ELEMENTSOF(options); i++) {
                                size_t k = strlen(options[i].name);

                                if ((size_t) (le - p) <= k || strncasecmp(p, options[i].name, k) != 0)
                                        continue;
                                v = p + k;
                                while (v < le && (*v == ' ' || *v == '\t'))
                                        v++;
                                if (v >= le || *v != '=')
                                        continue;
                                v++;
                                while (v < le && (*v == ' ' || *v == '\t'))
                                        v++;
                                ve = le;
                                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
                                        ve--;
                                if (options[i].time) {
                                        uint64_t *t = (uint64_t *) ((char *) &cf + options[i].offset);

                                        if (sendmail_parse_time(v, (size_t) (ve - v), 'm', t) < 0) {
                                                (void) snprintf(error, error_size, "option %s: \"%.*s\" is not a time",
                                                                options[i].name, (int) MIN_OF((size_t) (ve - v), (size_t) 64), v);
                                                sendmail_cf_done(&cf);
                                                return -EBADMSG;
                                        }
                                } else {
                                        char **s = (char **) ((char *) &cf + options[i].offset);

                                        free(*s);
                                        *s = strndup(v, (size_t) (ve - v));
                                        if (!*s) {
                                                sendmail_cf_done(&cf);
                                                return -ENOMEM;
                                        }
                                }
                                break;
                        }
                }
                line = end ? end + 1 : NULL;
        }
        *ret = cf;
        return 0;
}

int sendmail_conf_interval(const char *text, uint64_t *ret_usec) {
        char mode[32] = "daemon", interval[32] = "10m";
        const char *line = text;

        while (line && *line) {
                const char *end = strchr(line, '\n'), *v;
                size_t len = end ? (size_t) (end - line) : strlen(line), n;

                if ((v = text_shell_value(line, len, "QUEUE_MODE", &n)) && n < sizeof(mode)) {
                        for (size_t i = 0; i < n; i++)
                                mode[i] = (char) tolower((unsigned char) v[i]);
                        mode[n] = 0;
                } else if ((v = text_shell_value(line, len, "QUEUE_INTERVAL", &n)) && n < sizeof(interval)) {
                        memcpy(interval, v, n);
                        interval[n] = 0;
                }
                line = end ? end + 1 : NULL;
        }
        /* /etc/init.d/sendmail daemon_check(): "none*" and "cron*" start no queue daemon */
        if (strncmp(mode, "none", 4) == 0 || strncmp(mode, "cron", 4) == 0 || interval[0] == 0)
                return 0;
        /* "-q${QUEUE_INTERVAL}": a persistent runner "p10m" too, "p" alone
         * (or "p0") sleeping 1 s between runs (sendmail(8), -qp) */
        {
                bool persistent = interval[0] == 'p';
                const char *t = persistent ? interval + 1 : interval;

                if (persistent && (!t[0] || (sendmail_parse_time(t, strlen(t), 'm', ret_usec) == 0 && *ret_usec == 0))) {
                        *ret_usec = USEC_PER_SEC;
                        return 1;
                }
                if (sendmail_parse_time(t, strlen(t), 'm', ret_usec) < 0 || *ret_usec == 0)
                        return -EBADMSG;
        }
        return 1;
}

int sendmail_pidfile_interval(const char *text, uint64_t *ret_usec) {
        const char *cmd = strchr(text, '\n'), *p, *end;

        if (!cmd)
                return 0;
        cmd++;
        end = strchr(cmd, '\n');
        if (!end)
                end = cmd + strlen(cmd);
        for (p = cmd; p < end;) {
                const char *a, *ae;

                while (p < end && (*p == ' ' || *p == '\t'))
                        p++;
                a = p;
                while (p < end && *p != ' ' && *p != '\t')
                        p++;
                ae = p;
                if (ae - a < 3 || a[0] != '-' || a[1] != 'q')
                        continue;
                a += 2;
                /* -q!..., -qI/-qR/-qS/-qQ/-qL limit a one-time run */
                if (*a == 'p') {
                        uint64_t t = 0;

                        /* persistent queue runners: without a time (or 0)
                         * they sleep 1 s between runs (sendmail(8), -qp) */
                        a++;
                        if (a == ae || (sendmail_parse_time(a, (size_t) (ae - a), 'm', &t) == 0 && t == 0)) {
                                *ret_usec = USEC_PER_SEC;
                                return 1;
                        }
                }
                if (a < ae && sendmail_parse_time(a, (size_t) (ae - a), 'm', ret_usec) == 0 && *ret_usec > 0)
                        return 1;
        }
        return 0;
}

int sendmail_parse_qf(const char *buf, size_t size, SendmailQf *ret) {
        SendmailQf qf = {};
        size_t pos = 0, len;
        const char *l;
        uint64_t v;

        *ret = qf;
        if (!text_next_line(buf, size, &pos, &l, &len) || len < 2 || l[0] != 'V' || !text_parse_u64(l + 1, len - 1, &v))
                return -EBADMSG;
        while (text_next_line(buf, size, &pos, &l, &len)) {
                if (len < 2)
                        continue;
                switch (l[0]) {
                case 'T':
                        if (!qf.have_t && text_parse_u64(l + 1, len - 1, &qf.t))
                                qf.have_t = true;
                        break;
                case 'K':
                        if (!qf.have_k && text_parse_u64(l + 1, len - 1, &qf.k))
                                qf.have_k = true;
                        break;
                case 'N':
                        if (!qf.have_n && text_parse_u64(l + 1, len - 1, &qf.n))
                                qf.have_n = true;
                        break;
                default:
                        break;
                }
                if (qf.have_t && qf.have_k && qf.have_n)
                        break;
        }
        *ret = qf;
        if (!qf.have_t || !qf.have_n || (qf.n > 0 && !qf.have_k))
                return -EBADMSG;
        return 0;
}

int64_t sendmail_job_due(const SendmailQf *qf, const SendmailSpacing *s) {
        uint64_t spacing;

        if (qf->n == 0)
                return (int64_t) MIN_OF(qf->t, (uint64_t) INT64_MAX);
        if (s->max_queue_age_usec > 0) {
                uint64_t since = qf->k > qf->t ? qf->k - qf->t : 0;
                uint64_t max = s->max_queue_age_usec / USEC_PER_SEC;

                spacing = MIN_OF(since, max);
        } else
                spacing = s->min_queue_age_usec / USEC_PER_SEC;
        if (qf->k > (uint64_t) INT64_MAX - spacing)
                return INT64_MAX;
        return (int64_t) (qf->k + spacing);
}

bool sendmail_overdue(int64_t due_sec, uint64_t now_usec, uint64_t slack_usec, uint64_t *ret_late_usec) {
        uint64_t due_usec, late;

        *ret_late_usec = 0;
        if (slack_usec == USEC_INFINITY || due_sec < 0 || (uint64_t) due_sec > UINT64_MAX / USEC_PER_SEC)
                return false;
        due_usec = (uint64_t) due_sec * USEC_PER_SEC;
        if (now_usec <= due_usec)
                return false;
        late = now_usec - due_usec;
        if (late <= slack_usec)
                return false;
        *ret_late_usec = late;
        return true;
}

static void copy_printable(char *dst, size_t size, const char *s, size_t n) {
        if (n >= size)
                n = size - 1;
        for (size_t i = 0; i < n; i++)
                dst[i] = isprint((unsigned char) s[i]) ? s[i] : '?';
        dst[n] = 0;
}

int sendmail_parse_host_status(const char *buf, size_t size, SendmailHostStatus *ret) {
        SendmailHostStatus hs = {};
        size_t pos = 0, len;
        const char *l;
        bool version = false;
        uint64_t v;

        while (text_next_line(buf, size, &pos, &l, &len)) {
                if (len == 0)
                        return -EBADMSG;
                switch (l[0]) {
                case 'V':
                        if (!text_parse_u64(l + 1, len - 1, &v) || v != 0)
                                return -EBADMSG;
                        version = true;
                        break;
                case 'E':
                        if (!parse_int(l + 1, len - 1, &hs.err))
                                return -EBADMSG;
                        break;
                case 'H':
                        if (!parse_int(l + 1, len - 1, &hs.herr))
                                return -EBADMSG;
                        break;
                case 'S':
                        if (!parse_int(l + 1, len - 1, &hs.exitstat))
                                return -EBADMSG;
                        break;
                case 'D':
                        copy_printable(hs.dsn, sizeof(hs.dsn), l + 1, len - 1);
                        break;
                case 'R':
                        copy_printable(hs.reply, sizeof(hs.reply), l + 1, len - 1);
                        break;
                case 'U':
                        if (!text_parse_u64(l + 1, len - 1, &hs.lastuse))
                                return -EBADMSG;
                        break;
                case '.':
                        /* the end: nothing may follow */
                        if (len != 1 || !version || pos != size)
                                return -EBADMSG;
                        *ret = hs;
                        return 0;
                default:
                        return -EBADMSG;
                }
        }
        return -EBADMSG;
}

int sendmail_host_from_path(const char *rel, char *buf, size_t size) {
        const char *end = rel + strlen(rel);
        size_t out = 0;

        if (size == 0)
                return -ENOBUFS;
        buf[0] = 0;
        /* components from the last to the first, each without its trailing dot */
        while (end > rel) {
                const char *start = end, *ce = end;
                size_t n;

                while (start > rel && start[-1] != '/')
                        start--;
                if (ce > start && ce[-1] == '.')
                        ce--;
                n = (size_t) (ce - start);
                if (n > 0) {
                        if (out + (out > 0) + n >= size)
                                return -ENOBUFS;
                        if (out > 0)
                                buf[out++] = '.';
                        memcpy(buf + out, start, n);
                        out += n;
                        buf[out] = 0;
                }
                end = start > rel ? start - 1 : rel;
        }
        return out > 0 ? 0 : -EINVAL;
}

uint64_t sendmail_host_status_wait(const SendmailHostStatus *hs, uint64_t now_usec, uint64_t timeout_usec) {
        uint64_t until;

        /* mci_get(): stale when lastuse + MciInfoTimeout <= now */
        if (hs->exitstat == 0 || timeout_usec == 0 || hs->lastuse > UINT64_MAX / USEC_PER_SEC)
                return 0;
        until = hs->lastuse * USEC_PER_SEC;
        /* U more than the timeout ahead: written before the clock was set
         * back that far, or garbled. sendmail would skip the host until a
         * time no rule bounds (its flush, -qR, ignores the status): no
         * wait of its own that the watchdog waits out. */
        if (until > now_usec && until - now_usec > timeout_usec)
                return 0;
        until = until > UINT64_MAX - timeout_usec ? UINT64_MAX : until + timeout_usec;
        return until > now_usec ? until - now_usec : 0;
}

/* sysexits(3) names of the exit statuses a delivery leaves (sendmail's
 * sm_sysexmsg()). */
static const char *sysexit_text(int code) {
        switch (code) {
        case 67: return "User unknown";
        case 68: return "Host unknown";
        case 69: return "Service unavailable";
        case 70: return "Internal error";
        case 71: return "Operating system error";
        case 74: return "I/O error";
        case 75: return "Deferred";
        case 76: return "Remote protocol error";
        case 77: return "Insufficient permission";
        default: return NULL;
        }
}

void sendmail_wait_reason(char *buf, size_t size, const char *host, const SendmailHostStatus *hs,
                          uint64_t timeout_usec) {
        char what[128], t[FORMAT_DURATION_MAX], until[32] = "?";
        const char *ex = sysexit_text(hs->exitstat);
        time_t u = (time_t) MIN_OF(hs->lastuse + timeout_usec / USEC_PER_SEC, (uint64_t) INT32_MAX * 4);
        struct tm tm;

        /* as `hoststat` shows it (mci.c mci_print_persistent()) */
        if (hs->reply[0])
                (void) snprintf(what, sizeof(what), "%s", hs->reply);
        else if (hs->exitstat == 75 && hs->err == 111)
                (void) snprintf(what, sizeof(what), "Deferred: Connection refused by %s", host);
        else if (hs->exitstat == 75 && hs->err > 0)
                (void) snprintf(what, sizeof(what), "Deferred: %s", strerror(hs->err));
        else if (ex)
                (void) snprintf(what, sizeof(what), "%s", ex);
        else
                (void) snprintf(what, sizeof(what), "exit status %d", hs->exitstat);
        if (gmtime_r(&u, &tm))
                (void) strftime(until, sizeof(until), "%H:%M:%SZ", &tm);
        (void) snprintf(buf, size, "host status of %s: %s, trusted until %s (Timeout.hoststatus %s)", host, what,
                        until, format_duration(t, sizeof(t), timeout_usec));
}

/* The scan. */

typedef struct ScanContext {
        const SendmailScanParams *p;
        QueueStats *q;
        SendmailScanExtra *extra;
        uint64_t oldest_sec;
        char *reason;
        size_t reason_size;
} ScanContext;

static int scan_fail(ScanContext *sc, const char *path, int err) {
        (void) snprintf(sc->reason, sc->reason_size, "scan %s: %s", path, strerror(err));
        return -err;
}

/* One qf file NAME in directory FD (PATH for messages): its T/K/N, the
 * counts, the oldest, overdue. CLIENT: the client queue. Returns 0, or a
 * negative errno with the reason for a file the scan may not open. */
static int scan_qf(ScanContext *sc, int fd, const char *path, const char *name, bool client) {
        char buf[SENDMAIL_QF_READ_MAX], id[QUEUE_ID_MAX];
        _cleanup_close_ int f = -EBADF;
        SendmailQf qf;
        struct stat st;
        uint64_t arrival, late;
        ssize_t n;
        bool ok;

        f = openat(fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (f < 0 && (errno == EACCES || errno == EPERM)) {
                /* a message the scan may not read is no message gone */
                char file[PATH_MAX + 256];

                (void) snprintf(file, sizeof(file), "%s/%s", path, name);
                return scan_fail(sc, file, errno);
        }
        if (f < 0 || fstat(f, &st) < 0 || !S_ISREG(st.st_mode))
                return 0;  /* gone since readdir (delivered), or not a file: sendmail skips it too */
        n = read(f, buf, sizeof(buf));
        ok = n > 0 && sendmail_parse_qf(buf, (size_t) n, &qf) == 0;

        sc->q->backlog++;
        if (client)
                sc->q->maildrop++;
        else if (ok && qf.n == 0)
                sc->q->active++;
        else
                sc->q->deferred++;
        if (!ok)
                sc->extra->unreadable++;
        arrival = ok || (n > 0 && qf.have_t) ? qf.t : (uint64_t) st.st_mtime;
        /* the id as the stats line carries it: a name with a blank or a
         * newline must not break that line (probes/queue-scan.h) */
        queue_scan_id_from_name(id, name + 2);
        if (!sc->q->oldest_id[0] || arrival < sc->oldest_sec ||
            (arrival == sc->oldest_sec && strcmp(id, sc->q->oldest_id) < 0)) {
                sc->oldest_sec = arrival;
                memcpy(sc->q->oldest_id, id, sizeof(sc->q->oldest_id));
        }
        /* the client queue is run by sendmail-msp (Debian: from cron every
         * MSP_INTERVAL, 20m), not by the MTA daemon a restart renews: never overdue */
        if (ok && !client &&
            sendmail_overdue(sendmail_job_due(&qf, &sc->p->spacing), sc->p->now_usec, sc->p->slack_usec, &late)) {
                sc->q->overdue++;
                if (late > sc->q->most_overdue_usec)
                        sc->q->most_overdue_usec = late;
        }
        return 0;
}

/* The files of one queue directory DIR_FD (PATH). */
static int scan_dir(ScanContext *sc, int dir_fd, const char *path, bool client) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd;

        fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return scan_fail(sc, path, errno);
        d = fdopendir(fd);
        if (!d) {
                int e = errno;

                (void) close(fd);
                return scan_fail(sc, path, e);
        }
        errno = 0;
        while ((de = readdir(d))) {
                const char *n = de->d_name;

                if (n[0] && n[1] == 'f' && n[2]) {
                        /* what is no regular file (a FIFO, a device, a
                         * socket named qf*; sendmail skips it too) is never
                         * opened; DT_UNKNOWN: scan_qf() looks */
                        if (n[0] == 'q' && (de->d_type == DT_REG || de->d_type == DT_UNKNOWN)) {
                                int r = scan_qf(sc, dirfd(d), path, n, client);

                                if (r < 0)
                                        return r;
                        } else if (n[0] == 'Q')
                                sc->extra->lost++;
                        else if (n[0] == 'h')
                                sc->extra->quarantined++;
                }
                errno = 0;
        }
        if (errno != 0)
                return scan_fail(sc, path, errno);
        return 0;
}

/* Whether ERR, from a stat or open of a queue directory candidate, means
 * "no such directory" to sendmail as well: chkqdir() (src/queue.c) takes
 * a name whose stat() fails, or that is no directory, for none. Any other
 * error (EACCES: the scan may not see what sendmail, as root, sees) is the
 * scan's own failure, never an empty queue. */
static bool no_queue_dir(int err) {
        return err == ENOENT || err == ENOTDIR || err == ELOOP;
}

/* One queue directory PATH: its qf/ subdirectory when it has one (op
 * guide 1.3.7: qf, df, xf subdirectories; as for sendmail's chkqdir(), a
 * symbolic link to a directory, on another disk, counts), else itself.
 * MISSING_OK: a directory that does not exist is empty. */
static int scan_queue_dir(ScanContext *sc, const char *path, bool client, bool missing_ok) {
        _cleanup_close_ int fd = -EBADF, qfd = -EBADF;
        char sub[PATH_MAX];

        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT && missing_ok)
                        return 0;
                return scan_fail(sc, path, errno);
        }
        (void) snprintf(sub, sizeof(sub), "%s/qf", path);
        qfd = openat(fd, "qf", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (qfd >= 0)
                return scan_dir(sc, qfd, sub, client);
        if (!no_queue_dir(errno))
                return scan_fail(sc, sub, errno);
        return scan_dir(sc, fd, path, client);
}

/* The MTA queue: PATTERN, a directory or one whose last component ends
 * in '*' (every directory of the parent whose name starts with the rest;
 * a symbolic link to a directory counts, as for sendmail's chkqdir()). */
static int scan_mta_queue(ScanContext *sc, const char *pattern) {
        const char *slash = strrchr(pattern, '/');
        size_t n = strlen(pattern);
        char parent[PATH_MAX], prefix[NAME_MAX + 1];
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        unsigned found = 0;

        if (n == 0 || pattern[n - 1] != '*' || !slash)
                return scan_queue_dir(sc, pattern, false, false);
        if ((size_t) (slash - pattern) >= sizeof(parent) || (size_t) (pattern + n - 1 - slash - 1) >= sizeof(prefix))
                return scan_fail(sc, pattern, ENAMETOOLONG);
        memcpy(parent, pattern, (size_t) (slash - pattern));
        parent[slash - pattern] = 0;
        if (!parent[0])
                (void) snprintf(parent, sizeof(parent), "/");
        memcpy(prefix, slash + 1, (size_t) (pattern + n - 1 - slash - 1));
        prefix[pattern + n - 1 - slash - 1] = 0;

        d = opendir(parent);
        if (!d)
                return scan_fail(sc, parent, errno);
        /* errno is set again before each readdir(3): a skipped entry's
         * error must not pass for the end of the listing failing */
        for (errno = 0; (de = readdir(d)); errno = 0) {
                char path[PATH_MAX];
                struct stat st;
                int r;

                if (de->d_name[0] == '.' || strncmp(de->d_name, prefix, strlen(prefix)) != 0)
                        continue;
                if (snprintf(path, sizeof(path), "%s/%s", strcmp(parent, "/") == 0 ? "" : parent, de->d_name) >=
                    (int) sizeof(path))
                        return scan_fail(sc, parent, ENAMETOOLONG);
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0) {
                        if (no_queue_dir(errno))
                                continue;
                        return scan_fail(sc, path, errno);
                }
                if (!S_ISDIR(st.st_mode))
                        continue;
                r = scan_queue_dir(sc, path, false, false);
                if (r < 0)
                        return r;
                found++;
        }
        if (errno != 0)
                return scan_fail(sc, parent, errno);
        if (found == 0) {
                (void) snprintf(sc->reason, sc->reason_size, "scan %s: no queue directory matches", pattern);
                return -ENOENT;
        }
        return 0;
}

typedef struct HostWalk {
        ScanContext *sc;
        unsigned files;
        char rel[PATH_MAX];
} HostWalk;

/* Reads the host status files under DIR_FD (REL below the top, LEN bytes
 * of w->rel), DEPTH levels down. An entry the scan may not open (EACCES,
 * EPERM) is an error, as the top directory's: a failure it would hide is
 * a wait of sendmail's own that a stall verdict must not overrule.
 * Entries that vanish, symbolic links, sockets are skipped. Returns 0 or
 * a negative errno with the reason. */
static int walk_host_status(HostWalk *w, int dir_fd, size_t len, unsigned depth) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd;

        if (depth > SENDMAIL_HOST_STATUS_DEPTH_MAX)
                return 0;
        fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return 0;
        d = fdopendir(fd);
        if (!d) {
                (void) close(fd);
                return 0;
        }
        while ((de = readdir(d)) && w->files < SENDMAIL_HOST_STATUS_FILES_MAX) {
                _cleanup_close_ int f = -EBADF;
                size_t n = strlen(de->d_name);
                struct stat st;
                int r = 0;

                if (de->d_name[0] == '.' || len + 1 + n >= sizeof(w->rel))
                        continue;
                if (len > 0)
                        w->rel[len] = '/';
                memcpy(w->rel + len + (len > 0), de->d_name, n + 1);
                f = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
                if (f < 0 && (errno == EACCES || errno == EPERM)) {
                        char path[PATH_MAX + 256];

                        (void) snprintf(path, sizeof(path), "%s/%s", w->sc->p->host_status_directory, w->rel);
                        return scan_fail(w->sc, path, errno);
                }
                if (f < 0 || fstat(f, &st) < 0)
                        goto next;
                if (S_ISDIR(st.st_mode))
                        r = walk_host_status(w, f, len + (len > 0) + n, depth + 1);
                else if (S_ISREG(st.st_mode)) {
                        char buf[SENDMAIL_HOST_STATUS_READ_MAX], host[256];
                        SendmailHostStatus hs;
                        ssize_t k;
                        uint64_t left;

                        w->files++;
                        k = read(f, buf, sizeof(buf));
                        if (k <= 0 || sendmail_parse_host_status(buf, (size_t) k, &hs) < 0 ||
                            sendmail_host_from_path(w->rel, host, sizeof(host)) < 0)
                                goto next;
                        w->sc->extra->host_files++;
                        left = sendmail_host_status_wait(&hs, w->sc->p->now_usec, w->sc->p->host_status_timeout_usec);
                        if (left > w->sc->q->wait_left_usec) {
                                w->sc->q->wait_left_usec = left;
                                sendmail_wait_reason(w->sc->q->wait_reason, sizeof(w->sc->q->wait_reason), host, &hs,
                                                     w->sc->p->host_status_timeout_usec);
                        }
                }
                if (r < 0)
                        return r;
        next:
                w->rel[len] = 0;
        }
        return 0;
}

int sendmail_scan_queue(const SendmailScanParams *p, QueueStats *ret, SendmailScanExtra *extra, char *reason,
                        size_t reason_size) {
        QueueStats q = { .schedule_known = true, .slack_usec = p->slack_usec };
        SendmailScanExtra e = {};
        ScanContext sc = { .p = p, .q = &q, .extra = &e, .reason = reason, .reason_size = reason_size };
        int r;

        (void) snprintf(q.schedule_source, sizeof(q.schedule_source), "qf");
        if (!p->queue_directory || p->queue_directory[0] != '/') {
                (void) snprintf(reason, reason_size, "no absolute queue directory");
                return -EINVAL;
        }
        r = scan_mta_queue(&sc, p->queue_directory);
        if (r < 0)
                return r;
        if (p->client_queue_directory && p->client_queue_directory[0]) {
                r = scan_queue_dir(&sc, p->client_queue_directory, true, true);
                if (r < 0)
                        return r;
        }
        q.frozen = e.lost + e.quarantined;
        if (q.oldest_id[0] && sc.oldest_sec < p->now_usec / USEC_PER_SEC)
                q.oldest_age_usec = p->now_usec - sc.oldest_sec * USEC_PER_SEC;

        if (p->host_status_directory && p->host_status_directory[0]) {
                _cleanup_close_ int fd = open(p->host_status_directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                HostWalk w = { .sc = &sc };

                if (fd >= 0) {
                        r = walk_host_status(&w, fd, 0, 0);
                        if (r < 0)
                                return r;
                } else if (errno != ENOENT)
                        return scan_fail(&sc, p->host_status_directory, errno);
        }
        *ret = q;
        *extra = e;
        return 0;
}

int sendmail_format_extra_line(char *buf, size_t size, const SendmailScanExtra *e, const QueueStats *q) {
        char why[sizeof(q->wait_reason)];
        int n;

        copy_printable(why, sizeof(why), q->wait_reason, strnlen(q->wait_reason, sizeof(q->wait_reason) - 1));
        n = snprintf(buf, size, "sendmail lost=%u quarantined=%u unreadable=%u wait_left_usec=%" PRIu64 " wait=%s\n",
                     e->lost, e->quarantined, e->unreadable, q->wait_left_usec, why);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return n;
}

int sendmail_parse_extra_line(const char *s, size_t n, SendmailScanExtra *e, QueueStats *q) {
        static const char *const keys[] = { "lost", "quarantined", "unreadable", "wait_left_usec" };
        uint64_t v[ELEMENTSOF(keys)];
        const char *p = s, *end = s + n;
        size_t len;

        if (n == 0 || s[n - 1] != '\n' || memchr(s, '\n', n) != s + n - 1 || n < 9 || memcmp(s, "sendmail ", 9) != 0)
                return -EBADMSG;
        p += 9;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                size_t k = strlen(keys[i]);
                const char *d;

                if ((size_t) (end - p) <= k + 1 || memcmp(p, keys[i], k) != 0 || p[k] != '=')
                        return -EBADMSG;
                p += k + 1;
                d = p;
                while (p < end && isdigit((unsigned char) *p))
                        p++;
                if (p >= end || *p != ' ' || !text_parse_u64(d, (size_t) (p - d), &v[i]) ||
                    (i < 3 && v[i] > UINT_MAX))
                        return -EBADMSG;
                p++;
        }
        if ((size_t) (end - p) < 6 || memcmp(p, "wait=", 5) != 0)
                return -EBADMSG;
        p += 5;
        len = (size_t) (end - 1 - p);
        if (len >= sizeof(q->wait_reason) || (v[3] > 0) != (len > 0))
                return -EBADMSG;
        for (size_t i = 0; i < len; i++)
                if (!isprint((unsigned char) p[i]))
                        return -EBADMSG;
        e->lost = (unsigned) v[0];
        e->quarantined = (unsigned) v[1];
        e->unreadable = (unsigned) v[2];
        q->wait_left_usec = v[3];
        memcpy(q->wait_reason, p, len);
        q->wait_reason[len] = 0;
        return 0;
}

int sendmail_settings_finish(void *settings, char *error, size_t error_size) {
        SendmailSettings *s = settings;
        const char *path = s->cf_file ? s->cf_file : SENDMAIL_DEFAULT_CF_FILE;
        _cleanup_free_ char *text = NULL;
        SendmailCf cf = {};
        char why[160] = "";
        int r;

        sendmail_cf_done(&cf);
        r = read_file_bounded(path, 4 * 1024 * 1024, &text, NULL);
        if (r >= 0) {
                r = sendmail_parse_cf(text, &cf, why, sizeof(why));
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        (void) snprintf(error, error_size, "%s: %s; set the [mta] key it stands for", path, why);
                        return -EINVAL;
                }
        } else
                /* Not installed (yet): Debian's values are what the package will use. */
                (void) log_full_errno(LOG_NOTICE, r, "%s: %m; the sendmail settings take Debian's defaults", path);

        if (!s->queue_directory) {
                s->queue_directory = cf.queue_directory ? TAKE_PTR(cf.queue_directory) :
                                     strdup(SENDMAIL_DEFAULT_QUEUE_DIRECTORY);
                if (!s->queue_directory) {
                        sendmail_cf_done(&cf);
                        return -ENOMEM;
                }
        }
        if (!s->host_status_directory) {
                /* sendmail.cf read: its option (unset: sendmail keeps no host status);
                 * no file: Debian's (cf/ostype/debian.m4) */
                s->host_status_directory = cf.host_status_directory ? TAKE_PTR(cf.host_status_directory) :
                                           strdup(text ? "" : SENDMAIL_DEFAULT_HOST_STATUS_DIRECTORY);
                if (!s->host_status_directory) {
                        sendmail_cf_done(&cf);
                        return -ENOMEM;
                }
        }
        if (s->min_queue_age_usec == USEC_INFINITY)
                s->min_queue_age_usec = cf.min_queue_age_usec != USEC_INFINITY ? cf.min_queue_age_usec : 0;
        if (s->max_queue_age_usec == USEC_INFINITY)
                s->max_queue_age_usec = cf.max_queue_age_usec != USEC_INFINITY ? cf.max_queue_age_usec : 0;
        if (s->host_status_timeout_usec == USEC_INFINITY)
                s->host_status_timeout_usec = cf.host_status_timeout_usec != USEC_INFINITY ?
                                              cf.host_status_timeout_usec : SENDMAIL_DEFAULT_HOST_STATUS_TIMEOUT_USEC;
        sendmail_cf_done(&cf);
        if (s->queue_directory[0] != '/') {
                (void) snprintf(error, error_size, "%s: QueueDirectory must be an absolute path; set queue_directory",
                                path);
                return -EINVAL;
        }
        /* A relative HostStatusDirectory is relative to the queue directory
         * (op guide 5.6, HostStatusDirectory: ".hoststat" is its suggested
         * value): below a wildcard of queue groups it would not be one
         * directory, and the key names it instead. */
        if (s->host_status_directory[0] && s->host_status_directory[0] != '/') {
                size_t n = strlen(s->queue_directory);
                char *joined = NULL;

                if (s->queue_directory[n - 1] == '*') {
                        (void) snprintf(error, error_size, "%s: HostStatusDirectory \"%s\" is relative to queue "
                                        "directories with a wildcard (%s); set host_status_directory", path,
                                        s->host_status_directory, s->queue_directory);
                        return -EINVAL;
                }
                if (asprintf(&joined, "%s%s%s", s->queue_directory, s->queue_directory[n - 1] == '/' ? "" : "/",
                             s->host_status_directory) < 0)
                        return -ENOMEM;
                free(s->host_status_directory);
                s->host_status_directory = joined;
        }
        return 0;
}

/* The queue interval on this host: a -q option of the daemons of
 * RUN_DIR/sendmail.pid and RUN_DIR/queue.pid (the init script's split
 * queue runner), else CONF_FILE, else the init script's default. Returns
 * 1 and the interval, 0 (no queue runner); SOURCE says where from. */
static int sendmail_queue_interval(const char *run_dir, const char *conf_file, uint64_t *ret_usec, char *source,
                                   size_t source_size) {
        static const char *const pid_files[] = { "sendmail.pid", "queue.pid" };
        _cleanup_free_ char *conf = NULL;
        bool any = false;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(pid_files); i++) {
                _cleanup_free_ char *path = NULL, *text = NULL;

                if (asprintf(&path, "%s/%s", run_dir, pid_files[i]) < 0)
                        return -ENOMEM;
                if (read_file_bounded(path, 8192, &text, NULL) < 0)
                        continue;
                if (strchr(text, '\n') && strchr(text, '\n')[1])
                        any = true;
                if (sendmail_pidfile_interval(text, ret_usec) > 0) {
                        (void) snprintf(source, source_size, "%s", path);
                        return 1;
                }
        }
        if (any) {
                (void) snprintf(source, source_size, "daemon without -q");
                return 0;
        }
        r = read_file_bounded(conf_file, 64 * 1024, &conf, NULL);
        if (r >= 0) {
                r = sendmail_conf_interval(conf, ret_usec);
                if (r >= 0) {
                        (void) snprintf(source, source_size, "%s", conf_file);
                        return r;
                }
        }
        *ret_usec = SENDMAIL_DEFAULT_QUEUE_INTERVAL_USEC;
        (void) snprintf(source, source_size, "built-in default");
        return 1;
}

/* The probe. */

typedef struct SendmailState {
        char *queue_directory;
        char *client_queue_directory;     /* "" none */
        char *host_status_directory;      /* "" none */
        char *run_directory;
        char *conf_file;
        uint64_t queue_interval_usec;     /* USEC_INFINITY: found each round */
        uint64_t overdue_slack_usec;      /* USEC_INFINITY: interval + SENDMAIL_SLACK_MARGIN_USEC */
        SendmailSpacing spacing;
        uint64_t host_status_timeout_usec;
        SendmailScanExtra extra;          /* of the last run, for describe() */
        QueueScan scan;
} SendmailState;

/* In the child: the queue interval, the slack, the scan; the extra line
 * and the stats line. */
static int sendmail_scan_child(int out_fd, void *arg) {
        SendmailState *st = arg;
        char reason[PROBE_REASON_MAX] = "", source[PATH_MAX] = "ini file";
        uint64_t interval = st->queue_interval_usec;
        SendmailScanExtra extra = {};
        SendmailScanParams sp = {
                .queue_directory = st->queue_directory,
                .client_queue_directory = st->client_queue_directory,
                .host_status_directory = st->host_status_directory,
                .now_usec = st->scan.realtime_usec,
                .spacing = st->spacing,
                .host_status_timeout_usec = st->host_status_timeout_usec,
        };
        QueueStats q;
        int r, runner = interval != 0;

        /* /var/spool/mqueue is 2750 smmta:smmsp, the PID file 0640 root:smmta:
         * the daemon's groups, or CAP_DAC_READ_SEARCH */
        (void) caps_raise_read_search();
        if (interval == USEC_INFINITY) {
                runner = sendmail_queue_interval(st->run_directory, st->conf_file, &interval, source, sizeof(source));
                if (runner < 0)
                        return queue_scan_child_answer(out_fd, runner, NULL, "");
        }
        if (!runner)
                sp.slack_usec = USEC_INFINITY;
        else if (st->overdue_slack_usec != USEC_INFINITY)
                sp.slack_usec = st->overdue_slack_usec;
        else
                sp.slack_usec = interval > USEC_INFINITY - 1 - SENDMAIL_SLACK_MARGIN_USEC ? USEC_INFINITY - 1 :
                                interval + SENDMAIL_SLACK_MARGIN_USEC;
        log_debug("sendmail scan: queue runner %s (%s)", runner ? "runs" : "none", source);
        r = sendmail_scan_queue(&sp, &q, &extra, reason, sizeof(reason));
        if (r >= 0) {
                char line[SENDMAIL_EXTRA_LINE_MAX];

                if (sendmail_format_extra_line(line, sizeof(line), &extra, &q) > 0)
                        (void) dprintf(out_fd, "%s", line);
        }
        return queue_scan_child_answer(out_fd, r, &q, reason);
}

/* The extra line (sendmail_scan_child()), then the stats line. */
static int sendmail_parse(Probe *p, const char *output, size_t size, QueueStats *q) {
        SendmailState *st = p->state;
        SendmailScanExtra e = {};
        QueueStats w = {};
        const char *nl = memchr(output, '\n', size);
        size_t n;

        if (!nl)
                return -EBADMSG;
        n = (size_t) (nl - output) + 1;
        if (sendmail_parse_extra_line(output, n, &e, &w) < 0)
                return -EBADMSG;
        if (queue_scan_parse_line(output + n, size - n, q) < 0 || !q->schedule_known ||
            strcmp(q->schedule_source, "qf") != 0 || q->frozen != e.lost + e.quarantined)
                return -EBADMSG;
        q->wait_left_usec = w.wait_left_usec;
        memcpy(q->wait_reason, w.wait_reason, sizeof(q->wait_reason));
        st->extra = e;
        return 0;
}

static void sendmail_describe(Probe *p, const QueueStats *q, char *buf, size_t size) {
        SendmailState *st = p->state;
        char slack[FORMAT_DURATION_MAX], wait[sizeof(q->wait_reason) + 48] = "", unreadable[48] = "";

        if (q->slack_usec == USEC_INFINITY)
                (void) snprintf(slack, sizeof(slack), "no queue runner");
        else
                (void) format_duration(slack, sizeof(slack), q->slack_usec);
        if (q->wait_left_usec > 0) {
                char left[FORMAT_DURATION_MAX];

                (void) snprintf(wait, sizeof(wait), "; waits %s more: %s",
                                format_duration(left, sizeof(left), q->wait_left_usec), q->wait_reason);
        }
        if (st->extra.unreadable > 0)
                (void) snprintf(unreadable, sizeof(unreadable), ", %u without a schedule", st->extra.unreadable);
        (void) snprintf(buf, size, "backlog %u (mqueue %u, client %u), lost %u, quarantined %u, oldest %s, "
                        "overdue %u (qf, slack %s)%s%s", q->backlog, q->active + q->deferred, q->maildrop,
                        st->extra.lost, st->extra.quarantined, q->oldest_id[0] ? q->oldest_id : "none", q->overdue,
                        slack, unreadable, wait);
}

static const QueueScanOps sendmail_scan_ops = {
        .child = sendmail_scan_child,
        .parse = sendmail_parse,
        .describe = sendmail_describe,
};

static void sendmail_cancel(Probe *p) {
        SendmailState *st = p->state;

        queue_scan_cancel(&st->scan);
}

static int sendmail_start(Probe *p) {
        SendmailState *st = p->state;

        return queue_scan_start(&st->scan, p, &sendmail_scan_ops, st->queue_directory);
}

static void sendmail_done(Probe *p) {
        SendmailState *st = p->state;

        sendmail_cancel(p);
        free(st->queue_directory);
        free(st->client_queue_directory);
        free(st->host_status_directory);
        free(st->run_directory);
        free(st->conf_file);
}

static bool absolute_or_empty(const char *s) {
        return !s || !s[0] || s[0] == '/';
}

static int sendmail_init(Probe *p, const void *settings) {
        const SendmailSettings *s = settings;
        SendmailState *st = p->state;

        if (!s || !s->queue_directory || s->queue_directory[0] != '/') {
                log_error("probe %s: sendmail needs an absolute queue_directory", p->name);
                return -EINVAL;
        }
        if (!absolute_or_empty(s->client_queue_directory) || !absolute_or_empty(s->host_status_directory) ||
            !absolute_or_empty(s->run_directory) || !absolute_or_empty(s->conf_file)) {
                log_error("probe %s: sendmail's paths must be absolute", p->name);
                return -EINVAL;
        }
        st->queue_directory = strdup(s->queue_directory);
        st->client_queue_directory = strdup(s->client_queue_directory ?: "");
        st->host_status_directory = strdup(s->host_status_directory ?: "");
        st->run_directory = strdup(s->run_directory ?: SENDMAIL_DEFAULT_RUN_DIRECTORY);
        st->conf_file = strdup(s->conf_file ?: SENDMAIL_DEFAULT_CONF_FILE);
        if (!st->queue_directory || !st->client_queue_directory || !st->host_status_directory ||
            !st->run_directory || !st->conf_file)
                return -ENOMEM;
        st->queue_interval_usec = s->queue_interval_usec;
        st->overdue_slack_usec = s->overdue_slack_usec;
        /* auto values not resolved (no sendmail_settings_finish()): sendmail's defaults */
        st->spacing = (SendmailSpacing) {
                .min_queue_age_usec = s->min_queue_age_usec == USEC_INFINITY ? 0 : s->min_queue_age_usec,
                .max_queue_age_usec = s->max_queue_age_usec == USEC_INFINITY ? 0 : s->max_queue_age_usec,
        };
        st->host_status_timeout_usec = s->host_status_timeout_usec == USEC_INFINITY ?
                                       SENDMAIL_DEFAULT_HOST_STATUS_TIMEOUT_USEC : s->host_status_timeout_usec;
        return 0;
}

const struct probe_ops probe_sendmail_ops = {
        .type = "sendmail",
        .kind = PROBE_KIND_QUEUE,
        .state_size = sizeof(SendmailState),
        .init = sendmail_init,
        .start = sendmail_start,
        .cancel = sendmail_cancel,
        .done = sendmail_done,
};

/* The profile: [mta] type = sendmail */

static void sendmail_settings_init(void *settings) {
        *(SendmailSettings *) settings = (SendmailSettings) {
                .queue_interval_usec = USEC_INFINITY,
                .min_queue_age_usec = USEC_INFINITY,
                .max_queue_age_usec = USEC_INFINITY,
                .host_status_timeout_usec = USEC_INFINITY,
                .overdue_slack_usec = USEC_INFINITY,
        };
}

static void sendmail_settings_done(void *settings) {
        SendmailSettings *s = settings;

        free(s->queue_directory);
        free(s->client_queue_directory);
        free(s->host_status_directory);
        free(s->cf_file);
        free(s->conf_file);
        free(s->run_directory);
        free(s->sendmail_path);
        *s = (SendmailSettings) {};
}

/* queue_directory: an absolute path, its last component may end in '*'
 * (queue groups, op guide 1.3.7). client_queue_directory and
 * host_status_directory: an absolute path or "none" (stored as ""). */
static int parse_path_or_none(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        char **s = data;

        if (strcmp(value, "none") == 0) {
                free(*s);
                *s = strdup("");
                return *s ? 0 : config_oom(ctx);
        }
        return config_parse_path(ctx, item, value, data);
}

static bool print_path_or_none(FILE *f, const void *data) {
        const char *const *s = data;

        if (*s && !(*s)[0]) {
                fputs("none", f);
                return true;
        }
        return config_print_string(f, data);
}

/* client_queue_directory defaults to Debian's, unlike the keys that
 * sendmail_settings_finish() fills: set here when the key is absent. */
static const ConfigItem sendmail_mta_items[] = {
        CONFIG_ITEM("queue_directory",     path,          string,        SendmailSettings, queue_directory,          0),
        { "client_queue_directory", parse_path_or_none, print_path_or_none, offsetof(SendmailSettings, client_queue_directory), 0, false, NULL },
        { "host_status_directory",  parse_path_or_none, print_path_or_none, offsetof(SendmailSettings, host_status_directory),  0, false, NULL },
        CONFIG_ITEM("queue_interval",      duration_auto, duration_auto, SendmailSettings, queue_interval_usec,      0),
        CONFIG_ITEM("min_queue_age",       duration_auto, duration_auto, SendmailSettings, min_queue_age_usec,       0),
        CONFIG_ITEM("max_queue_age",       duration_auto, duration_auto, SendmailSettings, max_queue_age_usec,       0),
        CONFIG_ITEM("host_status_timeout", duration_auto, duration_auto, SendmailSettings, host_status_timeout_usec, 0),
        CONFIG_ITEM("overdue_slack",       duration_auto, duration_auto, SendmailSettings, overdue_slack_usec,       0),
        {},
};

static int sendmail_profile_finish(void *settings, char *error, size_t error_size) {
        SendmailSettings *s = settings;

        if (!s->client_queue_directory) {
                s->client_queue_directory = strdup(SENDMAIL_DEFAULT_CLIENT_QUEUE_DIRECTORY);
                if (!s->client_queue_directory)
                        return -ENOMEM;
        }
        return sendmail_settings_finish(settings, error, error_size);
}

const MtaProfile mta_profile_sendmail = {
        .type = "sendmail",
        .queue_ops = &probe_sendmail_ops,
        .config_items = sendmail_mta_items,
        .settings_size = sizeof(SendmailSettings),
        .settings_init = sendmail_settings_init,
        .settings_done = sendmail_settings_done,
        .settings_finish = sendmail_profile_finish,
        /* sm-mta and sm-msp-queue log to syslog, which is the journal on Debian 12 */
        .activity_source = ACTIVITY_SOURCE_JOURNAL_IDENTIFIER,
        .syslog_identifiers = sendmail_syslog_identifiers,
        .activity_rules = &sendmail_activity_rules,
        /* sendmail.service is generated from /etc/init.d/sendmail: no MainPID */
        .pid_file = SENDMAIL_DEFAULT_RUN_DIRECTORY "/sendmail.pid",
        .daemon_exe = SENDMAIL_DEFAULT_BINARY,
        .default_unit = "sendmail.service",
        /* One queue run of every job with a remote recipient that ignores
         * the host status cache and MinQueueAge/MaxQueueAge (any -qR limit
         * sets IgnoreHostStatus, src/queue.c run_work_group()), run as root
         * by systemd in units/mta-watchdog-sendmail-flush.service: Debian's
         * PrivacyOptions include restrictqrun (a queue run needs root or
         * the queue's owner) and the queue is root's, so sendmail-mta
         * started by the sandboxed daemon itself (its own user,
         * NoNewPrivileges=) can run nothing. --no-block: the unit's
         * TimeoutStartSec= bounds the run; mail delivered verifies it. */
        .default_flush_command = "systemctl start --no-block mta-watchdog-sendmail-flush.service",
};
