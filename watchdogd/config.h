/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf-parser.h"
#include "duration.h"

/* The typed configuration read from the ini file (see etc/mta-watchdog.ini
 * for every key, its default and its unit). All durations are stored in
 * microseconds (suffix _usec); counts are plain unsigned integers. */

typedef enum ActionType {
        ACTION_FLUSH,    /* run the MTA's flush command (argv, no shell) */
        ACTION_RESTART,  /* RestartUnit(unit, "replace") over D-Bus */
        _ACTION_TYPE_MAX,
        _ACTION_TYPE_INVALID = -EINVAL,
} ActionType;

const char *action_type_to_string(ActionType t);
ActionType action_type_from_string(const char *s); /* _ACTION_TYPE_INVALID if unknown */

#define ACTIONS_MAX 8
#define MAX_RESTARTS_LIMIT 64 /* largest accepted max_restarts */

struct probe_ops;
typedef struct MtaProfile MtaProfile;

typedef struct ProbeConfig {
        char *name;               /* NAME of [probe:NAME] */
        char *type;               /* "smtp" (see probes/probe.h registry) */
        const struct probe_ops *ops; /* the type's, once the file is read */
        void *settings;           /* the type's own settings struct (e.g. SmtpSettings in
                                   * probes/smtp.h), filled from the section's other keys */
        uint64_t timeout_usec;    /* one run's deadline, default 5s */
        unsigned line;            /* line of the section header, for messages */
        ConfigPendingList pending;/* while reading: keys of the type, parsed once it is known */
} ProbeConfig;

typedef struct AlertConfig {
        char *name;               /* NAME of [alert:NAME] */
        char *url;                /* http:// or https:// URL receiving POSTs */
        char *format;             /* "json", "slack" or "alertmanager" */
        uint64_t timeout_usec;    /* per request, default 10s */
        char *ca_file;            /* PEM CA bundle for https, NULL: the system's */
        char **headers;           /* "Name: value" strings, NULL-terminated, may be NULL */
        char *secret_file;        /* Standard Webhooks secret, NULL: unsigned */
        uint8_t *secret;          /* the decoded key read from secret_file; never logged */
        size_t secret_size;
        uint64_t retry_initial_usec;    /* first backoff step, default 1s */
        uint64_t retry_max_usec;        /* backoff cap, default 60s */
        uint64_t max_age_usec;          /* give up on an entry this old, default 1h */
        unsigned max_queued;            /* outbox bound per receiver, default 1000 */
        uint64_t resend_interval_usec;  /* alertmanager re-post period, default 1m */
        char *success_body;             /* ERE (regex(7)) a 2xx body must match to count as
                                         * delivered; "": any body; default: the format's
                                         * (slack: SLACK_SUCCESS_BODY, others: "") */
        char *failure_body;             /* ERE that makes a 2xx a failure, retried; NULL: none */
        unsigned rate_limit_requests;   /* at most this many requests per rate_limit_period,
                                         * spaced evenly; 0: no limit; default: the format's
                                         * (slack: 1 per 1s, others: none) */
        uint64_t rate_limit_period_usec;
        bool rate_limit_set;            /* rate_limit given in the file */
        unsigned line;
        unsigned url_line;              /* of url, for messages */
} AlertConfig;

/* Slack's incoming webhooks answer a post they took with the body "ok"
 * (api.slack.com/messaging/webhooks), and take about one post per second
 * per webhook (api.slack.com/apis/rate-limits, "Incoming webhooks"). */
#define SLACK_SUCCESS_BODY "^ok[[:space:]]*$"
#define SLACK_RATE_LIMIT_REQUESTS 1U
#define SLACK_RATE_LIMIT_PERIOD_USEC USEC_PER_SEC

typedef struct Config {
        char *path;                      /* file this was read from */

        /* [watchdog] */
        uint64_t interval_usec;          /* probe round period, default 10s */
        char *state_dir;                 /* default /var/lib/mta-watchdog */
        char *hostname;                  /* host name in alerts, default gethostname() */
        bool dry_run;                    /* decide and alert, never act; default no */
        int log_level;                   /* syslog priority, default LOG_INFO ("info") */
        char *metrics_file;              /* Prometheus textfile written after every round,
                                          * absolute path; NULL (the default): none */

        /* [mta] */
        char *mta_name;                  /* label in alerts and logs, default: the type */
        char *mta_type;                  /* the MTA profile (probes/mta.h): "postfix" */
        const MtaProfile *profile;       /* its profile, once the file is read */
        void *mta_settings;              /* the profile's own settings struct (e.g.
                                          * PostfixSettings in probes/postfix.h), filled from
                                          * its [mta] keys; handed to its queue probe */
        char *unit;                      /* systemd unit to restart; required unless the
                                          * profile has a default */
        char *activity_pattern;          /* ERE with one group: outcome; default built in per type */
        char *error_pattern;             /* ERE with one group: peer; default built in per type */
        uint64_t unknown_alert_after_usec; /* an observation unknown this long raises
                                            * observation.unknown once, default 10m */
        uint64_t outage_alert_after_usec;  /* outage.* alerts only for outages this long, default 1m */
        char **flush_command;            /* argv, NULL-terminated, default "postqueue -f" */
        uint64_t flush_timeout_usec;     /* default 30s */
        unsigned fail_threshold;         /* reachability DOWN after N failures in a row, default 3 */
        unsigned ok_threshold;           /* reachability UP after N successes in a row, default 2 */
        uint64_t restore_grace_usec;     /* reachability UP at least this long before a stall counts, default 5m */
        uint64_t stall_after_usec;       /* no progress this long with backlog => stalled, default 10m */
        unsigned min_backlog;            /* smallest backlog that can be stalled, default 1 */
        ActionType actions[ACTIONS_MAX]; /* remediation ladder, default "restart" (the
                                          * profile's default_actions: generic "flush restart") */
        size_t n_actions;
        bool actions_set;                /* actions given in the file */
        bool flush_after_restart;        /* run flush_command after a restart, default yes */
        uint64_t verify_after_usec;      /* time after a step to look for progress, default 2m */
        uint64_t restart_timeout_usec;   /* a job of the unit pending longer is reported slow
                                          * (action.slow); USEC_INFINITY: "auto" (the default),
                                          * the unit's TimeoutStopUSec + TimeoutStartUSec */
        unsigned max_restarts;           /* restarts allowed per restart_window, default 3 */
        uint64_t restart_window_usec;    /* default 1h */
        uint64_t giveup_holddown_usec;   /* after gave_up, no action for this long unless the
                                          * queue moves, default 1h */
        uint64_t degraded_after_usec;    /* failures a restart cannot fix for this long: delivery.degraded */
        char *pid_file;                  /* the MTA daemon's PID file (liveness, restart
                                          * verification); default the profile's; NULL: none */
        bool pid_file_none;              /* "pid_file = none" given: no PID file, whatever the
                                          * profile says */
        bool flush_on_restore;           /* one flush_command when an outage ends, default no */
        bool kill_hung_deliveries;       /* end deliveries hung past the queue probe's threshold
                                          * (QueueStats.hung), default no */
        char *relay;                     /* "auto" (default: the MTA's own configuration), "none"
                                          * (it delivers to MX hosts itself), or one relay
                                          * HOST[:PORT]; only for the derived probes */
        char *canary_domain;             /* whose MX the derived probes try without a relay,
                                          * default DETECT_DEFAULT_CANARY_DOMAIN */

        /* What was detected and where each value came from (README "Detection"):
         * the MTA for type = auto, its relay, queue and interval. */
        struct Detection *detection;
        bool type_detected;              /* [mta] type was auto */
        bool probes_derived;             /* no [probe:NAME] in the file: probes[] were derived */
        ConfigPendingList mta_given;     /* every [mta] key the file sets, with its line */

        ProbeConfig *probes;             /* [probe:NAME] sections, in file order */
        size_t n_probes;
        AlertConfig *alerts;             /* [alert:NAME] sections, in file order */
        size_t n_alerts;

        ConfigPendingList mta_pending;   /* while reading: the [mta] keys, parsed at the section's end */

        /* Documentation placeholders found while reading (config_advice()):
         * "PATH:LINE: [SECTION] KEY: text" lines, NULL-terminated, may be NULL. */
        char **placeholders;
} Config;

/* Reads and validates FILE. On success *ret owns a new Config.
 * Every error is logged once as "FILE:LINE: [section] key: reason" (a
 * missing required key names the line of its section header; a file that
 * cannot be opened is "FILE: reason").
 * Returns 0, -ENOENT/-EACCES/... when the file cannot be read, -EINVAL
 * for any syntax or validation error, -ENOMEM. Nothing is half-applied:
 * on error *ret is untouched. Every error of the file is logged, not only
 * the first (conf-parser.h). */
int config_load(const char *path, Config **ret);
/* As config_load(); the reading goes on after an error, so that every
 * error of the file is logged, and *RET_N_ERRORS (may be NULL) is their
 * number: 0 on success, at least 1 on failure. --check-config and the
 * daemon's start report "N errors" from it. */
int config_load_counted(const char *path, Config **ret, unsigned *ret_n_errors);

/* What config_load_full() may be told besides the file. */
typedef struct ConfigLoadOptions {
        const char *root;                /* detection reads the host's files under this
                                          * directory (watchdogd/detect.h); NULL: "/" */
        unsigned *n_errors;              /* NULL, or set as config_load_counted() sets it */
} ConfigLoadOptions;

/* config_load() with OPTIONS (may be NULL: as config_load()). */
int config_load_full(const char *path, const ConfigLoadOptions *options, Config **ret);

/* The provenance of the MTA's settings, one "KEY: VALUE (SOURCE)" line
 * each, every line preceded by PREFIX ("" for --detect, "; " above the
 * --check-config dump): mta, unit, queue_directory (Exim:
 * spool_directory), queue_interval, relay, then "probe NAME: TYPE ...".
 * SOURCE is a file (with its line where known), a command, "default", or
 * the configuration file's name and line for a value it sets. */
void config_print_provenance(const Config *c, FILE *f, const char *prefix);

/* One line for the journal at start and reload: "detected postfix
 * (package postfix, unit postfix@-.service, relay 192.0.2.2:25 from
 * /etc/postfix/main.cf:40)", or "postfix (configured, ...)" for a type
 * the file sets. Into BUF (cut to SIZE); returns BUF. */
const char *config_detection_summary(const Config *c, char *buf, size_t size);

Config *config_free(Config *c);

/* Whether two [alert:NAME] sections configure the same delivery (every key,
 * the secret's bytes included), so a reload can keep the running alerter. */
bool alert_config_equal(const AlertConfig *a, const AlertConfig *b);

/* Advice on a configuration that loads but may not do what is meant:
 * one line per finding, "PATH: [mta] KEY: text\n", into BUF (cut to
 * SIZE). --check-config prints it, the daemon logs it at start:
 * a host of the documentation domains (RFC 2606 section 3 and 2:
 * example.com, example.net, example.org and their subdomains, the TLDs
 * .example and .invalid; not .test, which real test networks use) in a
 * probe's host, name or mx_of, an alert's url or [watchdog] hostname,
 * as "PATH:LINE: [SECTION] KEY: ..." (a placeholder left from the example);
 * kill_hung_deliveries for an MTA type without a lock check (only Exim
 * has one: hung deliveries are reported, never killed); for [mta] type =
 * generic without a schedule, stall_after not longer than max_retry_gap
 * (a pause of the MTA between its retries counts as a stall), or
 * max_retry_gap not set; a dns or tcp probe whose resolv.conf (the MTA's,
 * resolv_conf = auto) differs from /etc/resolv.conf ("PATH: [probe:NAME]
 * resolv_conf: ..."). Returns the number of findings. */
size_t config_advice(const Config *c, char *buf, size_t size);

/* Prints the effective settings (all keys, defaults included) in ini form. */
void config_dump(const Config *c, FILE *f);

