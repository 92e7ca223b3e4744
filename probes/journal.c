/* SPDX-License-Identifier: MIT */
/* Delivery activity of the MTA, read from the journal (probe type
 * "journal", PROBE_KIND_ACTIVITY).
 *
 * The probe follows the journal in the background on the event loop and
 * hands every new message of the MTA's unit to the activity feed
 * (probes/activity-feed.h: classified, counted, kept as samples, bare peer
 * names looked up); a run only reports the counters so far, so start()
 * completes at once.
 *
 * Which entries: _SYSTEMD_UNIT=<unit> only, unless the MTA's profile says
 * its lines are found by SYSLOG_IDENTIFIER (JournalSettings). For Postfix: journald attributes a syslog
 * line to the unit of the sending process's cgroup (systemd-journald(8),
 * systemd.journal-fields(7)), and Postfix's delivery agents (smtp, lmtp,
 * local, qmgr, error, bounce) are children of master in
 * postfix@-.service, so their lines carry that unit although
 * SYSLOG_IDENTIFIER is "postfix/smtp". A second match on the identifier
 * is not used: sd-journal matches whole field values only (no prefix),
 * the identifiers depend on syslog_name (multi-instance Postfix logs as
 * "postfix-out/smtp"), and postqueue/postdrop/sendmail run by users log
 * under the same identifiers from other cgroups without delivering
 * anything. The price: a line whose sender exited before journald read
 * it may lack _SYSTEMD_UNIT and is missed; delivery agents live long
 * enough for that to be rare, and a missed line only undercounts.
 *
 * Reading never hogs the loop: at most JOURNAL_BATCH entries per wake-up,
 * the rest from a defer source on the next iteration. The loop wakes on
 * sd_journal_get_fd() (inotify) and on sd_journal_get_timeout()
 * (sd_journal_get_fd(3)).
 *
 * Position: the cursor saved in STATE_DIR/journal.cursor when present and
 * found again (sd_journal_seek_cursor(3), sd_journal_test_cursor(3)),
 * else the tail, so that only lines logged from now on count. The cursor
 * is written (temporary file, fsync, rename) at most once per run. A
 * cursor of a journal that no longer holds it resumes at the entry after
 * where it would be; one of another journal may resume at its head and
 * count old lines once. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "activity-feed.h"
#include "fileio.h"
#include "log.h"
#include "macros.h"
#include "journal.h"
#include "probe.h"
#include "strv.h"

#define JOURNAL_BATCH 1000          /* entries read per loop iteration */
#define JOURNAL_CURSOR_FILE "journal.cursor"
#define JOURNAL_CURSOR_MAX 4096     /* bytes; real cursors are about 150 */

typedef struct JournalState {
        char *unit;
        char **identifiers;         /* match these SYSLOG_IDENTIFIERs instead of the unit; NULL: the unit */
        char *directory;            /* NULL: the local system journal */
        char *state_dir;            /* NULL: the cursor is not kept */
        uint64_t since_usec;        /* without a cursor, start here (CLOCK_REALTIME); 0: the end */
        ActivityFeed feed;          /* counts, samples, peer-name lookups */

        sd_journal *journal;        /* NULL until opened, or after an error */
        sd_event_source *io, *timer, *defer;
        int error;                  /* a read error since the last run, reported by it */

        char *identifier;           /* SYSLOG_IDENTIFIER of the entry being classified */
        char *cursor;               /* after the last entry read; NULL before the first */
        bool cursor_unsaved;
        bool current_is_new;        /* seeking landed on an entry not counted yet */
        bool save_warned;
        char *message;              /* MESSAGE of the entry being classified */
        size_t message_size;
} JournalState;

static void journal_close(JournalState *st) {
        st->io = sd_event_source_disable_unref(st->io);
        st->timer = sd_event_source_disable_unref(st->timer);
        st->defer = sd_event_source_disable_unref(st->defer);
        if (st->journal) {
                sd_journal_close(st->journal);
                st->journal = NULL;
        }
}

/* Reads the saved cursor. Returns 0 and a string, 0 and NULL when there
 * is none, or a negative errno. */
static int journal_cursor_load(const JournalState *st, char **ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t n;
        int r;

        *ret = NULL;
        if (!st->state_dir)
                return 0;
        if (asprintf(&path, "%s/%s", st->state_dir, JOURNAL_CURSOR_FILE) < 0)
                return -ENOMEM;
        r = read_file_bounded(path, JOURNAL_CURSOR_MAX, &buf, &n);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                buf[--n] = '\0';
        if (n > 0)
                *ret = TAKE_PTR(buf);
        return 0;
}

/* Writes CURSOR to STATE_DIR/journal.cursor so that a crash leaves the old
 * or the new one, never a torn file. Returns 0 or a negative errno. */
static int journal_cursor_save(const JournalState *st, const char *cursor) {
        _cleanup_free_ char *line = NULL;

        if (asprintf(&line, "%s\n", cursor) < 0)
                return -ENOMEM;
        return write_file_atomic(st->state_dir, JOURNAL_CURSOR_FILE, line, strlen(line), 0600);
}

/* Positions the journal after CURSOR when it is found, else after the
 * tail. Returns 1 when it stands on the first entry not counted yet (the
 * cursor's own entry is gone), 0 when sd_journal_next() returns that
 * entry, or a negative errno. */
static int journal_seek(Probe *p, const char *cursor) {
        JournalState *st = p->state;
        int r;

        if (cursor) {
                r = sd_journal_seek_cursor(st->journal, cursor);
                if (r < 0)
                        log_warning_errno(r, "probe %s: saved journal cursor is invalid, starting at the end, ignoring: %m",
                                          p->name);
                else {
                        r = sd_journal_next(st->journal);
                        if (r < 0)
                                return r;
                        /* Landed on a later entry: that one is new.
                         * (sd_journal_previous() cannot step back before
                         * it when it is the first.) */
                        return r > 0 && sd_journal_test_cursor(st->journal, cursor) <= 0;
                }
        }

        /* A look back over a given time (mta-watchdogd --once). */
        if (st->since_usec > 0)
                return sd_journal_seek_realtime_usec(st->journal, st->since_usec);

        r = sd_journal_seek_tail(st->journal);
        if (r < 0)
                return r;
        r = sd_journal_previous(st->journal);
        if (r < 0)
                return r;
        /* No entry of the unit yet: all that comes is new. (Left at the
         * tail, sd_journal_next() of systemd 252 would return only the
         * last entry of files that appear later.) */
        if (r == 0)
                return sd_journal_seek_head(st->journal);
        return 0;
}

/* Copies the current entry's MESSAGE into st->message. Returns 1, 0 when
 * the entry has none (or it is unreadable: skipped), or -ENOMEM. */
static int journal_get_message(JournalState *st) {
        const void *data;
        size_t len;
        int r;

        r = sd_journal_get_data(st->journal, "MESSAGE", &data, &len);
        if (r < 0)
                return 0;  /* -ENOENT, or a corrupt entry (-EBADMSG): nothing to count */
        if (len < strlen("MESSAGE="))
                return 0;
        len -= strlen("MESSAGE=");
        if (len + 1 > st->message_size) {
                char *m = realloc(st->message, len + 1);

                if (!m)
                        return -ENOMEM;
                st->message = m;
                st->message_size = len + 1;
        }
        memcpy(st->message, (const char *) data + strlen("MESSAGE="), len);
        st->message[len] = 0;  /* a message with a NUL in it is cut there */
        return 1;
}

/* Whether the current entry may tell of deliveries (1; see
 * activity_identifier_relevant()), only of the MTA's own errors (2;
 * activity_identifier_mta_log()), or nothing (0): incoming SMTP and local
 * submission log text that outside clients choose. */
static int journal_entry_relevant(JournalState *st) {
        const void *data;
        char ident[128];
        size_t len;

        free(st->identifier);
        st->identifier = NULL;
        if (sd_journal_get_data(st->journal, "SYSLOG_IDENTIFIER", &data, &len) < 0 ||
            len < strlen("SYSLOG_IDENTIFIER="))
                return activity_identifier_relevant(&st->feed.patterns, NULL);
        len -= strlen("SYSLOG_IDENTIFIER=");
        if (len >= sizeof(ident))
                return 0;
        memcpy(ident, (const char *) data + strlen("SYSLOG_IDENTIFIER="), len);
        ident[len] = '\0';
        st->identifier = strdup(ident); /* NULL on ENOMEM: the line is kept without it */
        if (activity_identifier_relevant(&st->feed.patterns, ident))
                return 1;
        return activity_identifier_mta_log(&st->feed.patterns, ident) ? 2 : 0;
}

/* Reads and counts up to JOURNAL_BATCH new entries. Returns 1 when more
 * may be waiting, 0 at the end, or a negative errno. */
static int journal_read_batch(Probe *p) {
        JournalState *st = p->state;
        unsigned n;
        int r = 0;

        for (n = 0; n < JOURNAL_BATCH; n++) {
                if (st->current_is_new)
                        st->current_is_new = false;
                else {
                        r = sd_journal_next(st->journal);
                        if (r <= 0)
                                break;
                }
                int relevant = journal_entry_relevant(st);

                if (!relevant)
                        continue;
                r = journal_get_message(st);
                if (r < 0)
                        break;
                if (r == 0)
                        continue;
                activity_feed_note_line(&st->feed, st->identifier, st->message, relevant == 2);
        }

        if (n > 0) {
                char *c = NULL;

                if (sd_journal_get_cursor(st->journal, &c) >= 0) {
                        free(st->cursor);
                        st->cursor = c;
                        st->cursor_unsaved = true;
                }
        }
        if (r < 0)
                return r;
        return n == JOURNAL_BATCH;
}

/* Schedules the next wake-up that sd-journal asks for (CLOCK_MONOTONIC). */
static void journal_arm_timer(Probe *p) {
        JournalState *st = p->state;
        uint64_t t;

        if (sd_journal_get_timeout(st->journal, &t) < 0 || t == UINT64_MAX) {
                (void) sd_event_source_set_enabled(st->timer, SD_EVENT_OFF);
                return;
        }
        if (sd_event_source_set_time(st->timer, t) >= 0)
                (void) sd_event_source_set_enabled(st->timer, SD_EVENT_ONESHOT);
}

/* One step of following: take notice of changed files, read one batch,
 * and come back on the next iteration if more is waiting. A failure
 * closes the journal; the next run reports it and opens it again. */
static void journal_step(Probe *p) {
        JournalState *st = p->state;
        int r;

        if (!st->journal)
                return;
        r = sd_journal_process(st->journal);
        if (r >= 0)
                r = journal_read_batch(p);
        if (r < 0) {
                log_warning_errno(r, "probe %s: cannot read the journal: %m", p->name);
                st->error = r;
                journal_close(st);
                return;
        }
        (void) sd_event_source_set_enabled(st->defer, r > 0 ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
        journal_arm_timer(p);
}

static int journal_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        journal_step(userdata);
        return 0;
}

static int journal_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        journal_step(userdata);
        return 0;
}

static int journal_on_defer(sd_event_source *s, void *userdata) {
        journal_step(userdata);
        return 0;
}

/* Opens the journal, watches it, and seeks. Returns 0 or a negative errno
 * (with nothing left open). */
static int journal_open(Probe *p) {
        JournalState *st = p->state;
        _cleanup_free_ char *match = NULL, *saved = NULL;
        int fd, events, r;

        if (st->directory)
                r = sd_journal_open_directory(&st->journal, st->directory, 0);
        else
                r = sd_journal_open(&st->journal, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
        if (r < 0) {
                st->journal = NULL;
                return r;
        }
        /* sd_journal_get_fd(3): called first, so that no change is missed. */
        fd = sd_journal_get_fd(st->journal);
        if (fd < 0) {
                r = fd;
                goto fail;
        }
        /* Without read access, and on a host without journal files, sd_journal_open()
         * succeeds with no files: reported as -EACCES, "no journal files found or readable". */
        if (!st->directory && sd_journal_has_runtime_files(st->journal) <= 0 &&
            sd_journal_has_persistent_files(st->journal) <= 0) {
                r = -EACCES;
                goto fail;
        }

        /* Matches on one field are ORed (sd_journal_add_match(3)). */
        for (size_t i = 0; st->identifiers ? st->identifiers[i] != NULL : i == 0; i++) {
                free(match);
                if (asprintf(&match, "%s=%s", st->identifiers ? "SYSLOG_IDENTIFIER" : "_SYSTEMD_UNIT",
                             st->identifiers ? st->identifiers[i] : st->unit) < 0) {
                        match = NULL;
                        r = -ENOMEM;
                        goto fail;
                }
                r = sd_journal_add_match(st->journal, match, 0);
                if (r < 0)
                        goto fail;
        }

        events = sd_journal_get_events(st->journal);
        if (events < 0) {
                r = events;
                goto fail;
        }
        r = sd_event_add_io(p->event, &st->io, fd, (uint32_t) events, journal_on_io, p);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(st->io, "probe-journal-io");
        r = sd_event_add_time(p->event, &st->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, journal_on_timer, p);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_enabled(st->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(st->timer, "probe-journal-timeout");
        r = activity_feed_add_defer(p, &st->defer, journal_on_defer, "probe-journal-batch");
        if (r < 0)
                goto fail;

        /* After a read error the position in memory is the freshest. */
        if (!st->cursor) {
                r = journal_cursor_load(st, &saved);
                if (r < 0)
                        log_warning_errno(r, "probe %s: cannot read %s/%s, starting at the end, ignoring: %m",
                                          p->name, st->state_dir, JOURNAL_CURSOR_FILE);
        }
        r = journal_seek(p, st->cursor ? st->cursor : saved);
        if (r < 0)
                goto fail;
        st->current_is_new = r > 0;
        return 0;

fail:
        journal_close(st);
        return r;
}

/* Completes the run as UNKNOWN with the read error since the last run. */
static int journal_report_error(Probe *p) {
        JournalState *st = p->state;
        int r = st->error;

        st->error = 0;
        probe_complete(p, PROBE_UNKNOWN, probe_outcome_from_errno(r), NULL, "journal: cannot read: %s",
                       strerror(-r));
        return 0;
}

static int journal_start(Probe *p) {
        JournalState *st = p->state;
        ProbeResult res = { .status = PROBE_OK };
        int r;

        if (st->error < 0)
                return journal_report_error(p);

        if (!st->journal) {
                r = journal_open(p);
                if (r < 0) {
                        if (r == -EACCES && !st->directory)
                                probe_complete(p, PROBE_UNKNOWN, probe_outcome_from_errno(r), NULL,
                                               "journal: cannot open: no journal files found or readable "
                                               "(the daemon's user needs the systemd-journal group)");
                        else
                                probe_complete(p, PROBE_UNKNOWN, probe_outcome_from_errno(r), NULL,
                                               "journal: cannot open: %s", strerror(-r));
                        return 0;
                }
        }

        /* Count what was logged up to now (one batch at most). */
        journal_step(p);
        if (st->error < 0)
                return journal_report_error(p);

        if (st->state_dir && st->cursor && st->cursor_unsaved) {
                r = journal_cursor_save(st, st->cursor);
                if (r < 0) {
                        if (!st->save_warned)
                                log_warning_errno(r, "probe %s: cannot save the journal cursor in %s, ignoring: %m",
                                                  p->name, st->state_dir);
                        st->save_warned = true;
                } else {
                        st->cursor_unsaved = false;
                        st->save_warned = false;
                }
        }

        (void) activity_feed_result(&st->feed, &res);
        probe_complete_result(p, &res);
        return 0;
}

static void journal_done(Probe *p) {
        JournalState *st = p->state;
        int r;

        /* What was read since the last run is not counted again by the
         * next instance (the daemon's restart). */
        if (st->state_dir && st->cursor && st->cursor_unsaved) {
                r = journal_cursor_save(st, st->cursor);
                if (r < 0)
                        log_debug_errno(r, "probe %s: cannot save the journal cursor in %s, ignoring: %m",
                                        p->name, st->state_dir);
        }
        journal_close(st);
        activity_feed_done(&st->feed);
        free(st->identifier);
        free(st->unit);
        strv_free(st->identifiers);
        free(st->directory);
        free(st->state_dir);
        free(st->cursor);
        free(st->message);
}

static int journal_init(Probe *p, const void *settings) {
        const JournalSettings *s = settings;
        JournalState *st = p->state;
        int r;

        if (!s || !s->unit || !s->unit[0]) {
                log_error("probe %s: journal needs the MTA's unit", p->name);
                return -EINVAL;
        }
        if (s->syslog_identifiers && !s->syslog_identifiers[0]) {
                log_error("probe %s: journal: an empty list of syslog identifiers matches nothing", p->name);
                return -EINVAL;
        }
        r = activity_feed_init(&st->feed, p, s->rules, s->activity_pattern, s->error_pattern, s->probed_hosts);
        if (r < 0)
                return r;

        st->unit = strdup(s->unit);
        if (!st->unit)
                return -ENOMEM;
        if (s->syslog_identifiers && strv_copy(s->syslog_identifiers, &st->identifiers) < 0)
                return -ENOMEM;
        st->since_usec = s->since_usec;
        if (s->journal_directory) {
                st->directory = strdup(s->journal_directory);
                if (!st->directory)
                        return -ENOMEM;
        }
        if (s->state_dir) {
                st->state_dir = strdup(s->state_dir);
                if (!st->state_dir)
                        return -ENOMEM;
        }
        return 0;
}

const struct probe_ops probe_journal_ops = {
        .type = "journal",
        .kind = PROBE_KIND_ACTIVITY,
        .state_size = sizeof(JournalState),
        .init = journal_init,
        .start = journal_start,
        .done = journal_done,
};
