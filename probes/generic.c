/* SPDX-License-Identifier: MIT */
/* [mta] type = generic (probes/generic.h): the queue probe walks the queue
 * directories the [mta] keys name, and the profile builds the log rules
 * from the keys. Nothing here knows an MTA but the schedule readers
 * (schedule_from: OpenSMTPD's envelopes, probes/opensmtpd-envelope.c);
 * etc/mta-watchdog-nullmailer.ini and etc/mta-watchdog-opensmtpd.ini are
 * profiles written with it. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../watchdogd/caps.h"
#include "../watchdogd/conf-parser.h"
#include "../watchdogd/duration.h"
#include "../watchdogd/log.h"
#include "../watchdogd/macros.h"
#include "../watchdogd/strv.h"
#include "generic.h"
#include "opensmtpd-envelope.h"
#include "queue-scan.h"

static const char *const arrival_names[_GENERIC_ARRIVAL_MAX] = {
        [GENERIC_ARRIVAL_MTIME]        = "mtime",
        [GENERIC_ARRIVAL_EPOCH_PREFIX] = "epoch-prefix",
};

static const char *const schedule_names[_GENERIC_SCHEDULE_MAX] = {
        [GENERIC_SCHEDULE_NONE]      = "none",
        [GENERIC_SCHEDULE_OPENSMTPD] = "opensmtpd-envelope",
};

static const char *const log_source_names[_GENERIC_LOG_MAX] = {
        [GENERIC_LOG_UNIT]   = "unit",
        [GENERIC_LOG_SYSLOG] = "syslog",
        [GENERIC_LOG_FILE]   = "file",
};

/* The arrival time */

int generic_name_arrival(GenericArrival rule, const char *name, uint64_t *ret_sec) {
        uint64_t v = 0;
        size_t n = 0;

        if (rule != GENERIC_ARRIVAL_EPOCH_PREFIX || !name)
                return 0;
        for (; name[n] >= '0' && name[n] <= '9'; n++) {
                if (n >= 12)
                        return 0;
                v = v * 10 + (uint64_t) (name[n] - '0');
        }
        if (n == 0 || (name[n] != '\0' && name[n] != '.'))
                return 0;
        *ret_sec = v;
        return 1;
}

/* The scan */

typedef struct ScanState {
        const GenericSettings *s;
        uint64_t now_usec;
        QueueStats *q;
        uint64_t oldest_usec;              /* arrival of the oldest, CLOCK_REALTIME */
        uint64_t slack_usec;               /* with a schedule: overdue_slack */
        unsigned unscheduled;              /* files read for a schedule that had none */
        char *reason;
        size_t reason_size;
} ScanState;

/* A file's mtime in microseconds since the epoch: a time before the epoch
 * as 0, one beyond what fits (garbled, or set so: tmpfs keeps 64-bit
 * seconds) as UINT64_MAX, the youngest possible, never wrapped around to
 * look decades old. */
static uint64_t mtime_usec(const struct timespec *ts) {
        if (ts->tv_sec < 0)
                return 0;
        if ((uint64_t) ts->tv_sec >= UINT64_MAX / USEC_PER_SEC)
                return UINT64_MAX;
        return (uint64_t) ts->tv_sec * USEC_PER_SEC + (uint64_t) ts->tv_nsec / 1000;
}

static void scan_note(ScanState *st, const char *name, uint64_t arrival_usec) {
        QueueStats *q = st->q;
        char id[QUEUE_ID_MAX];

        queue_scan_id_from_name(id, name);

        q->backlog++;
        q->deferred++;
        if (q->backlog == 1 || arrival_usec < st->oldest_usec ||
            (arrival_usec == st->oldest_usec && strcmp(id, q->oldest_id) < 0)) {
                st->oldest_usec = arrival_usec;
                memcpy(q->oldest_id, id, sizeof(q->oldest_id));
        }
}

uint64_t generic_overdue_slack(const GenericSettings *s) {
        if (s->schedule == GENERIC_SCHEDULE_NONE)
                return USEC_INFINITY;
        return s->overdue_slack_usec != USEC_INFINITY ? s->overdue_slack_usec : GENERIC_OPENSMTPD_SLACK_USEC;
}

/* The message file NAME in the directory open at DFD (in PATH), read for
 * its schedule: an OpenSMTPD envelope's ctime is its arrival, and it is
 * overdue when its next attempt lies more than the slack before now (the
 * file is opened, not its name looked up again: its mtime and its text
 * are of the same version, queue_fs.c replaces it by rename(2)). A file
 * that is no such envelope counts with its mtime and leaves the scan
 * without a schedule. Returns 0 (also for a file gone meanwhile: sent),
 * or a negative errno with the reason. */
static int scan_envelope(ScanState *st, int dfd, const char *path, const char *name) {
        char buf[GENERIC_ENVELOPE_READ_MAX];
        _cleanup_close_ int fd = -EBADF;
        OpensmtpdEnvelope e;
        struct stat sb;
        size_t n = 0;
        uint64_t due_sec;

        fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                goto fail;
        }
        if (fstat(fd, &sb) < 0)
                goto fail;
        if (!S_ISREG(sb.st_mode))
                return 0;          /* replaced by something else meanwhile */
        while (n < sizeof(buf)) {
                ssize_t k = read(fd, buf + n, sizeof(buf) - n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        goto fail;
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (opensmtpd_envelope_parse(buf, n, &e) < 0) {
                st->unscheduled++;
                scan_note(st, name, mtime_usec(&sb.st_mtim));
                return 0;
        }
        scan_note(st, name, e.ctime_sec * USEC_PER_SEC);
        due_sec = opensmtpd_envelope_next_try(&e, (uint64_t) MAX_OF(sb.st_mtim.tv_sec, 0));
        if (due_sec < UINT64_MAX / USEC_PER_SEC) {
                uint64_t due_usec = due_sec * USEC_PER_SEC;

                if (st->now_usec > due_usec && st->now_usec - due_usec > st->slack_usec) {
                        st->q->overdue++;
                        st->q->most_overdue_usec = MAX_OF(st->q->most_overdue_usec, st->now_usec - due_usec);
                }
        }
        return 0;

fail:;
        int r = -errno;

        (void) snprintf(st->reason, st->reason_size, "scan %s/%s: %s", path, name, strerror(-r));
        return r;
}

/* Walks the directory open at FD (PATH for messages), DEPTH more levels
 * below it. Takes FD. */
static int scan_dir(ScanState *st, int fd, const char *path, unsigned depth) {
        DIR *d = fdopendir(fd);
        struct dirent *de;
        int r = 0;

        if (!d) {
                r = -errno;
                (void) close(fd);
                (void) snprintf(st->reason, st->reason_size, "scan %s: %s", path, strerror(-r));
                return r;
        }
        for (errno = 0; (de = readdir(d)); errno = 0) {
                unsigned char type = de->d_type;
                struct stat sb;
                uint64_t sec;
                bool have_stat = false;

                if (de->d_name[0] == '.')
                        continue;
                if (type == DT_UNKNOWN ||
                    (type == DT_REG && st->s->arrival == GENERIC_ARRIVAL_MTIME) ||
                    (type == DT_REG && generic_name_arrival(st->s->arrival, de->d_name, &sec) == 0)) {
                        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
                                if (errno == ENOENT)
                                        continue;   /* delivered meanwhile */
                                r = -errno;
                                (void) snprintf(st->reason, st->reason_size, "scan %s/%s: %s", path, de->d_name,
                                                strerror(-r));
                                break;
                        }
                        have_stat = true;
                        type = S_ISREG(sb.st_mode) ? DT_REG : S_ISDIR(sb.st_mode) ? DT_DIR : DT_UNKNOWN;
                }
                if (type == DT_DIR && depth > 0) {
                        char sub[PATH_MAX];
                        int sfd;

                        if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int) sizeof(sub))
                                continue;
                        sfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                        if (sfd < 0) {
                                if (errno == ENOENT)
                                        continue;   /* removed meanwhile */
                                r = -errno;
                                (void) snprintf(st->reason, st->reason_size, "scan %s: %s", sub, strerror(-r));
                                break;
                        }
                        r = scan_dir(st, sfd, sub, depth - 1);
                        if (r < 0)
                                break;
                        continue;
                }
                if (type != DT_REG || fnmatch(st->s->queue_glob ? st->s->queue_glob : "*", de->d_name, 0) != 0)
                        continue;
                if (st->s->schedule == GENERIC_SCHEDULE_OPENSMTPD) {
                        r = scan_envelope(st, dirfd(d), path, de->d_name);
                        if (r < 0)
                                break;
                        continue;
                }
                if (generic_name_arrival(st->s->arrival, de->d_name, &sec) > 0)
                        scan_note(st, de->d_name, sec * USEC_PER_SEC);
                else if (have_stat)
                        scan_note(st, de->d_name, mtime_usec(&sb.st_mtim));
        }
        if (r == 0 && errno != 0) {
                r = -errno;
                (void) snprintf(st->reason, st->reason_size, "scan %s: %s", path, strerror(-r));
        }
        (void) closedir(d);
        return r;
}

int generic_scan_queue(const GenericSettings *s, uint64_t now_usec, QueueStats *ret, char *reason,
                       size_t reason_size) {
        char dummy[1];
        ScanState st = {
                .s = s,
                .now_usec = now_usec,
                .q = ret,
                .slack_usec = s ? generic_overdue_slack(s) : USEC_INFINITY,
                .reason = reason && reason_size > 0 ? reason : dummy,
                .reason_size = reason && reason_size > 0 ? reason_size : sizeof(dummy),
        };
        int r;

        *ret = (QueueStats) {};
        st.reason[0] = 0;
        if (!s || !s->queue_directories || !s->queue_directories[0]) {
                (void) snprintf(st.reason, st.reason_size, "no queue directory");
                return -EINVAL;
        }
        for (char **dir = s->queue_directories; *dir; dir++) {
                int fd = open(*dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                if (fd < 0) {
                        r = -errno;
                        (void) snprintf(st.reason, st.reason_size, "scan %s: %s", *dir, strerror(-r));
                        *ret = (QueueStats) {};
                        return r;
                }
                r = scan_dir(&st, fd, *dir, s->queue_depth);
                if (r < 0) {
                        *ret = (QueueStats) {};
                        return r;
                }
        }
        if (ret->backlog > 0)
                ret->oldest_age_usec = now_usec > st.oldest_usec ? now_usec - st.oldest_usec : 0;
        if (s->schedule != GENERIC_SCHEDULE_NONE && st.unscheduled == 0) {
                ret->schedule_known = true;
                ret->slack_usec = st.slack_usec;
                (void) snprintf(ret->schedule_source, sizeof(ret->schedule_source), "envelope");
        } else {
                ret->overdue = 0;
                ret->most_overdue_usec = 0;
        }
        return 0;
}

/* Settings */

static void generic_settings_init(void *settings) {
        *(GenericSettings *) settings = (GenericSettings) {
                .arrival = GENERIC_ARRIVAL_MTIME,
                .log_source = GENERIC_LOG_UNIT,
                .overdue_slack_usec = USEC_INFINITY,
        };
}

static void generic_settings_done(void *settings) {
        GenericSettings *s = settings;

        strv_free(s->queue_directories);
        free(s->queue_glob);
        strv_free(s->syslog_identifiers);
        free(s->log_file);
        free(s->delivered_pattern);
        free(s->failed_pattern);
        free(s->started_pattern);
        *s = (GenericSettings) {};
}

/* queue_directories: absolute paths, separated by blanks. */
static int generic_parse_directories(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        _cleanup_(strv_freep) char **l = NULL;
        char ***dirs = data;

        if (strv_split(value, &l) < 0)
                return config_oom(ctx);
        if (!l[0])
                return config_error(ctx, ctx->line, item->key, "empty list");
        if (strv_length(l) > GENERIC_DIRECTORIES_MAX)
                return config_error(ctx, ctx->line, item->key, "more than %d directories", GENERIC_DIRECTORIES_MAX);
        for (char **p = l; *p; p++) {
                size_t n = strlen(*p);

                if ((*p)[0] != '/' || n >= PATH_MAX)
                        return config_error(ctx, ctx->line, item->key, "\"%s\" is not an absolute path", *p);
                /* the same directory twice would count its messages twice */
                while (n > 1 && (*p)[n - 1] == '/')
                        (*p)[--n] = 0;
                for (char **q = l; q < p; q++)
                        if (strcmp(*q, *p) == 0)
                                return config_error(ctx, ctx->line, item->key, "\"%s\" is listed twice", *p);
        }
        strv_free(*dirs);
        *dirs = TAKE_PTR(l);
        return 0;
}

/* syslog_identifiers: words separated by blanks. */
static int generic_parse_identifiers(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        _cleanup_(strv_freep) char **l = NULL;
        char ***ids = data;

        if (strv_split(value, &l) < 0)
                return config_oom(ctx);
        if (!l[0])
                return config_error(ctx, ctx->line, item->key, "empty list");
        if (strv_length(l) > GENERIC_IDENTIFIERS_MAX)
                return config_error(ctx, ctx->line, item->key, "more than %d identifiers", GENERIC_IDENTIFIERS_MAX);
        strv_free(*ids);
        *ids = TAKE_PTR(l);
        return 0;
}

static bool generic_print_list(FILE *f, const void *data) {
        char *const *l = *(char *const *const *) data;

        if (!l || !l[0])
                return false;
        for (size_t i = 0; l[i]; i++)
                fprintf(f, "%s%s", i > 0 ? " " : "", l[i]);
        return true;
}

/* queue_glob: an fnmatch(3) pattern of a file name (no '/'). */
static int generic_parse_glob(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        if (strchr(value, '/'))
                return config_error(ctx, ctx->line, item->key, "\"%s\" holds a '/': it matches file names only",
                                    value);
        return config_parse_word(ctx, item, value, data);
}

static int generic_parse_depth(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        unsigned long long v;
        int r;

        r = config_parse_number(ctx, item, value, GENERIC_DEPTH_MAX, &v);
        if (r < 0)
                return r;
        *(unsigned *) data = (unsigned) v;
        return 0;
}

static int generic_parse_enum(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data,
                              const char *const *names, size_t n) {
        char list[128] = "";

        for (size_t i = 0; i < n; i++)
                if (strcmp(names[i], value) == 0) {
                        *(int *) data = (int) i;
                        return 0;
                }
        for (size_t i = 0; i < n; i++)
                (void) snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i > 0 ? ", " : "",
                                names[i]);
        return config_error(ctx, ctx->line, item->key, "unknown value \"%s\" (%s)", value, list);
}

static int generic_parse_arrival(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        int v = 0, r = generic_parse_enum(ctx, item, value, &v, arrival_names, ELEMENTSOF(arrival_names));

        if (r == 0)
                *(GenericArrival *) data = (GenericArrival) v;
        return r;
}

static bool generic_print_arrival(FILE *f, const void *data) {
        fputs(arrival_names[*(const GenericArrival *) data], f);
        return true;
}

static int generic_parse_schedule(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        int v = 0, r = generic_parse_enum(ctx, item, value, &v, schedule_names, ELEMENTSOF(schedule_names));

        if (r == 0)
                *(GenericSchedule *) data = (GenericSchedule) v;
        return r;
}

static bool generic_print_schedule(FILE *f, const void *data) {
        fputs(schedule_names[*(const GenericSchedule *) data], f);
        return true;
}

static int generic_parse_log_source(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        int v = 0, r = generic_parse_enum(ctx, item, value, &v, log_source_names, ELEMENTSOF(log_source_names));

        if (r == 0)
                *(GenericLogSource *) data = (GenericLogSource) v;
        return r;
}

static bool generic_print_log_source(FILE *f, const void *data) {
        fputs(log_source_names[*(const GenericLogSource *) data], f);
        return true;
}

/* delivered_pattern, failed_pattern, started_pattern: a POSIX ERE
 * (regex(7)) of bounded size; groups are optional. */
static int generic_parse_pattern(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        int r = config_check_regex(ctx, item, value, NULL);

        if (r < 0)
                return r;
        return config_parse_string(ctx, item, value, data);
}

/* One row per line (tests/check-docs.sh reads the keys from here). */
#define O(field) offsetof(GenericSettings, field)
static const ConfigItem generic_mta_items[] = {
        { "queue_directories",   generic_parse_directories, generic_print_list,       O(queue_directories),   0, true,  NULL },
        { "queue_glob",          generic_parse_glob,        config_print_string,      O(queue_glob),          0, false, NULL },
        { "queue_depth",         generic_parse_depth,       config_print_unsigned,    O(queue_depth),         0, false, NULL },
        { "arrival_from_name",   generic_parse_arrival,     generic_print_arrival,    O(arrival),             0, false, NULL },
        { "log_source",          generic_parse_log_source,  generic_print_log_source, O(log_source),          0, false, NULL },
        { "syslog_identifiers",  generic_parse_identifiers, generic_print_list,       O(syslog_identifiers),  0, false, NULL },
        { "log_file",            config_parse_path,         config_print_string,      O(log_file),            0, false, NULL },
        { "delivered_pattern",   generic_parse_pattern,     config_print_string,      O(delivered_pattern),   0, true,  NULL },
        { "failed_pattern",      generic_parse_pattern,     config_print_string,      O(failed_pattern),      0, false, NULL },
        { "started_pattern",     generic_parse_pattern,     config_print_string,      O(started_pattern),     0, false, NULL },
        { "hung_delivery_after", config_parse_duration,     config_print_duration,    O(hung_delivery_after_usec), 0, false, NULL },
        { "max_retry_gap",       config_parse_duration,     config_print_duration,    O(max_retry_gap_usec),  0, false, NULL },
        { "schedule_from",       generic_parse_schedule,    generic_print_schedule,   O(schedule),            0, false, NULL },
        { "overdue_slack",       config_parse_duration_auto, config_print_duration_auto, O(overdue_slack_usec), 0, false, NULL },
        {},
};
#undef O

int generic_settings_finish(void *settings, char *error, size_t error_size) {
        GenericSettings *s = settings;

        if (s->log_source == GENERIC_LOG_SYSLOG && !s->syslog_identifiers) {
                (void) snprintf(error, error_size, "syslog_identifiers: missing (log_source = syslog reads the journal by them)");
                return -EINVAL;
        }
        if (s->log_source == GENERIC_LOG_FILE && !s->log_file) {
                (void) snprintf(error, error_size, "log_file: missing (log_source = file follows it)");
                return -EINVAL;
        }
        if (s->log_source != GENERIC_LOG_SYSLOG && s->syslog_identifiers) {
                (void) snprintf(error, error_size, "syslog_identifiers: read only with log_source = syslog");
                return -EINVAL;
        }
        if (s->log_source != GENERIC_LOG_FILE && s->log_file) {
                (void) snprintf(error, error_size, "log_file: read only with log_source = file");
                return -EINVAL;
        }
        if (s->schedule == GENERIC_SCHEDULE_NONE && s->overdue_slack_usec != USEC_INFINITY) {
                (void) snprintf(error, error_size, "overdue_slack: read only with a schedule (schedule_from)");
                return -EINVAL;
        }
        if (s->hung_delivery_after_usec > 0 && !s->started_pattern) {
                (void) snprintf(error, error_size, "started_pattern: missing (hung_delivery_after needs the "
                                "line that opens a delivery)");
                return -EINVAL;
        }
        if (!s->queue_glob && !(s->queue_glob = strdup("*")))
                return -ENOMEM;
        /* The MTA's own words per outcome; connection errors come from the
         * common error_pattern (the peer in its first group). A failure
         * the other side caused is deferred-remote: no restart fixes it. */
        s->rules = (ActivityRules) {
                .delivered = s->delivered_pattern,
                .failed = s->failed_pattern,
                .started = s->started_pattern,
                .failed_cause = CAUSE_DEFERRED_REMOTE,
                .error_cause = CAUSE_CONNECT_FAILURE,
        };
        return 0;
}

/* Profile hooks */

static ActivitySource generic_activity_source(const void *settings) {
        const GenericSettings *s = settings;

        return s->log_source == GENERIC_LOG_FILE ? ACTIVITY_SOURCE_LOGFILE :
               s->log_source == GENERIC_LOG_SYSLOG ? ACTIVITY_SOURCE_JOURNAL_IDENTIFIER : ACTIVITY_SOURCE_JOURNAL_UNIT;
}

static const char *const *generic_syslog_identifiers(const void *settings) {
        return (const char *const *) ((const GenericSettings *) settings)->syslog_identifiers;
}

static const ActivityRules *generic_activity_rules(const void *settings) {
        return &((const GenericSettings *) settings)->rules;
}

static const char *generic_log_file(const void *settings) {
        const GenericSettings *s = settings;

        return s->log_source == GENERIC_LOG_FILE ? s->log_file : NULL;
}

static uint64_t generic_hung_start_after(const void *settings) {
        return ((const GenericSettings *) settings)->hung_delivery_after_usec;
}

static uint64_t generic_max_retry_gap(const void *settings) {
        return ((const GenericSettings *) settings)->max_retry_gap_usec;
}

static bool generic_reads_schedule(const void *settings) {
        return ((const GenericSettings *) settings)->schedule != GENERIC_SCHEDULE_NONE;
}

/* The queue probe */

typedef struct GenericState {
        QueueScan scan;                    /* the run, and its clocks */
        GenericSettings copy;              /* the queue keys, the probe's own copy */
        char what[PATH_MAX];
} GenericState;

static int generic_scan_child(int out_fd, void *state) {
        GenericState *st = state;
        char reason[PROBE_REASON_MAX] = "";
        QueueStats q;
        int r;

        /* A spool only the MTA's group may read: that group, or CAP_DAC_READ_SEARCH. */
        (void) caps_raise_read_search();
        r = generic_scan_queue(&st->copy, st->scan.realtime_usec, &q, reason, sizeof(reason));
        return queue_scan_child_answer(out_fd, r, &q, reason);
}

static void generic_describe(Probe *p, const QueueStats *q, char *buf, size_t size) {
        GenericState *st = p->state;
        char age[FORMAT_DURATION_MAX], sched[FORMAT_DURATION_MAX + 64] = " (no schedule read)";

        if (q->schedule_known)
                (void) snprintf(sched, sizeof(sched), ", overdue %u (%s, slack %s)", q->overdue,
                                q->schedule_source, format_duration(age, sizeof(age), q->slack_usec));
        else if (st->copy.schedule == GENERIC_SCHEDULE_OPENSMTPD)
                (void) snprintf(sched, sizeof(sched), " (no schedule read: a queue file is not an OpenSMTPD envelope)");
        if (q->backlog == 0)
                (void) snprintf(buf, size, "backlog 0%s", sched);
        else
                (void) snprintf(buf, size, "backlog %u, oldest %s %s%s", q->backlog, q->oldest_id,
                                format_duration(age, sizeof(age), q->oldest_age_usec), sched);
}

static const QueueScanOps generic_scan_ops = {
        .child = generic_scan_child,
        .describe = generic_describe,
};

static int generic_init(Probe *p, const void *settings) {
        GenericState *st = p->state;
        const GenericSettings *s = settings;

        if (!s || !s->queue_directories || !s->queue_directories[0]) {
                log_error("probe %s: generic needs queue_directories", p->name);
                return -EINVAL;
        }
        st->copy = (GenericSettings) {
                .queue_depth = MIN_OF(s->queue_depth, (unsigned) GENERIC_DEPTH_MAX),
                .arrival = s->arrival,
                .schedule = s->schedule,
                .overdue_slack_usec = s->overdue_slack_usec,
        };
        if (strv_copy((const char *const *) s->queue_directories, &st->copy.queue_directories) < 0 ||
            !(st->copy.queue_glob = strdup(s->queue_glob ?: "*")))
                return -ENOMEM;
        (void) snprintf(st->what, sizeof(st->what), "%s%s", s->queue_directories[0],
                        s->queue_directories[1] ? " ..." : "");
        return 0;
}

static int generic_start(Probe *p) {
        GenericState *st = p->state;

        return queue_scan_start(&st->scan, p, &generic_scan_ops, st->what);
}

static void generic_cancel(Probe *p) {
        GenericState *st = p->state;

        queue_scan_cancel(&st->scan);
}

static void generic_done(Probe *p) {
        GenericState *st = p->state;

        generic_cancel(p);
        generic_settings_done(&st->copy);
}

const struct probe_ops probe_generic_ops = {
        .type = "generic",
        .kind = PROBE_KIND_QUEUE,
        .state_size = sizeof(GenericState),
        .init = generic_init,
        .start = generic_start,
        .cancel = generic_cancel,
        .done = generic_done,
};

const MtaProfile mta_profile_generic = {
        .type = "generic",
        .queue_ops = &probe_generic_ops,
        .config_items = generic_mta_items,
        .settings_size = sizeof(GenericSettings),
        .settings_init = generic_settings_init,
        .settings_done = generic_settings_done,
        .settings_finish = generic_settings_finish,
        .activity_source_of = generic_activity_source,
        .syslog_identifiers_of = generic_syslog_identifiers,
        .activity_rules_of = generic_activity_rules,
        .log_file = generic_log_file,
        /* No schedule to read (unless schedule_from): one flush first (it
         * makes a pausing MTA try now; nullmailer's trigger), a restart
         * only when it brought no attempt (README "The generic profile"). */
        .default_actions = "flush restart",
        .conservative = true,
        .hung_start_after = generic_hung_start_after,
        .max_retry_gap = generic_max_retry_gap,
        .reads_schedule = generic_reads_schedule,
};
