/* SPDX-License-Identifier: MIT */
/* Exim 4: its queue probe and MTA profile. Its log rules are in
 * probes/exim-log.c. */

/* The Exim queue: backlog, frozen, overdue and hung deliveries, read from
 * the spool and the retry hints database (Exim specification chapters 3.6
 * "Message spool", 54 "Exim utilities" (exim_dumpdb), 57 "Format of spool
 * files"; Exim 4.96's spool_out.c, spool_in.c, retry.c, dbfn.c).
 *
 * Backlog: the "<id>-H" files under <spool>/input/ and its one-character
 * subdirectories (split_spool_directory), as `exim -bpc` counts them
 * (queue.c queue_get_spool_list()): one readdir per directory, no file
 * opened. Temporary "hdr.<id>" files are not messages. The arrival time
 * is in the id; base 62 is in ASCII order, so the smallest id arrived
 * first. A frozen message ("-frozen" in -H) is not backlog: Exim does not
 * try it until someone thaws it; it is counted apart. -H is read only for
 * messages old enough to be overdue (older than the slack): a younger one
 * cannot be overdue, whatever -H says, so it counts as backlog until then.
 *
 * Schedule: Exim has no per-message next-attempt time. Its retry hints
 * database holds, per failing host ("T:host:ip[:port]"), per message on a
 * host ("T:host:ip[:port]:<id>") and per routing/address deferral
 * ("R:..."), the time of the next attempt (next_try); a queue run skips an
 * address whose record says not yet ("retry time not reached") and tries
 * it at the first run after next_try (Exim specification 32). So a message
 * is due at
 *  - its arrival, when it was never attempted ("-deliver_firsttime" in
 *    -H: the first delivery attempt clears it, deliver.c);
 *  - otherwise the latest of its last attempt (the mtime of msglog/<id>:
 *    every real attempt is logged there; "retry time not reached" is not,
 *    deliver.c deferral_log()), its own message records' next_try and the
 *    latest next_try of the host and routing records.
 * The probe does not route mail, so it does not know which host's record
 * governs a message: it takes the latest one. That may take a message for
 * not yet due that is (a dead destination's far next_try hides the
 * smarthost's), never the other way round: a stale record of a host with
 * no mail left (Exim updates a record only when it tries the host) cannot
 * make mail look overdue. A message is overdue when it is more than the
 * slack past due, the slack being the queue runner's interval plus a
 * minute by default ("overdue_slack = auto"): one whole queue run should
 * have tried it and did not.
 * With no queue runner (QUEUERUNNER no, ppp or nodaemon in
 * /etc/default/exim4, a daemon without -q, or queue_interval = 0) Exim
 * tries queued mail only when told to (`exim4 -q`, Debian's ppp ip-up
 * hook): nothing is ever overdue, so a queue that does not move is never a
 * stall (a restart would not move it either); flush_command is the remedy.
 * Without the database (it does not exist until Exim first defers
 * something, and exim_tidydb may remove it) there are no retry records,
 * and a message is due at its last attempt: schedule_source "msglog".
 *
 * Reading the database: directly with Berkeley DB 5.3 (Debian's libdb5.3,
 * which exim4 itself links), read-only, under a non-blocking F_RDLCK on
 * db/retry.lockfile, exactly the lock Exim's dbfn_open() takes for
 * readers; writers take F_WRLCK and wait up to 60 s for it. The lock is
 * held while the records are copied (milliseconds) and dropped before the
 * spool is walked; a busy lock makes the round UNKNOWN, never a guess, and
 * neither file is created (Exim creates them; our fcntl lock on a file we
 * opened read-only is enough for Exim's writers to wait on). Measured on
 * the build host (2 CPUs shared with other jobs, best of 5, the library
 * built with ASan+UBSan; databases written with libdb 5.3.28 in Exim's
 * layout, which Debian's exim_dumpdb 4.96 decodes to the same times):
 *      records   in-process (libdb)   fork/exec of `exim_dumpdb SPOOL retry`
 *            3        0.07 ms               2.5 ms
 *        1 000        0.71 ms               9.1 ms
 *       50 000       25.6 ms              313 ms
 * Besides being 10-35 times slower, exim_dumpdb waits for the lock with
 * F_SETLKW and a 60 s alarm: it needs a timeout and cannot tell "busy"
 * from "slow", and its text output (local times) would need parsing.
 * Hence libdb.
 *
 * Hung deliveries: a delivery process holds an fcntl write lock on the
 * message's -D file while it works (spool_in.c spool_open_datafile()).
 * F_GETLK on a read-only descriptor names the holder without taking a
 * lock. Only messages older than hung_delivery_after are looked at (a
 * delivery cannot have run longer than its message has existed, except a
 * receiving SMTP session that was already open). The child reports the
 * holders; the probe judges how long each has held its message
 * (exim_hung_track(), probes/exim.h): in the shipped unit Exim's processes
 * are hidden in /proc (ProtectProc=invisible), so that is how long the
 * daemon has seen it hold the message: a delivery hung since its message
 * arrived is reported about twice hung_delivery_after after the arrival
 * (the lock is looked at once the message is older than the threshold). A
 * visible /proc/PID/stat start time counts when longer.
 *
 * The scan runs in a child (exec_fn()) under the probe's deadline, which
 * first finds the queue runner interval (exim_queue_interval()); it
 * answers with the same line as Postfix's scan (queue_scan_format_line()).
 */

#include <ctype.h>
#include <db.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "conf-parser.h"
#include "config.h"
#include "duration.h"
#include "exec.h"
#include "exim-log.h"
#include "exim.h"
#include "fileio.h"
#include "log.h"
#include "macros.h"
#include "mta.h"
#include "text.h"
#include "queue-scan.h"

/* Bytes of -H read for its option block; a message whose ACL variables
 * fill more is taken as neither frozen nor new. */
#define EXIM_HEADER_READ_MAX (64 * 1024)

static int b62(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'Z')
                return c - 'A' + 10;
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 36;
        return -1;
}

static bool b62_run(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (b62(s[i]) < 0)
                        return false;
        return true;
}

bool exim_id_valid(const char *s, size_t n) {
        size_t mid;

        if (n == 16)
                mid = 6;
        else if (n == 23)
                mid = 11;
        else
                return false;
        return b62_run(s, 6) && s[6] == '-' && b62_run(s + 7, mid) && s[7 + mid] == '-' &&
               b62_run(s + 8 + mid, n - 8 - mid);
}

int exim_id_time(const char *id, uint64_t *ret_sec) {
        uint64_t v = 0;

        for (size_t i = 0; i < 6; i++) {
                int d = b62(id[i]);

                if (d < 0)
                        return -EINVAL;
                v = v * 62 + (uint64_t) d;
        }
        *ret_sec = v;
        return 0;
}

int exim_spool_name(const char *name, char *id) {
        size_t n = strlen(name);

        if (n < 3 || strcmp(name + n - 2, "-H") != 0 || !exim_id_valid(name, n - 2))
                return -EINVAL;
        memcpy(id, name, n - 2);
        id[n - 2] = 0;
        return (int) (n - 2);
}

int exim_parse_header(const char *buf, size_t size, const char *id, EximHeader *ret) {
        EximHeader h = {};
        size_t pos = 0, len, idlen = strlen(id);
        const char *l, *sp;

        /* "<id>-H", "login uid gid", "<sender>", "time warnings" */
        if (!text_next_line(buf, size, &pos, &l, &len))
                return size >= EXIM_HEADER_READ_MAX ? -EBADMSG : -ENODATA;
        if (len != idlen + 2 || memcmp(l, id, idlen) != 0 || memcmp(l + idlen, "-H", 2) != 0)
                return -EBADMSG;
        if (!text_next_line(buf, size, &pos, &l, &len) || !text_next_line(buf, size, &pos, &l, &len))
                return -ENODATA;
        if (len < 2 || l[0] != '<' || l[len - 1] != '>')
                return -EBADMSG;
        if (!text_next_line(buf, size, &pos, &l, &len))
                return -ENODATA;
        sp = memchr(l, ' ', len);
        if (!sp || !text_parse_u64(l, (size_t) (sp - l), &h.received_sec))
                return -EBADMSG;

        for (;;) {
                const char *v;
                size_t vlen;

                if (!text_next_line(buf, size, &pos, &l, &len))
                        return -ENODATA;
                if (len == 0 || l[0] != '-')
                        break;  /* the option block ends: non-recipients, recipients, headers */
                /* "--name": a tainted value; "-(quoter)name" / "--(quoter)name": quoted */
                v = l + 1;
                vlen = len - 1;
                if (vlen > 0 && v[0] == '-') {
                        v++;
                        vlen--;
                }
                if (vlen > 0 && v[0] == '(') {
                        const char *close = memchr(v, ')', vlen);

                        if (!close)
                                return -EBADMSG;
                        vlen -= (size_t) (close + 1 - v);
                        v = close + 1;
                }
                if (vlen > 4 && (memcmp(v, "aclc ", 5) == 0 || memcmp(v, "aclm ", 5) == 0 ||
                                 memcmp(v, "acl ", 4) == 0)) {
                        /* "-aclc NAME LEN" / "-acl N LEN": LEN + 1 bytes of value follow */
                        const char *last = v + vlen;
                        uint64_t count;

                        while (last > v && last[-1] != ' ')
                                last--;
                        if (!text_parse_u64(last, (size_t) (v + vlen - last), &count) || count > EXIM_HEADER_READ_MAX)
                                return -EBADMSG;
                        if (count + 1 > size - pos)
                                return -ENODATA;
                        pos += count + 1;
                        continue;
                }
                if (vlen == 17 && memcmp(v, "deliver_firsttime", 17) == 0)
                        h.firsttime = true;
                else if (vlen > 7 && memcmp(v, "frozen ", 7) == 0) {
                        if (!text_parse_u64(v + 7, vlen - 7, &h.frozen_sec))
                                return -EBADMSG;
                        h.frozen = true;
                }
        }
        *ret = h;
        return 0;
}

/* Exim 4.96's dbdata_retry (hintsdb_structs.h), BOOL being unsigned int
 * (mytypes.h): the layout the database holds on this architecture. */
struct exim_dbdata_retry {
        time_t time_stamp;
        time_t first_failed;
        time_t last_try;
        time_t next_try;
        unsigned expired;
        int basic_errno;
        int more_errno;
        char text[1];
};

int exim_retry_decode(const void *data, size_t size, EximRetryRecord *ret) {
        const size_t fixed = offsetof(struct exim_dbdata_retry, text);
        struct exim_dbdata_retry r;
        const char *text;
        size_t tlen;

        if (!data || size < fixed)
                return -EBADMSG;
        text = (const char *) data + fixed;
        memcpy(&r, data, fixed);
        *ret = (EximRetryRecord) {
                .time_stamp = (int64_t) r.time_stamp,
                .first_failed = (int64_t) r.first_failed,
                .last_try = (int64_t) r.last_try,
                .next_try = (int64_t) r.next_try,
                .expired = r.expired != 0,
                .basic_errno = r.basic_errno,
                .more_errno = r.more_errno,
        };
        tlen = strnlen(text, size - fixed);
        if (tlen >= sizeof(ret->text))
                tlen = sizeof(ret->text) - 1;
        for (size_t i = 0; i < tlen; i++)
                ret->text[i] = isprint((unsigned char) text[i]) ? text[i] : '?';
        ret->text[tlen] = 0;
        return 0;
}

EximRetryKey exim_retry_key(const char *key, size_t size, char *id) {
        const char *colon;

        if (size > 0 && key[size - 1] == 0)
                size--;
        if (size < 3 || key[1] != ':' || memchr(key, 0, size))
                return EXIM_RETRY_KEY_OTHER;
        if (key[0] == 'R')
                return EXIM_RETRY_KEY_ROUTING;
        if (key[0] != 'T')
                return EXIM_RETRY_KEY_OTHER;
        colon = memrchr(key + 2, ':', size - 2);
        if (colon) {
                size_t n = size - (size_t) (colon + 1 - key);

                if (exim_id_valid(colon + 1, n)) {
                        memcpy(id, colon + 1, n);
                        id[n] = 0;
                        return EXIM_RETRY_KEY_MESSAGE;
                }
        }
        return EXIM_RETRY_KEY_HOST;
}

int exim_schedule_add(EximSchedule *s, const void *key, size_t key_size, const void *data, size_t data_size,
                      uint64_t now_sec) {
        EximRetryRecord rec;
        char id[QUEUE_ID_MAX];
        EximRetryKey k;

        s->records++;
        if (exim_retry_decode(data, data_size, &rec) < 0)
                return 0;
        /* Exim ignores a record not written for retry_data_expire (retry.c);
         * a time before the epoch is no record Exim wrote. */
        if (rec.next_try < 0 || rec.time_stamp < 0 || (rec.time_stamp < (int64_t) now_sec &&
                                   now_sec - (uint64_t) rec.time_stamp > EXIM_RETRY_DATA_EXPIRE_SEC))
                return 0;
        k = exim_retry_key(key, key_size, id);
        if (k == EXIM_RETRY_KEY_HOST || k == EXIM_RETRY_KEY_ROUTING) {
                if (!s->have_host || rec.next_try > s->host_next_try)
                        s->host_next_try = rec.next_try;
                s->have_host = true;
        } else if (k == EXIM_RETRY_KEY_MESSAGE) {
                EximMessageRetry *m;

                if ((s->n_messages & (s->n_messages + 1)) == 0 || !s->messages) {
                        size_t cap = s->n_messages ? (s->n_messages + 1) * 2 : 8;

                        m = reallocarray(s->messages, cap, sizeof(*m));
                        if (!m)
                                return -ENOMEM;
                        s->messages = m;
                }
                m = &s->messages[s->n_messages++];
                (void) snprintf(m->id, sizeof(m->id), "%s", id);
                m->next_try = rec.next_try;
        }
        return 0;
}

static int message_retry_cmp(const void *a, const void *b) {
        return strcmp(((const EximMessageRetry *) a)->id, ((const EximMessageRetry *) b)->id);
}

void exim_schedule_seal(EximSchedule *s) {
        if (s->n_messages > 1)
                qsort(s->messages, s->n_messages, sizeof(*s->messages), message_retry_cmp);
}

int64_t exim_schedule_message(const EximSchedule *s, const char *id) {
        size_t lo = 0, hi = s->n_messages;
        int64_t best = -1;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (strcmp(s->messages[mid].id, id) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (; lo < s->n_messages && strcmp(s->messages[lo].id, id) == 0; lo++)
                if (s->messages[lo].next_try > best)
                        best = s->messages[lo].next_try;
        return best;
}

void exim_schedule_done(EximSchedule *s) {
        free(s->messages);
        *s = (EximSchedule) {};
}

int exim_read_retry_db(const char *spool, uint64_t now_sec, EximSchedule *s, char *reason, size_t reason_size) {
        _cleanup_free_ char *lockpath = NULL, *dbpath = NULL;
        _cleanup_close_ int lockfd = -EBADF;
        struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
        DB *db = NULL;
        DBC *cur = NULL;
        DBT key, data;
        struct stat sb;
        int r, k;

        if (asprintf(&lockpath, "%s/db/retry.lockfile", spool) < 0 || asprintf(&dbpath, "%s/db/retry", spool) < 0)
                return -ENOMEM;
        lockfd = open(lockpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (lockfd < 0) {
                r = negative_errno();
                if (r == -ENOENT && access(dbpath, F_OK) < 0 && errno == ENOENT)
                        return 0;  /* no database: no records */
                (void) snprintf(reason, reason_size, "retry database: open %s: %s", lockpath, strerror(-r));
                return r;
        }
        if (fcntl(lockfd, F_SETLK, &fl) < 0) {
                r = negative_errno();
                if (r == -EAGAIN || r == -EACCES) {
                        (void) snprintf(reason, reason_size, "retry database %s is locked by Exim, next round",
                                        dbpath);
                        return -EAGAIN;
                }
                (void) snprintf(reason, reason_size, "retry database: lock %s: %s", lockpath, strerror(-r));
                return r;
        }

        /* Under the lock: open read-only, copy, close. A file of 0 bytes
         * (a creation cut short: a full disk, a crash) holds no records:
         * Exim's own open (DB_CREATE) starts it afresh, libdb's read-only
         * open refuses it (EINVAL), and the probe would stay unknown. */
        if (stat(dbpath, &sb) >= 0 && S_ISREG(sb.st_mode) && sb.st_size == 0)
                return 0;
        k = db_create(&db, NULL, 0);
        if (k != 0) {
                (void) snprintf(reason, reason_size, "retry database: %s", db_strerror(k));
                return -ENOMEM;
        }
        /* Errors come back as codes and go to REASON; libdb would print them on stderr. */
        db->set_errcall(db, NULL);
        db->set_errfile(db, NULL);
        k = db->open(db, NULL, dbpath, NULL, DB_UNKNOWN, DB_RDONLY, 0);
        if (k == ENOENT) {
                (void) db->close(db, 0);
                return 0;
        }
        if (k != 0) {
                (void) snprintf(reason, reason_size, "retry database %s: %s", dbpath, db_strerror(k));
                (void) db->close(db, 0);
                return k > 0 ? -k : -EIO;
        }
        k = db->cursor(db, NULL, &cur, 0);
        r = 0;
        if (k == 0) {
                for (;;) {
                        memset(&key, 0, sizeof(key));
                        memset(&data, 0, sizeof(data));
                        k = cur->get(cur, &key, &data, DB_NEXT);
                        if (k != 0)
                                break;
                        r = exim_schedule_add(s, key.data, key.size, data.data, data.size, now_sec);
                        if (r < 0)
                                break;
                }
                if (k == DB_NOTFOUND)
                        k = 0;
                (void) cur->close(cur);
        }
        (void) db->close(db, 0);
        if (r < 0)
                return r;
        if (k != 0) {
                (void) snprintf(reason, reason_size, "retry database %s: %s", dbpath, db_strerror(k));
                return k > 0 ? -k : -EIO;
        }
        exim_schedule_seal(s);
        return 1;  /* the lock goes with lockfd */
}

int64_t exim_message_due(int64_t arrival_sec, bool firsttime, int64_t last_attempt_sec, int64_t message_next_try,
                         int64_t host_next_try) {
        int64_t due;

        if (firsttime)
                return arrival_sec;
        due = MAX_OF(arrival_sec, last_attempt_sec);
        due = MAX_OF(due, message_next_try);
        return MAX_OF(due, host_next_try);
}

bool exim_overdue(int64_t due_sec, uint64_t now_usec, uint64_t slack_usec, uint64_t *ret_late_usec) {
        uint64_t due_usec, late;

        *ret_late_usec = 0;
        if (slack_usec == USEC_INFINITY)
                return false;
        due_usec = due_sec <= 0 ? 0 : (uint64_t) due_sec * USEC_PER_SEC;
        if (now_usec <= due_usec)
                return false;
        late = now_usec - due_usec;
        if (late <= slack_usec)
                return false;
        *ret_late_usec = late;
        return true;
}

int exim_parse_time(const char *s, size_t n, uint64_t *ret_usec) {
        static const struct {
                char unit;
                uint64_t usec;
        } units[] = {
                { 's', USEC_PER_SEC },
                { 'm', 60 * USEC_PER_SEC },
                { 'h', 3600 * USEC_PER_SEC },
                { 'd', 86400 * USEC_PER_SEC },
                { 'w', 7 * 86400 * USEC_PER_SEC },
        };
        uint64_t total = 0;
        size_t i = 0;

        if (n == 0)
                return -EBADMSG;
        while (i < n) {
                uint64_t v = 0, mult = USEC_PER_SEC;

                if (!isdigit((unsigned char) s[i]))
                        return -EBADMSG;
                for (; i < n && isdigit((unsigned char) s[i]); i++) {
                        if (v > 1000000000ULL)
                                return -ERANGE;
                        v = v * 10 + (uint64_t) (s[i] - '0');
                }
                if (i < n) {
                        size_t u;

                        for (u = 0; u < ELEMENTSOF(units); u++)
                                if (s[i] == units[u].unit)
                                        break;
                        if (u == ELEMENTSOF(units))
                                return -EBADMSG;
                        mult = units[u].usec;
                        i++;
                } else if (total > 0)
                        return -EBADMSG;  /* "1h30": a bare number only alone */
                if (v > (UINT64_MAX / 2 - total) / mult)
                        return -ERANGE;
                total += v * mult;
        }
        *ret_usec = total;
        return 0;
}

int exim_defaults_interval(const char *text, uint64_t *ret_usec) {
        char runner[32] = "combined", interval[32] = "30m";
        const char *line = text;

        while (line && *line) {
                const char *end = strchr(line, '\n'), *v;
                size_t len = end ? (size_t) (end - line) : strlen(line), n;

                if ((v = text_shell_value(line, len, "QUEUERUNNER", &n)) && n < sizeof(runner)) {
                        memcpy(runner, v, n);
                        runner[n] = 0;
                } else if ((v = text_shell_value(line, len, "QUEUEINTERVAL", &n)) && n < sizeof(interval)) {
                        memcpy(interval, v, n);
                        interval[n] = 0;
                }
                line = end ? end + 1 : NULL;
        }
        /* /etc/init.d/exim4 start_exim(): these start no daemon with -q. */
        if (strcmp(runner, "no") == 0 || strcmp(runner, "ppp") == 0 || strcmp(runner, "nodaemon") == 0)
                return 0;
        if (exim_parse_time(interval, strlen(interval), ret_usec) < 0 || *ret_usec == 0)
                return -EBADMSG;
        return 1;
}

int exim_cmdline_interval(const char *argv, size_t size, uint64_t *ret_usec) {
        size_t pos = 0;

        while (pos < size) {
                const char *a = argv + pos;
                size_t n = strnlen(a, size - pos);

                pos += n + 1;
                if (n < 3 || a[0] != '-' || a[1] != 'q')
                        continue;
                /* -q[q][i][f[f]][l][G<name>[/<time>]]<time> (Exim specification 5.x "-q") */
                size_t i = 2;
                while (i < n && strchr("qifl", a[i]))
                        i++;
                if (i < n && a[i] == 'G')
                        continue;  /* a named queue: not the main one */
                if (i < n && exim_parse_time(a + i, n - i, ret_usec) == 0 && *ret_usec > 0)
                        return 1;
        }
        return 0;
}

/* The pid in PATH if that process runs EXE (NULL: any). */
static pid_t daemon_pid(const char *path, const char *exe) {
        _cleanup_free_ char *text = NULL;
        char link[64], target[PATH_MAX];
        uint64_t pid;
        size_t n;
        ssize_t k;

        if (read_file_bounded(path, 64, &text, &n) < 0)
                return 0;
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
                n--;
        if (!text_parse_u64(text, n, &pid) || pid == 0 || pid > INT32_MAX)
                return 0;
        if (kill((pid_t) pid, 0) < 0 && errno != EPERM)
                return 0;
        if (exe) {
                (void) snprintf(link, sizeof(link), "/proc/%" PRIu64 "/exe", pid);
                k = readlink(link, target, sizeof(target) - 1);
                /* Unreadable (another user's process, no CAP_SYS_PTRACE): trust the PID file. */
                if (k >= 0) {
                        target[k] = 0;
                        if (strcmp(target, exe) != 0)
                                return 0;
                }
        }
        return (pid_t) pid;
}

int exim_queue_interval(const char *run_dir, const char *exe, const char *defaults_file, uint64_t *ret_usec,
                        char *source, size_t source_size) {
        static const char *const pid_files[] = { "exim.pid", "eximqr.pid" };
        _cleanup_free_ char *text = NULL;
        bool any = false;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(pid_files); i++) {
                _cleanup_free_ char *path = NULL, *argv = NULL, *cmd = NULL;
                size_t n;
                pid_t pid;

                if (asprintf(&path, "%s/%s", run_dir, pid_files[i]) < 0)
                        return -ENOMEM;
                pid = daemon_pid(path, exe);
                if (pid <= 0)
                        continue;
                if (asprintf(&cmd, "/proc/%d/cmdline", (int) pid) < 0)
                        return -ENOMEM;
                if (read_file_bounded(cmd, 8192, &argv, &n) < 0)
                        continue;
                any = true;
                if (exim_cmdline_interval(argv, n, ret_usec) > 0) {
                        (void) snprintf(source, source_size, "daemon pid %d", (int) pid);
                        return 1;
                }
        }
        if (any) {
                (void) snprintf(source, source_size, "daemon without -q");
                return 0;
        }
        r = read_file_bounded(defaults_file, 64 * 1024, &text, NULL);
        if (r >= 0) {
                r = exim_defaults_interval(text, ret_usec);
                if (r >= 0) {
                        (void) snprintf(source, source_size, "%s", defaults_file);
                        return r;
                }
        }
        *ret_usec = EXIM_DEFAULT_QUEUE_INTERVAL_USEC;
        (void) snprintf(source, source_size, "built-in default");
        return 1;
}

int exim_parse_bp(const char *output, char **ret_spool, char **ret_log_path) {
        const char *line = output;

        *ret_spool = *ret_log_path = NULL;
        while (line && *line) {
                const char *end = strchr(line, '\n');
                size_t len = end ? (size_t) (end - line) : strlen(line);
                static const struct {
                        const char *prefix;
                        bool spool;
                } keys[] = { { "spool_directory = ", true }, { "log_file_path = ", false },
                             { "spool_directory =", true }, { "log_file_path =", false } };

                for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                        size_t k = strlen(keys[i].prefix);
                        char **dst = keys[i].spool ? ret_spool : ret_log_path;

                        if (len < k || memcmp(line, keys[i].prefix, k) != 0 || *dst)
                                continue;
                        *dst = strndup(line + k, len - k);
                        if (!*dst)
                                goto oom;
                        break;
                }
                line = end ? end + 1 : NULL;
        }
        if (*ret_spool && (*ret_spool)[0] != '/') {
                free(*ret_spool);
                *ret_spool = NULL;
        }
        return 0;
oom:
        free(*ret_spool);
        free(*ret_log_path);
        *ret_spool = *ret_log_path = NULL;
        return -ENOMEM;
}

int exim_log_file_from_path(const char *log_file_path, const char *spool, char **ret) {
        const char *p = log_file_path ? log_file_path : "";
        bool syslog = false;

        for (;;) {
                size_t n = strcspn(p, ":");
                const char *s = p, *e = p + n;

                while (s < e && (*s == ' ' || *s == '\t'))
                        s++;
                while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                        e--;
                if ((size_t) (e - s) == 6 && memcmp(s, "syslog", 6) == 0)
                        syslog = true;
                else if (e > s) {
                        _cleanup_free_ char *item = strndup(s, (size_t) (e - s));
                        const char *pct;
                        char *path;

                        if (!item)
                                return -ENOMEM;
                        if (item[0] != '/')
                                return -EINVAL;
                        pct = strstr(item, "%s");
                        if (pct) {
                                if (asprintf(&path, "%.*smain%s", (int) (pct - item), item, pct + 2) < 0)
                                        return -ENOMEM;
                        } else
                                path = TAKE_PTR(item);
                        *ret = path;
                        return 0;
                }
                if (!p[n])
                        break;
                p += n + 1;
        }
        if (syslog) {
                *ret = strdup("syslog");
                return *ret ? 0 : -ENOMEM;
        }
        /* Empty: Exim's <spool>/log/%slog (Exim specification 53.1). */
        return asprintf(ret, "%s/log/mainlog", spool) < 0 ? -ENOMEM : 0;
}

int exim_settings_finish(void *settings, char *error, size_t error_size) {
        EximSettings *s = settings;
        const char *exim = s->exim_path ? s->exim_path : EXIM_DEFAULT_BINARY;
        _cleanup_free_ char *spool = NULL, *log_path = NULL;
        int r;

        if (s->spool_directory && s->log_file)
                return 0;
        int a = access(exim, X_OK) == 0 ? 0 : -errno;

        if (a == 0) {
                char *argv[] = { (char *) exim, (char *) "-bP", (char *) "spool_directory",
                                 (char *) "log_file_path", NULL };
                char out[4096];

                r = exec_capture_sync(argv, EXIM_DISCOVER_TIMEOUT_USEC, out, sizeof(out));
                if (r == 0)
                        r = exim_parse_bp(out, &spool, &log_path);
                if (r < 0 && r != -ENOMEM)
                        log_warning_errno(r, "%s -bP spool_directory log_file_path: %m; using Debian's defaults",
                                          exim);
                else if (r > 0)
                        log_warning("%s -bP spool_directory log_file_path exited with status %d; using Debian's "
                                    "defaults", exim, r);
                if (r == -ENOMEM)
                        return r;
        } else
                /* Not installed (yet): the watchdog may be set up first, and
                 * Debian's paths are what the package will use. */
                (void) log_full_errno(LOG_NOTICE, a, "%s: %m; %s Debian's default%s", exim,
                                      s->spool_directory ? "log_file takes" :
                                      s->log_file ? "spool_directory takes" : "spool_directory and log_file take",
                                      !s->spool_directory && !s->log_file ? "s" : "");
        if (!s->spool_directory) {
                s->spool_directory = spool ? TAKE_PTR(spool) : strdup(EXIM_DEFAULT_SPOOL_DIRECTORY);
                if (!s->spool_directory)
                        return -ENOMEM;
        }
        if (!s->log_file) {
                /* Not printed (no binary): Debian's build, LOG_FILE_PATH=/var/log/exim4/%slog. */
                r = exim_log_file_from_path(log_path ? log_path : "/var/log/exim4/%slog", s->spool_directory,
                                            &s->log_file);
                if (r == -EINVAL) {
                        (void) snprintf(error, error_size, "log_file: %s reports log_file_path \"%s\", which is "
                                        "not an absolute path; set log_file", exim, log_path);
                        return r;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Scanning the spool (in the child). */

typedef struct EximScan {
        const EximScanParams *p;
        const EximSchedule *sched;       /* NULL: no database */
        QueueStats *q;
        int64_t oldest_sec;
        char *reason;
        size_t reason_size;
} EximScan;

static void scan_fail(EximScan *sc, const char *what, const char *name, int error) {
        (void) snprintf(sc->reason, sc->reason_size, "scan %s/%s%s%s: %s", sc->p->spool, what, name ? "/" : "",
                        name ?: "", strerror(error));
}

/* The mtime of msglog/<id> (or msglog/<c>/<id>, split spool), or -1. */
static int64_t msglog_mtime(int spool_fd, const char *id) {
        char path[QUEUE_ID_MAX + 16];
        struct stat sb;

        (void) snprintf(path, sizeof(path), "msglog/%s", id);
        if (fstatat(spool_fd, path, &sb, AT_SYMLINK_NOFOLLOW) == 0)
                return (int64_t) sb.st_mtime;
        (void) snprintf(path, sizeof(path), "msglog/%c/%s", id[5], id);
        if (fstatat(spool_fd, path, &sb, AT_SYMLINK_NOFOLLOW) == 0)
                return (int64_t) sb.st_mtime;
        return -1;
}

/* Reads the start of the -H file NAME in DIR_FD. Returns 0 and *RET, 1
 * when it cannot be told (gone, or options beyond what is read), or a
 * negative errno. */
static int read_header(int dir_fd, const char *name, const char *id, EximHeader *ret, int64_t *ret_mtime) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat sb;
        size_t n = 0;
        int r;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return errno == ENOENT ? 1 : negative_errno();
        if (fstat(fd, &sb) < 0)
                return negative_errno();
        *ret_mtime = (int64_t) sb.st_mtime;
        buf = malloc(EXIM_HEADER_READ_MAX);
        if (!buf)
                return -ENOMEM;
        while (n < EXIM_HEADER_READ_MAX) {
                ssize_t k = read(fd, buf + n, EXIM_HEADER_READ_MAX - n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        r = exim_parse_header(buf, n, id, ret);
        return r < 0 ? 1 : 0;
}

int exim_lock_holder(int fd, pid_t *ret) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

        if (fcntl(fd, F_GETLK, &fl) < 0)
                return negative_errno();
        *ret = fl.l_type == F_UNLCK ? 0 : fl.l_pid;
        return 0;
}

int exim_process_age(pid_t pid, uint64_t boottime_usec, uint64_t *ret_usec) {
        _cleanup_free_ char *text = NULL;
        char path[64];
        const char *p;
        uint64_t start_ticks, start_usec;
        long hz = sysconf(_SC_CLK_TCK);
        size_t n;
        int r;

        (void) snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        r = read_file_bounded(path, 4096, &text, &n);
        if (r < 0)
                return r;
        /* "pid (comm) state ..." — comm may hold anything: after the last ')' */
        p = strrchr(text, ')');
        if (!p || hz <= 0)
                return -EBADMSG;
        p++;
        /* P is at the blank before field 3 (state); starttime is field 22 */
        for (int field = 3; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EBADMSG;
        }
        p++;
        if (!text_parse_u64(p, strcspn(p, " \n"), &start_ticks))
                return -EBADMSG;
        start_usec = start_ticks / (uint64_t) hz * USEC_PER_SEC + start_ticks % (uint64_t) hz * USEC_PER_SEC / (uint64_t) hz;
        *ret_usec = boottime_usec > start_usec ? boottime_usec - start_usec : 0;
        return 0;
}

/* The process holding ID's -D file in DIR_FD: 1 and its pid, 0 when none
 * holds it (or the message is gone), or a negative errno. */
static int held_by(int dir_fd, const char *id, pid_t *ret) {
        char name[QUEUE_ID_MAX + 4];
        _cleanup_close_ int fd = -EBADF;
        pid_t pid;
        int r;

        (void) snprintf(name, sizeof(name), "%s-D", id);
        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        r = exim_lock_holder(fd, &pid);
        if (r < 0)
                return r;
        *ret = pid;
        return pid > 0;
}

/* PID holds message ID: into the list of holders (the EXIM_HELD_MAX
 * smallest ids). */
static void note_holder(EximScan *sc, const char *id, pid_t pid) {
        EximHeldList *l = sc->p->held;
        uint64_t run;
        size_t i;

        if (exim_process_age(pid, sc->p->boottime_usec, &run) < 0)
                run = EXIM_RUN_UNKNOWN;
        l->total++;
        for (i = l->n; i > 0 && strcmp(id, l->v[i - 1].id) < 0; i--)
                ;
        if (i == EXIM_HELD_MAX)
                return;    /* younger than all kept */
        if (l->n == EXIM_HELD_MAX)
                l->n--;    /* the youngest makes room */
        memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof(l->v[0]));
        l->v[i] = (EximHeld) { .pid = (uint32_t) pid, .run_usec = run };
        (void) snprintf(l->v[i].id, sizeof(l->v[i].id), "%s", id);
        l->n++;
}

void exim_hung_track(EximHungTracker *t, const EximHeldList *held, uint64_t now_usec, uint64_t hung_after_usec,
                     QueueStats *q) {
        EximHungTracker next = {};

        q->hung = 0;
        q->hung_pid = 0;
        q->hung_id[0] = 0;
        q->hung_age_usec = 0;
        for (size_t i = 0; held && i < held->n && next.n < EXIM_HELD_MAX; i++) {
                const EximHeld *h = &held->v[i];
                uint64_t first = now_usec, age;

                for (size_t k = 0; k < t->n; k++)
                        if (t->v[k].pid == h->pid && strcmp(t->v[k].id, h->id) == 0) {
                                first = t->v[k].first_seen_usec;
                                break;
                        }
                next.v[next.n].pid = h->pid;
                next.v[next.n].first_seen_usec = first;
                (void) snprintf(next.v[next.n].id, sizeof(next.v[next.n].id), "%s", h->id);
                next.n++;

                age = now_usec > first ? now_usec - first : 0;
                if (h->run_usec != EXIM_RUN_UNKNOWN && h->run_usec > age)
                        age = h->run_usec;
                if (hung_after_usec == 0 || age <= hung_after_usec)
                        continue;
                q->hung++;
                if (age > q->hung_age_usec || (age == q->hung_age_usec && strcmp(h->id, q->hung_id) < 0)) {
                        q->hung_age_usec = age;
                        q->hung_pid = h->pid;
                        (void) snprintf(q->hung_id, sizeof(q->hung_id), "%s", h->id);
                }
        }
        *t = next;
}

int exim_format_held_line(char *buf, size_t size, const EximHeld *h) {
        char run[24] = "-";
        int n;

        if (h->pid == 0 || h->pid > INT32_MAX || !exim_id_valid(h->id, strlen(h->id)))
                return -EINVAL;
        if (h->run_usec < 10000000000000000000ULL)   /* 19 digits, as the reader takes */
                (void) snprintf(run, sizeof(run), "%" PRIu64, h->run_usec);
        n = snprintf(buf, size, "held %" PRIu32 " %s %s\n", h->pid, run, h->id);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return n;
}

int exim_parse_held_line(const char *s, size_t n, EximHeld *ret) {
        const char *end = s + n, *p, *sp;
        EximHeld h = {};
        uint64_t v;

        if (n < 6 || memcmp(s, "held ", 5) != 0 || s[n - 1] != '\n' || memchr(s, '\n', n) != end - 1)
                return -EBADMSG;
        end--;
        p = s + 5;
        sp = memchr(p, ' ', (size_t) (end - p));
        if (!sp || !text_parse_u64(p, (size_t) (sp - p), &v) || v == 0 || v > INT32_MAX)
                return -EBADMSG;
        h.pid = (uint32_t) v;
        p = sp + 1;
        sp = memchr(p, ' ', (size_t) (end - p));
        if (!sp)
                return -EBADMSG;
        if (sp - p == 1 && *p == '-')
                h.run_usec = EXIM_RUN_UNKNOWN;
        else if (!text_parse_u64(p, (size_t) (sp - p), &h.run_usec))
                return -EBADMSG;
        p = sp + 1;
        if ((size_t) (end - p) >= sizeof(h.id) || !exim_id_valid(p, (size_t) (end - p)))
                return -EBADMSG;
        memcpy(h.id, p, (size_t) (end - p));
        *ret = h;
        return 0;
}

/* One message "<id>-H" in DIR_FD. */
static int scan_message(EximScan *sc, int spool_fd, int dir_fd, const char *name, const char *id) {
        const EximScanParams *p = sc->p;
        uint64_t arrival, age_usec, late;
        EximHeader h = {};
        int64_t hmtime = -1, last, due;
        bool known = false;
        pid_t holder = 0;
        int r, held = -1;  /* -1: not looked at */

        if (exim_id_time(id, &arrival) < 0)
                return 0;
        age_usec = p->now_usec > arrival * USEC_PER_SEC ? p->now_usec - arrival * USEC_PER_SEC : 0;

        if (p->held && p->hung_after_usec > 0 && age_usec > p->hung_after_usec) {
                held = held_by(dir_fd, id, &holder);
                if (held < 0) {
                        scan_fail(sc, "input", name, -held);
                        return held;
                }
                if (held > 0)
                        note_holder(sc, id, holder);
        }
        if (age_usec > p->header_age_usec) {
                r = read_header(dir_fd, name, id, &h, &hmtime);
                if (r < 0) {
                        scan_fail(sc, "input", name, -r);
                        return r;
                }
                if (r == 1 && hmtime < 0)
                        return 0;  /* gone: delivered meanwhile */
                known = r == 0;
        }
        if (known && h.frozen) {
                sc->q->frozen++;
                return 0;
        }
        sc->q->deferred++;
        if (!sc->q->oldest_id[0] || (int64_t) arrival < sc->oldest_sec ||
            ((int64_t) arrival == sc->oldest_sec && strcmp(id, sc->q->oldest_id) < 0)) {
                sc->oldest_sec = (int64_t) arrival;
                (void) snprintf(sc->q->oldest_id, sizeof(sc->q->oldest_id), "%s", id);
        }
        if (!known)
                return 0;  /* too young to be overdue, or -H could not be read */
        last = msglog_mtime(spool_fd, id);
        if (last < 0)
                last = hmtime;  /* message_logs = false: -H is rewritten at each deferral */
        due = exim_message_due((int64_t) arrival, h.firsttime, last,
                               sc->sched ? exim_schedule_message(sc->sched, id) : -1,
                               sc->sched && sc->sched->have_host ? sc->sched->host_next_try : -1);
        if (exim_overdue(due, p->now_usec, p->slack_usec, &late)) {
                /* A delivery works on it now (or hangs on it): not overdue.
                 * Queue runs skip it ("Spool file ... is locked"), and a
                 * restart of the daemon does not end the delivery. */
                if (held < 0)
                        held = held_by(dir_fd, id, &holder);
                if (held < 0) {
                        scan_fail(sc, "input", name, -held);
                        return held;
                }
                if (held > 0)
                        return 0;
                sc->q->overdue++;
                if (late > sc->q->most_overdue_usec)
                        sc->q->most_overdue_usec = late;
        }
        return 0;
}

/* Every "<id>-H" in the directory DIR_FD (taken), and in its
 * one-character subdirectories when TOP. */
static int scan_input_dir(EximScan *sc, int spool_fd, int dir_fd, bool top) {
        DIR *d = fdopendir(dir_fd);
        struct dirent *de;
        int r = 0;

        if (!d) {
                r = negative_errno();
                (void) close(dir_fd);
                scan_fail(sc, "input", NULL, -r);
                return r;
        }
        for (;;) {
                char id[QUEUE_ID_MAX];

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0) {
                                r = negative_errno();
                                scan_fail(sc, "input", NULL, -r);
                        }
                        break;
                }
                if (top && de->d_name[0] && !de->d_name[1] && b62(de->d_name[0]) >= 0) {
                        /* split_spool_directory: input/<6th character of the id>/ */
                        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                        if (sub < 0) {
                                if (errno == ENOENT || errno == ENOTDIR)
                                        continue;
                                r = negative_errno();
                                scan_fail(sc, "input", de->d_name, -r);
                                break;
                        }
                        r = scan_input_dir(sc, spool_fd, sub, false);
                        if (r < 0)
                                break;
                        continue;
                }
                if (exim_spool_name(de->d_name, id) < 0)
                        continue;
                r = scan_message(sc, spool_fd, dirfd(d), de->d_name, id);
                if (r < 0)
                        break;
        }
        (void) closedir(d);
        return r;
}

int exim_scan_queue(const EximScanParams *p, QueueStats *ret, char *reason, size_t reason_size) {
        QueueStats q = { .schedule_known = true, .slack_usec = p->slack_usec };
        EximSchedule sched = {};
        EximScan sc = { .p = p, .q = &q, .reason = reason, .reason_size = reason_size };
        _cleanup_close_ int spool_fd = -EBADF;
        int r, input;

        reason[0] = 0;
        spool_fd = open(p->spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (spool_fd < 0) {
                r = negative_errno();
                (void) snprintf(reason, reason_size, "scan %s: %s", p->spool, strerror(-r));
                return r;
        }
        /* The database first: the lock is held for the copy only. */
        r = exim_read_retry_db(p->spool, p->now_usec / USEC_PER_SEC, &sched, reason, reason_size);
        if (r < 0) {
                exim_schedule_done(&sched);
                return r;
        }
        sc.sched = r > 0 ? &sched : NULL;
        (void) snprintf(q.schedule_source, sizeof(q.schedule_source), "%s", r > 0 ? "retry-db" : "msglog");

        input = openat(spool_fd, "input", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (input < 0) {
                r = negative_errno();
                scan_fail(&sc, "input", NULL, -r);
                exim_schedule_done(&sched);
                return r;
        }
        r = scan_input_dir(&sc, spool_fd, input, true);
        exim_schedule_done(&sched);
        if (r < 0)
                return r;
        q.backlog = q.deferred;
        if (q.oldest_id[0] && (uint64_t) sc.oldest_sec * USEC_PER_SEC < p->now_usec)
                q.oldest_age_usec = p->now_usec - (uint64_t) sc.oldest_sec * USEC_PER_SEC;
        *ret = q;
        return 0;
}

/* The probe. */

typedef struct EximState {
        char *spool;
        char *exe;                   /* the daemon's executable, for the PID files */
        char *defaults_file;
        char *run_directory;
        uint64_t queue_interval_usec; /* USEC_INFINITY: find it each round */
        uint64_t overdue_slack_usec;  /* USEC_INFINITY: interval + EXIM_SLACK_MARGIN_USEC */
        uint64_t hung_after_usec;
        EximHungTracker hung;         /* since when each holder holds its message */
        QueueScan scan;               /* the run, and its clocks */
} EximState;

/* In the child: the queue runner interval, the slack, the scan; one line. */
static int exim_scan_child(int out_fd, void *arg) {
        EximState *st = arg;
        char reason[PROBE_REASON_MAX] = "", source[64] = "ini file";
        uint64_t interval = st->queue_interval_usec;
        EximHeldList held = {};
        EximScanParams sp = {
                .spool = st->spool,
                .now_usec = st->scan.realtime_usec,
                .boottime_usec = st->scan.boottime_usec,
                .hung_after_usec = st->hung_after_usec,
                .held = &held,
        };
        QueueStats q;
        int r, runner = interval != 0;

        if (interval == USEC_INFINITY) {
                runner = exim_queue_interval(st->run_directory, st->exe, st->defaults_file, &interval, source,
                                             sizeof(source));
                if (runner < 0)
                        return queue_scan_child_answer(out_fd, runner, NULL, "");
        }
        if (!runner)
                sp.slack_usec = USEC_INFINITY;
        else if (st->overdue_slack_usec != USEC_INFINITY)
                sp.slack_usec = st->overdue_slack_usec;
        else
                sp.slack_usec = interval > USEC_INFINITY - 1 - EXIM_SLACK_MARGIN_USEC ? USEC_INFINITY - 1 :
                                interval + EXIM_SLACK_MARGIN_USEC;
        /* -H is read once a message could be overdue; with no queue runner
         * (nothing is) once it is older than the margin, for the frozen count. */
        sp.header_age_usec = runner ? sp.slack_usec : EXIM_SLACK_MARGIN_USEC;
        log_debug("exim scan: queue runner %s (%s)", runner ? "runs" : "none", source);

        /* The spool is 0750 Debian-exim: the daemon's group, or CAP_DAC_READ_SEARCH. */
        (void) caps_raise_read_search();
        r = exim_scan_queue(&sp, &q, reason, sizeof(reason));
        /* the holders first, one line each, then the summary */
        for (size_t i = 0; r >= 0 && i < held.n; i++) {
                char line[EXIM_HELD_LINE_MAX];

                if (exim_format_held_line(line, sizeof(line), &held.v[i]) > 0)
                        (void) dprintf(out_fd, "%s", line);
        }
        return queue_scan_child_answer(out_fd, r, &q, reason);
}

/* "held ..." lines (exim_scan_child()), then the summary; the holders
 * tracked across runs. */
static int exim_parse(Probe *p, const char *output, size_t size, QueueStats *q) {
        EximState *st = p->state;
        EximHeldList held = {};

        while (size > 5 && memcmp(output, "held ", 5) == 0) {
                const char *nl = memchr(output, '\n', size);
                size_t n = nl ? (size_t) (nl - output) + 1 : size;

                if (held.n == EXIM_HELD_MAX || exim_parse_held_line(output, n, &held.v[held.n]) < 0)
                        return -EBADMSG;
                held.n++;
                output += n;
                size -= n;
        }
        if (queue_scan_parse_line(output, size, q) < 0 || !q->schedule_known ||
            (strcmp(q->schedule_source, "retry-db") != 0 && strcmp(q->schedule_source, "msglog") != 0))
                return -EBADMSG;
        exim_hung_track(&st->hung, &held, st->scan.monotonic_usec, st->hung_after_usec, q);
        return 0;
}

static void exim_describe(Probe *p, const QueueStats *q, char *buf, size_t size) {
        char slack[FORMAT_DURATION_MAX], hung[160] = "";

        (void) p;
        if (q->hung > 0) {
                char age[FORMAT_DURATION_MAX];

                (void) snprintf(hung, sizeof(hung), ", hung %u (pid %" PRIu32 " on %s for %s)", q->hung,
                                q->hung_pid, q->hung_id, format_duration(age, sizeof(age), q->hung_age_usec));
        }
        if (q->slack_usec == USEC_INFINITY)
                (void) snprintf(slack, sizeof(slack), "no queue runner");
        else
                (void) format_duration(slack, sizeof(slack), q->slack_usec);
        (void) snprintf(buf, size, "backlog %u, frozen %u, oldest %s, overdue %u (%s, slack %s)%s", q->backlog,
                        q->frozen, q->oldest_id[0] ? q->oldest_id : "none", q->overdue, q->schedule_source, slack,
                        hung);
}

static const QueueScanOps exim_scan_ops = {
        .child = exim_scan_child,
        .parse = exim_parse,
        .describe = exim_describe,
};

static void exim_cancel(Probe *p) {
        EximState *st = p->state;

        queue_scan_cancel(&st->scan);
}

static int exim_start(Probe *p) {
        EximState *st = p->state;

        return queue_scan_start(&st->scan, p, &exim_scan_ops, st->spool);
}

static void exim_done(Probe *p) {
        EximState *st = p->state;

        exim_cancel(p);
        free(st->spool);
        free(st->exe);
        free(st->defaults_file);
        free(st->run_directory);
}

static int exim_init(Probe *p, const void *settings) {
        const EximSettings *s = settings;
        EximState *st = p->state;

        if (!s || !s->spool_directory || s->spool_directory[0] != '/') {
                log_error("probe %s: exim needs an absolute spool_directory", p->name);
                return -EINVAL;
        }
        if ((s->exim_path && s->exim_path[0] != '/') || (s->defaults_file && s->defaults_file[0] != '/') ||
            (s->run_directory && s->run_directory[0] != '/')) {
                log_error("probe %s: exim's paths must be absolute", p->name);
                return -EINVAL;
        }
        st->spool = strdup(s->spool_directory);
        st->exe = strdup(s->exim_path ?: EXIM_DEFAULT_BINARY);
        st->defaults_file = strdup(s->defaults_file ?: EXIM_DEFAULT_DEFAULTS_FILE);
        st->run_directory = strdup(s->run_directory ?: EXIM_DEFAULT_RUN_DIRECTORY);
        if (!st->spool || !st->exe || !st->defaults_file || !st->run_directory)
                return -ENOMEM;
        st->queue_interval_usec = s->queue_interval_usec;
        st->overdue_slack_usec = s->overdue_slack_usec;
        st->hung_after_usec = s->hung_delivery_after_usec;
        return 0;
}

const struct probe_ops probe_exim_ops = {
        .type = "exim",
        .kind = PROBE_KIND_QUEUE,
        .state_size = sizeof(EximState),
        .init = exim_init,
        .start = exim_start,
        .cancel = exim_cancel,
        .done = exim_done,
};

/* The profile: [mta] type = exim */

static void exim_settings_init(void *settings) {
        *(EximSettings *) settings = (EximSettings) {
                .queue_interval_usec = USEC_INFINITY,
                .overdue_slack_usec = USEC_INFINITY,
                .hung_delivery_after_usec = EXIM_DEFAULT_HUNG_DELIVERY_AFTER_USEC,
        };
}

static void exim_settings_done(void *settings) {
        EximSettings *s = settings;

        free(s->spool_directory);
        free(s->log_file);
        free(s->exim_path);
        free(s->defaults_file);
        free(s->run_directory);
        *s = (EximSettings) {};
}

/* log_file: an absolute path, or "syslog" (Exim logs to syslog: the
 * journal is read instead). */
static int exim_parse_log_file(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        if (strcmp(value, "syslog") != 0 && value[0] != '/')
                return config_error(ctx, ctx->line, item->key, "\"%s\" is neither an absolute path nor \"syslog\"",
                                    value);
        return config_parse_string(ctx, item, value, data);
}

/* queue_interval: a duration, "auto", or 0 (no queue runner). */
static const ConfigItem exim_mta_items[] = {
        CONFIG_ITEM("spool_directory",     path,          string,        EximSettings, spool_directory,          0),
        { "log_file", exim_parse_log_file, config_print_string, offsetof(EximSettings, log_file), 0, false, NULL },
        CONFIG_ITEM("queue_interval",      duration_auto, duration_auto, EximSettings, queue_interval_usec,      0),
        CONFIG_ITEM("overdue_slack",       duration_auto, duration_auto, EximSettings, overdue_slack_usec,       0),
        CONFIG_ITEM("hung_delivery_after", duration,      duration,      EximSettings, hung_delivery_after_usec, 0),
        {},
};

static const char *exim_log_file(const void *settings) {
        const EximSettings *s = settings;

        if (!s || !s->log_file || strcmp(s->log_file, "syslog") == 0)
                return NULL;
        return s->log_file;
}

/* MtaProfile.lock_holder: the process that holds message ID's -D lock now
 * (input/<id>-D, or input/<c>/<id>-D with split_spool_directory; F_GETLK,
 * fcntl(2), takes no lock). Returns 1 and the PID, 0 when none holds it
 * (or the message is gone), -EINVAL for a malformed ID, or a negative
 * errno from open(2)/fcntl(2). */
static int exim_profile_lock_holder(const void *settings, const char *id, uint32_t *ret) {
        const EximSettings *s = settings;
        const char *spool = s && s->spool_directory ? s->spool_directory : EXIM_DEFAULT_SPOOL_DIRECTORY;
        char path[PATH_MAX];
        pid_t pid = 0;
        int r;

        if (!id || !exim_id_valid(id, strlen(id)))
                return -EINVAL;
        for (int split = 0; split < 2; split++) {
                _cleanup_close_ int fd = -EBADF;

                if (split)
                        (void) snprintf(path, sizeof(path), "%s/input/%c/%s-D", spool, id[5], id);
                else
                        (void) snprintf(path, sizeof(path), "%s/input/%s-D", spool, id);
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
                if (fd < 0) {
                        if (errno == ENOENT)
                                continue;
                        return negative_errno();
                }
                r = exim_lock_holder(fd, &pid);
                if (r < 0)
                        return r;
                if (pid <= 0)
                        return 0;
                *ret = (uint32_t) pid;
                return 1;
        }
        return 0;
}

const MtaProfile mta_profile_exim = {
        .type = "exim",
        .queue_ops = &probe_exim_ops,
        .config_items = exim_mta_items,
        .settings_size = sizeof(EximSettings),
        .settings_init = exim_settings_init,
        .settings_done = exim_settings_done,
        .settings_finish = exim_settings_finish,
        /* Debian's exim4 writes /var/log/exim4/mainlog, not the journal. */
        .activity_source = ACTIVITY_SOURCE_LOGFILE,
        .syslog_identifiers = exim_syslog_identifiers,
        .activity_rules = &exim_activity_rules,
        .log_file = exim_log_file,
        /* exim4.service is generated from /etc/init.d/exim4: no MainPID. */
        .pid_file = EXIM_DEFAULT_RUN_DIRECTORY "/exim.pid",
        .daemon_exe = EXIM_DEFAULT_BINARY,
        .lock_holder = exim_profile_lock_holder,
        .default_unit = "exim4.service",
        /* One forced delivery attempt of every non-frozen message (Exim
         * specification 5 "-qf"), run as root by systemd in
         * units/mta-watchdog-exim-flush.service: exim4 started by the
         * sandboxed daemon itself keeps its user (NoNewPrivileges=) and
         * cannot open the spool files read-write. --no-block: the queue run
         * takes as long as its deliveries; the unit's TimeoutStartSec=
         * bounds it, and mail delivered is what verifies it. */
        .default_flush_command = "systemctl start --no-block mta-watchdog-exim-flush.service",
};
