/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "activity.h"
#include "probe.h"

/* One MTA profile per [mta] type: all that the daemon knows of that MTA
 * (in the spirit of keepalived's per-checker function tables). Each MTA's
 * probe file exports its profile (probes/postfix.c: mta_profile_postfix);
 * probes/mta.c lists them. The manager builds the MTA's probes from it,
 * and the configuration applies its defaults once the file is read and
 * the type is known. See README "Adding an MTA". */

/* Where the MTA's delivery lines are read. */
typedef enum ActivitySource {
        ACTIVITY_SOURCE_JOURNAL_UNIT,        /* the journal, entries of the unit (_SYSTEMD_UNIT=) */
        ACTIVITY_SOURCE_JOURNAL_IDENTIFIER,  /* the journal, entries by SYSLOG_IDENTIFIER= */
        ACTIVITY_SOURCE_LOGFILE,             /* a plain log file (probes/logfile.c), the path from
                                              * log_file(); where that returns NULL (the MTA logs
                                              * to syslog), the journal by SYSLOG_IDENTIFIER= */
} ActivitySource;

typedef struct MtaProfile MtaProfile;

struct MtaProfile {
        const char *type;                    /* [mta] type = */

        /* The queue probe, and the type's own [mta] keys: a struct of
         * settings_size bytes with settings_init()'s defaults, filled by
         * config_items (NULL-key terminated), handed to the queue probe as
         * its settings, its allocations freed by settings_done(). */
        const struct probe_ops *queue_ops;
        const ConfigItem *config_items;
        size_t settings_size;
        void (*settings_init)(void *settings);
        void (*settings_done)(void *settings);
        /* Called once the type's keys are parsed: fills in the defaults
         * that depend on the host (Exim: the spool and log paths its
         * binary reports, probes/exim.c), quickly (a bounded wait at
         * most). Returns 0, -ENOMEM, or -EINVAL with ERROR saying which
         * key to set. NULL: nothing to do. */
        int (*settings_finish)(void *settings, char *error, size_t error_size);

        /* Activity: where the delivery lines are, and how they read. */
        ActivitySource activity_source;
        const char *const *syslog_identifiers;   /* for ACTIVITY_SOURCE_JOURNAL_IDENTIFIER */
        const ActivityRules *activity_rules;     /* built-in patterns and classifier */
        /* ACTIVITY_SOURCE_LOGFILE: the absolute path of the log file to
         * follow, from the type's SETTINGS (Exim: log_file_path with "%s"
         * → "main"), or NULL when the MTA logs to syslog. */
        const char *(*log_file)(const void *settings);

        /* Liveness: the unit's state, and the daemon's PID file where its
         * unit has no MainPID (sysv-generated units); NULL: the unit alone. */
        const char *pid_file;
        /* The executable the PID file's process must be (Exim:
         * "/usr/sbin/exim4", compared with /proc/PID/exe), so that a PID
         * reused by another program does not pass for the daemon; NULL: any. */
        const char *daemon_exe;
        /* kill_hung_deliveries: the process that holds the lock of message
         * ID now (Exim: F_GETLK on its -D file, fcntl(2)), for the check
         * before each signal. Runs in a child (it may block on the spool).
         * Returns 1 and the PID in *RET, 0 when no process holds it, or a
         * negative errno. SETTINGS: the type's. NULL: hung deliveries are
         * reported only. */
        int (*lock_holder)(const void *settings, const char *id, uint32_t *ret);

        /* The MTA's own view of name resolution where it differs from the
         * system's (a chrooted Postfix reads copies of resolv.conf and
         * hosts under its queue directory): writes a one-line description
         * of the difference to BUF and returns 1, returns 0 when they are
         * the same (or the MTA has no view of its own: NULL), or a
         * negative errno when a file cannot be read. SETTINGS: the type's. */
        int (*resolver_view)(const void *settings, char *buf, size_t size);
        /* The resolv.conf(5) the MTA's delivery agent resolves names
         * through, for the dns and tcp probes' resolv_conf = auto
         * (probes/dns-client.h): writes its absolute path to BUF and
         * returns 1 when it is not /etc/resolv.conf (Postfix: smtp(8)
         * chrooted in master.cf reads QUEUE_DIRECTORY/etc/resolv.conf),
         * returns 0 when it is the system's (or NULL: always), or a
         * negative errno. SETTINGS: the type's, finished. */
        int (*resolv_conf)(const void *settings, char *buf, size_t size);

        /* Defaults of common [mta] keys. */
        const char *default_unit;            /* NULL: [mta] unit is required */
        const char *default_flush_command;   /* flush_command, split on blanks; NULL: none */
        const char *default_actions;         /* actions, split on blanks; NULL: "restart" */

        /* A type whose activity source and log rules come from its own
         * [mta] keys (the generic profile, probes/generic.c) answers
         * these from SETTINGS (its settings struct, finished); NULL: the
         * fields activity_source, syslog_identifiers and activity_rules
         * above. Use mta_activity_source() and the like below. */
        ActivitySource (*activity_source_of)(const void *settings);
        const char *const *(*syslog_identifiers_of)(const void *settings);
        const ActivityRules *(*activity_rules_of)(const void *settings);

        /* The rule without a schedule (README "The generic profile"): the
         * queue probe reads no schedule, so a stall also needs the oldest
         * message to be older than stall_after, and a delivery that is
         * open (started, no outcome yet) is no stall until it is hung. */
        bool conservative;
        /* How long a started delivery may go without an outcome line
         * before the sender counts as wedged (a stall that goes straight
         * to the ladder's restart), microseconds, from SETTINGS; 0 or
         * NULL: never. */
        uint64_t (*hung_start_after)(const void *settings);
        /* The MTA's longest legitimate gap between delivery attempts while
         * mail waits (nullmailer: maxpause), microseconds, from SETTINGS:
         * --check-config warns when stall_after is not longer. 0 or NULL:
         * not known. */
        uint64_t (*max_retry_gap)(const void *settings);
        /* Whether the queue probe reads the MTA's schedule with SETTINGS
         * (the generic profile's schedule_from): then a pause with nothing
         * overdue is no stall, and --check-config gives no max_retry_gap
         * advice. NULL: max_retry_gap's advice applies. */
        bool (*reads_schedule)(const void *settings);
};

/* The profile of TYPE ("postfix"), or NULL. */
const MtaProfile *mta_profile_find(const char *type);

/* PROF's activity source, syslog identifiers (NULL-terminated, or NULL)
 * and log rules (or NULL) for its finished SETTINGS: the hooks' answers
 * where the profile has them, else its fields. */
ActivitySource mta_activity_source(const MtaProfile *prof, const void *settings);
const char *const *mta_syslog_identifiers(const MtaProfile *prof, const void *settings);
const ActivityRules *mta_activity_rules(const MtaProfile *prof, const void *settings);

/* The registered profiles, NULL-terminated. */
extern const MtaProfile *const mta_profiles[];
