/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "macros.h"
#include "mta.h"
#include "probe.h"
#include "regex-util.h"
#include "sign.h"
#include "strv.h"

/* The daemon's own keys: [watchdog], the common [mta] keys, [probe:NAME]
 * type and timeout, [alert:NAME]. The keys of an MTA type come from its
 * profile (probes/mta.h), those of a probe type from its probe_ops, both
 * parsed once the file is read and the type is known. Defaults that
 * depend on the type (name, flush command, log patterns, unit) are
 * applied then, too. */

#define DEFAULT_INTERVAL_USEC          (10 * USEC_PER_SEC)
#define DEFAULT_STATE_DIR              "/var/lib/mta-watchdog"
#define DEFAULT_MTA_TYPE               "postfix"
#define DEFAULT_UNKNOWN_ALERT_AFTER_USEC (10 * USEC_PER_MINUTE)
#define DEFAULT_OUTAGE_ALERT_AFTER_USEC USEC_PER_MINUTE
#define DEFAULT_FLUSH_TIMEOUT_USEC     (30 * USEC_PER_SEC)
#define DEFAULT_FAIL_THRESHOLD         3U
#define DEFAULT_OK_THRESHOLD           2U
#define DEFAULT_RESTORE_GRACE_USEC     (5 * USEC_PER_MINUTE)
#define DEFAULT_STALL_AFTER_USEC       (10 * USEC_PER_MINUTE)
#define DEFAULT_MIN_BACKLOG            1U
#define DEFAULT_VERIFY_AFTER_USEC      (2 * USEC_PER_MINUTE)
#define DEFAULT_RESTART_TIMEOUT_USEC   USEC_INFINITY   /* auto: from the unit (watchdogd/systemd.h) */
#define DEFAULT_MAX_RESTARTS           3U
#define DEFAULT_RESTART_WINDOW_USEC    USEC_PER_HOUR
#define DEFAULT_DEGRADED_AFTER_USEC    (10 * USEC_PER_MINUTE)
#define DEFAULT_PROBE_TIMEOUT_USEC     (5 * USEC_PER_SEC)
#define DEFAULT_ALERT_FORMAT           "json"
#define DEFAULT_ALERT_TIMEOUT_USEC     (10 * USEC_PER_SEC)
#define DEFAULT_RETRY_INITIAL_USEC     (1 * USEC_PER_SEC)
#define DEFAULT_RETRY_MAX_USEC         (60 * USEC_PER_SEC)
#define DEFAULT_MAX_AGE_USEC           USEC_PER_HOUR
#define DEFAULT_MAX_QUEUED             1000U
#define DEFAULT_RESEND_INTERVAL_USEC   USEC_PER_MINUTE
#define RATE_LIMIT_REQUESTS_MAX        10000U

/* Bounds of the type lists offered in messages. */
#define ELEMENTSOF_PROFILES_MAX        16
#define ELEMENTSOF_PROBE_TYPES_MAX     16

static const char *const action_type_table[_ACTION_TYPE_MAX] = {
        [ACTION_FLUSH]   = "flush",
        [ACTION_RESTART] = "restart",
};

const char *action_type_to_string(ActionType t) {
        if (t < 0 || t >= _ACTION_TYPE_MAX)
                return NULL;
        return action_type_table[t];
}

ActionType action_type_from_string(const char *s) {
        if (!s)
                return _ACTION_TYPE_INVALID;
        for (size_t i = 0; i < ELEMENTSOF(action_type_table); i++)
                if (strcmp(action_type_table[i], s) == 0)
                        return (ActionType) i;
        return _ACTION_TYPE_INVALID;
}

static const struct {
        const char *name;
        int level;
} log_level_table[] = {
        { "debug",   LOG_DEBUG   },
        { "info",    LOG_INFO    },
        { "notice",  LOG_NOTICE  },
        { "warning", LOG_WARNING },
        { "error",   LOG_ERR     },
};

static const char *const alert_formats[] = { "json", "slack", "alertmanager", NULL };

/* Parsers of this file's own types */

/* Empty means off; else an absolute path to a file, not a directory. */
static int config_parse_metrics_file(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        char **s = data;

        if (*value == '\0') {
                free(*s);
                *s = NULL;
                return 0;
        }
        if (value[0] == '/' && value[strlen(value) - 1] == '/')
                return config_error(ctx, ctx->line, item->key, "\"%s\" names a directory, not a file", value);
        return config_parse_path(ctx, item, value, data);
}

static int config_parse_mta_type(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        const char *types[ELEMENTSOF_PROFILES_MAX + 1] = {};
        size_t n = 0;

        for (; n < ELEMENTSOF_PROFILES_MAX && mta_profiles[n]; n++)
                types[n] = mta_profiles[n]->type;
        return config_parse_choice(ctx, item, value, data, types);
}

static int config_parse_probe_type(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        const char *types[ELEMENTSOF_PROBE_TYPES_MAX + 1] = {};
        size_t n = 0;

        /* Only reachability probes are configured by the admin. */
        for (size_t i = 0; probe_ops_table[i] && n < ELEMENTSOF_PROBE_TYPES_MAX; i++)
                if (probe_ops_table[i]->kind == PROBE_KIND_REACHABILITY)
                        types[n++] = probe_ops_table[i]->type;
        return config_parse_choice(ctx, item, value, data, types);
}

static int config_parse_alert_format(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        return config_parse_choice(ctx, item, value, data, alert_formats);
}

/* "Name: value" for one more request header. The name is an RFC 9110 token;
 * CR and LF are refused so a value cannot smuggle further headers. */
static int config_parse_header(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        static const char tchar[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
        char ***l = data, *line;
        size_t name_len = strspn(value, tchar);
        const char *v;

        if (name_len == 0 || value[name_len] != ':')
                return config_error(ctx, ctx->line, item->key, "expected \"Name: value\"");
        if (string_has_cc(value))
                return config_error(ctx, ctx->line, item->key, "control character in value");
        v = value + name_len + 1;
        v += strspn(v, " \t");
        if (*v == '\0')
                return config_error(ctx, ctx->line, item->key, "empty header value");
        if (strncasecmp(value, "webhook-", 8) == 0 || (name_len == 4 && strncasecmp(value, "host", 4) == 0) ||
            (name_len == 14 && strncasecmp(value, "content-length", 14) == 0))
                return config_error(ctx, ctx->line, item->key, "header \"%.*s\" is set by the daemon",
                                    (int) name_len, value);

        if (asprintf(&line, "%.*s: %s", (int) name_len, value, v) < 0)
                line = NULL;
        if (strv_push(l, line) < 0)
                return config_oom(ctx);
        return 0;
}

/* Header values often carry credentials: only names are shown. */
static void config_print_header(FILE *f, const char *key, const void *data) {
        char *const *l = *(char **const *) data;

        for (size_t i = 0; l && l[i]; i++)
                fprintf(f, "%s = %.*s: (value hidden)\n", key, (int) strcspn(l[i], ":"), l[i]);
}

/* A CA bundle that is missing would only show as "certificate not trusted"
 * on every delivery; it is a configuration error. */
/* For "permission denied" on a file the daemon must read: who it runs as (the
 * shipped unit: user mta-watchdog), so that the admin knows whom to give access. */
static const char *config_reader_hint(char *buf, size_t size) {
        const struct passwd *pw = getpwuid(geteuid());

        if (pw)
                (void) snprintf(buf, size, " (mta-watchdogd runs as user %s: make the file readable for it, "
                                "e.g. chgrp %s FILE; chmod g+r FILE)", pw->pw_name, pw->pw_name);
        else
                (void) snprintf(buf, size, " (mta-watchdogd runs as uid %u)", (unsigned) geteuid());
        return buf;
}

static int config_parse_ca_file(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        char hint[256] = "";

        if (value[0] == '/' && access(value, R_OK) < 0) {
                int e = errno;

                return config_error(ctx, ctx->line, item->key, "%s: %s%s", value, strerror(e),
                                    e == EACCES ? config_reader_hint(hint, sizeof(hint)) : "");
        }
        return config_parse_path(ctx, item, value, data);
}

static int config_parse_secret_file(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        AlertConfig *a = data;
        uint8_t *key = NULL;
        size_t size = 0;
        int r;

        if (value[0] != '/')
                return config_error(ctx, ctx->line, item->key, "\"%s\" is not an absolute path", value);

        r = webhook_secret_read_file(value, &key, &size);
        if (r == -ENOMEM)
                return config_oom(ctx);
        if (r == -EPERM)
                return config_error(ctx, ctx->line, item->key,
                                    "%s is accessible by others, refusing to use it (chmod o-rwx)", value);
        if (r == -EBADMSG)
                return config_error(ctx, ctx->line, item->key,
                                    "%s does not hold a secret of the form whsec_<base64>", value);
        if (r == -EFBIG)
                return config_error(ctx, ctx->line, item->key, "%s is too large for a secret", value);
        if (r == -EINVAL)
                return config_error(ctx, ctx->line, item->key, "%s is not a regular file", value);
        if (r < 0) {
                char hint[256] = "";

                return config_error(ctx, ctx->line, item->key, "cannot read %s: %s%s", value, strerror(-r),
                                    r == -EACCES ? config_reader_hint(hint, sizeof(hint)) : "");
        }

        if (a->secret)
                explicit_bzero(a->secret, a->secret_size);
        free(a->secret);
        a->secret = key;
        a->secret_size = size;
        return config_parse_string(ctx, item, value, &a->secret_file);
}

static bool config_print_secret_file(FILE *f, const void *data) {
        const AlertConfig *a = data;

        if (!a->secret_file)
                return false;
        fputs(a->secret_file, f);
        return true;
}

/* success_body, failure_body: a POSIX ERE (regex(7)) searched in the body of
 * a 2xx answer; groups are not needed. Empty is kept as "" (no rule, which
 * overrides the format's default). */
static int config_parse_body_pattern(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        char **s = data;
        regex_t re;
        int k;

        if (*value == '\0') {
                char *t = strdup("");

                if (!t)
                        return config_oom(ctx);
                free(*s);
                *s = t;
                return 0;
        }
        if (regex_estimate_parts(value) > REGEX_PARTS_MAX)
                return config_error(ctx, ctx->line, item->key,
                                    "the regular expression is too complex (repetitions such as + and {m,n} "
                                    "multiply it to more than %u parts)", REGEX_PARTS_MAX);
        k = regcomp(&re, value, REG_EXTENDED | REG_NOSUB);
        if (k != 0) {
                char err[128];

                (void) regerror(k, &re, err, sizeof err);
                return config_error(ctx, ctx->line, item->key, "bad regular expression: %s", err);
        }
        regfree(&re);
        return config_parse_string(ctx, item, value, data);
}

/* rate_limit: "N/DURATION" (at most N requests per DURATION, spaced evenly) or
 * "none". Gets the whole AlertConfig. */
static int config_parse_rate_limit(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        AlertConfig *a = data;
        const char *p = value;
        uint64_t n, period;
        int r;

        if (strcmp(value, "none") == 0) {
                a->rate_limit_requests = 0;
                a->rate_limit_period_usec = 0;
                a->rate_limit_set = true;
                return 0;
        }

        r = parse_uint64(&p, &n);
        if (r < 0 || *p != '/')
                return config_error(ctx, ctx->line, item->key,
                                    "\"%s\" is not N/DURATION (e.g. 1/1s, 30/1m) or none", value);
        if (n < 1 || n > RATE_LIMIT_REQUESTS_MAX)
                return config_error(ctx, ctx->line, item->key, "%" PRIu64 " requests is out of range (1..%u)",
                                    n, RATE_LIMIT_REQUESTS_MAX);
        r = config_parse_duration(ctx, item, p + 1, &period);
        if (r < 0)
                return r;
        if (period / n < USEC_PER_MSEC)
                return config_error(ctx, ctx->line, item->key,
                                    "\"%s\" allows more than one request per millisecond", value);

        a->rate_limit_requests = (unsigned) n;
        a->rate_limit_period_usec = period;
        a->rate_limit_set = true;
        return 0;
}

static bool config_print_rate_limit(FILE *f, const void *data) {
        const AlertConfig *a = data;
        char buf[FORMAT_DURATION_MAX];
        const char *d;

        if (a->rate_limit_requests == 0) {
                fputs("none", f);
                return true;
        }
        d = format_duration(buf, sizeof buf, a->rate_limit_period_usec);
        fprintf(f, "%u/%s", a->rate_limit_requests, d ? d : "?");
        return true;
}

static int config_parse_unit(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        static const char suffix[] = ".service";
        size_t len = strlen(value);

        /* Characters systemd allows in unit names; RestartUnit() wants the full name. */
        if (len <= strlen(suffix) || len > 255 ||
            strcmp(value + len - strlen(suffix), suffix) != 0 ||
            value[strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@")] != '\0')
                return config_error(ctx, ctx->line, item->key,
                                    "\"%s\" is not a service unit name (e.g. postfix@-.service)", value);
        return config_parse_string(ctx, item, value, data);
}

/* Placeholders: the names RFC 2606 reserves for documentation. */

/* Whether HOST (a name, any case, maybe with a final dot) is example.com,
 * example.net, example.org or below one of them, or in the TLD .example
 * or .invalid (RFC 2606 sections 2 and 3; RFC 6761 6.4 for .invalid).
 * .test is left alone: real test networks use it. */
static bool host_is_placeholder(const char *host, size_t len) {
        static const char *const names[] = { "example.com", "example.net", "example.org", NULL };
        static const char *const tlds[] = { "example", "invalid", NULL };
        char h[256];

        if (len > 0 && host[len - 1] == '.')
                len--;
        if (len == 0 || len >= sizeof h)
                return false;
        for (size_t i = 0; i < len; i++)
                h[i] = (char) tolower((unsigned char) host[i]);
        h[len] = '\0';

        for (const char *const *n = names; *n; n++) {
                size_t l = strlen(*n);

                if (strcmp(h, *n) == 0 || (len > l && h[len - l - 1] == '.' && strcmp(h + len - l, *n) == 0))
                        return true;
        }
        for (const char *const *t = tlds; *t; t++) {
                size_t l = strlen(*t);

                if (strcmp(h, *t) == 0 || (len > l && h[len - l - 1] == '.' && strcmp(h + len - l, *t) == 0))
                        return true;
        }
        return false;
}

/* The host of an http:// or https:// URL: after the scheme and any
 * "user@", up to a port, path, query or fragment; an IP literal in
 * brackets is no name. */
static bool url_is_placeholder(const char *url) {
        const char *p = strstr(url, "://"), *at;
        size_t n;

        if (!p)
                return false;
        p += 3;
        n = strcspn(p, "/?#");
        at = memchr(p, '@', n);
        if (at) {
                n -= (size_t) (at + 1 - p);
                p = at + 1;
        }
        if (*p == '[')
                return false;
        return host_is_placeholder(p, strcspn(p, ":/?#"));
}

/* Adds "PATH:LINE: [SECTION] KEY: VALUE is ..." to c->placeholders when
 * VALUE (a host name, or a URL if IS_URL) is in a documentation domain. */
static int config_note_placeholder(ConfigContext *ctx, Config *c, unsigned line, const char *key,
                                   const char *value, bool is_url, const char *what) {
        char *t = NULL;

        if (!value || !(is_url ? url_is_placeholder(value) : host_is_placeholder(value, strlen(value))))
                return 0;
        if (asprintf(&t, "%s:%u: [%s] %s: %s is in a domain reserved for documentation (RFC 2606), "
                     "a placeholder: %s", ctx->path, line, ctx->section ? ctx->section : "?", key, value,
                     what) < 0)
                return config_oom(ctx);
        if (strv_push(&c->placeholders, t) < 0)
                return config_oom(ctx);
        return 0;
}

static int config_parse_url(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        const char *rest = NULL;

        if (strncasecmp(value, "http://", 7) == 0)
                rest = value + 7;
        else if (strncasecmp(value, "https://", 8) == 0)
                rest = value + 8;

        if (!rest || *rest == '\0' || *rest == '/')
                return config_error(ctx, ctx->line, item->key, "\"%s\" is not an http:// or https:// URL", value);
        return config_parse_word(ctx, item, value, data);
}

static int config_parse_hostname(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        Config *c = data;
        int r;

        r = config_parse_word(ctx, item, value, &c->hostname);
        if (r < 0)
                return r;
        return config_note_placeholder(ctx, c, ctx->line, item->key, value, false,
                                       "alerts name the host so; remove the key for the system's host name");
}

static bool config_print_hostname(FILE *f, const void *data) {
        return config_print_string(f, &((const Config *) data)->hostname);
}

static int config_parse_alert_url(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        AlertConfig *a = data;
        int r;

        r = config_parse_url(ctx, item, value, &a->url);
        if (r < 0)
                return r;
        a->url_line = ctx->line;
        return 0;
}

static bool config_print_alert_url(FILE *f, const void *data) {
        return config_print_string(f, &((const AlertConfig *) data)->url);
}

/* The detector remembers each restart of the window (DETECTOR_RESTARTS_MAX). */
static int config_parse_restart_count(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        unsigned long long v;
        int r;

        r = config_parse_number(ctx, item, value, MAX_RESTARTS_LIMIT, &v);
        if (r < 0)
                return r;
        *(unsigned *) data = (unsigned) v;
        return 0;
}

static int config_parse_log_level(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        for (size_t i = 0; i < ELEMENTSOF(log_level_table); i++)
                if (strcmp(log_level_table[i].name, value) == 0) {
                        *(int *) data = log_level_table[i].level;
                        return 0;
                }
        return config_error(ctx, ctx->line, item->key,
                            "unknown log level \"%s\" (debug, info, notice, warning, error)", value);
}

static bool config_print_log_level(FILE *f, const void *data) {
        int level = *(const int *) data;

        for (size_t i = 0; i < ELEMENTSOF(log_level_table); i++)
                if (log_level_table[i].level == level) {
                        fputs(log_level_table[i].name, f);
                        return true;
                }
        fprintf(f, "%d", level);
        return true;
}

static int config_parse_actions(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        _cleanup_(strv_freep) char **l = NULL;
        ActionType actions[ACTIONS_MAX];
        Config *c = data;
        size_t n = 0;

        if (strv_split(value, &l) < 0)
                return config_oom(ctx);
        if (!l[0])
                return config_error(ctx, ctx->line, item->key, "empty list (flush, restart)");

        for (char **w = l; *w; w++) {
                ActionType t = action_type_from_string(*w);

                if (t < 0)
                        return config_error(ctx, ctx->line, item->key,
                                            "unknown action \"%s\" (flush, restart)", *w);
                if (n >= ACTIONS_MAX)
                        return config_error(ctx, ctx->line, item->key,
                                            "more than %d actions", ACTIONS_MAX);
                actions[n++] = t;
        }

        memcpy(c->actions, actions, n * sizeof(ActionType));
        c->n_actions = n;
        c->actions_set = true;
        return 0;
}

/* An absolute path, or "none": the profile's PID file is not used. */
static int config_parse_pid_file(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        Config *c = data;
        int r;

        if (strcmp(value, "none") == 0) {
                free(c->pid_file);
                c->pid_file = NULL;
                c->pid_file_none = true;
                return 0;
        }
        r = config_parse_path(ctx, item, value, &c->pid_file);
        if (r < 0)
                return r;
        c->pid_file_none = false;
        return 0;
}

static bool config_print_pid_file(FILE *f, const void *data) {
        const Config *c = data;

        fputs(c->pid_file ? c->pid_file : "none", f);
        return true;
}

static bool config_print_actions(FILE *f, const void *data) {
        const Config *c = data;

        for (size_t i = 0; i < c->n_actions; i++)
                fprintf(f, "%s%s", i > 0 ? " " : "", action_type_to_string(c->actions[i]));
        return true;
}


/* CONFIG_ITEM() for each section's struct (spelled out: "bool" is a macro
 * and would be expanded if passed on). */
#define W(key, parse, print, field, min) \
        { key, config_parse_##parse, config_print_##print, offsetof(Config, field), min, false, NULL }
#define P(key, parse, print, field, min) \
        { key, config_parse_##parse, config_print_##print, offsetof(ProbeConfig, field), min, false, NULL }
#define A(key, parse, print, field, min) \
        { key, config_parse_##parse, config_print_##print, offsetof(AlertConfig, field), min, false, NULL }

/* Keys of each section, in the order config_dump() prints them. */
static const ConfigItem watchdog_items[] = {
        W("interval",            duration,    duration,  interval_usec,        1),
        W("state_dir",           path,        string,    state_dir,            0),
        /* Notes a placeholder: gets the whole Config. */
        { "hostname", config_parse_hostname, config_print_hostname, 0, 0, false, NULL },
        W("dry_run",             bool,        bool,      dry_run,              0),
        W("log_level",           log_level,   log_level, log_level,            0),
        W("metrics_file",        metrics_file, string,   metrics_file,         0),
        {},
};

/* [mta]: these, then the keys of the type (its profile's), then the rest. */
static const ConfigItem mta_head_items[] = {
        W("name",                word,        string,    mta_name,             0),
        W("type",                mta_type,    string,    mta_type,             0),
        W("unit",                unit,        string,    unit,                 0),
        {},
};

static const ConfigItem mta_tail_items[] = {
        W("activity_pattern",    regex,       string,    activity_pattern,     0),
        W("error_pattern",       regex,       string,    error_pattern,        0),
        W("unknown_alert_after", duration,    duration,  unknown_alert_after_usec, 1),
        W("outage_alert_after",  duration,    duration,  outage_alert_after_usec,  0),
        W("flush_command",       argv,        argv,      flush_command,        0),
        W("flush_timeout",       duration,    duration,  flush_timeout_usec,   1),
        W("fail_threshold",      unsigned,    unsigned,  fail_threshold,       1),
        W("ok_threshold",        unsigned,    unsigned,  ok_threshold,         1),
        W("restore_grace",       duration,    duration,  restore_grace_usec,   0),
        W("stall_after",         duration,    duration,  stall_after_usec,     1),
        W("min_backlog",         unsigned,    unsigned,  min_backlog,          1),
        /* Sets actions and n_actions: gets the whole Config. */
        { "actions", config_parse_actions, config_print_actions, 0, 0, false, NULL },
        W("flush_after_restart", bool,        bool,      flush_after_restart,  0),
        W("verify_after",        duration,    duration,  verify_after_usec,    1),
        W("restart_timeout",     duration_auto, duration_auto, restart_timeout_usec, 1),
        W("max_restarts",        restart_count, unsigned, max_restarts,        0),
        W("restart_window",      duration,    duration,  restart_window_usec,  1),
        W("giveup_holddown",     duration,    duration,  giveup_holddown_usec, 1),
        W("degraded_after",      duration,    duration,  degraded_after_usec,  1),
        /* Sets pid_file and pid_file_none: gets the whole Config. */
        { "pid_file", config_parse_pid_file, config_print_pid_file, 0, 0, false, NULL },
        W("flush_on_restore",    bool,        bool,      flush_on_restore,     0),
        W("kill_hung_deliveries", bool,       bool,      kill_hung_deliveries, 0),
        {},
};

/* [probe:NAME]: type, then the keys of the type (its probe_ops'), then timeout. */
static const ConfigItem probe_head_items[] = {
        P("type",                probe_type,  string,    type,                 0),
        {},
};

static const ConfigItem probe_tail_items[] = {
        P("timeout",             duration,    duration,  timeout_usec,         1),
        {},
};

static const ConfigItem alert_items[] = {
        /* Notes its line: gets the whole AlertConfig. */
        { "url", config_parse_alert_url, config_print_alert_url, 0, 0, false, NULL },
        A("format",              alert_format, string,   format,               0),
        A("timeout",             duration,    duration,  timeout_usec,         1),
        A("ca_file",             ca_file,     string,    ca_file,              0),
        { "header", config_parse_header, NULL, offsetof(AlertConfig, headers), 0, false, config_print_header },
        /* Sets secret_file and the key: gets the whole AlertConfig. */
        { "secret_file", config_parse_secret_file, config_print_secret_file, 0, 0, false, NULL },
        A("retry_initial",       duration,    duration,  retry_initial_usec,   1),
        A("retry_max",           duration,    duration,  retry_max_usec,       1),
        A("max_age",             duration,    duration,  max_age_usec,         1),
        A("max_queued",          unsigned,    unsigned,  max_queued,           1),
        A("resend_interval",     duration,    duration,  resend_interval_usec, 1),
        A("success_body",        body_pattern, string,   success_body,         0),
        A("failure_body",        body_pattern, string,   failure_body,         0),
        /* Sets the count, the period and whether it was given: gets the whole AlertConfig. */
        { "rate_limit", config_parse_rate_limit, config_print_rate_limit, 0, 0, false, NULL },
        {},
};

#undef W
#undef P
#undef A

/* Defaults */

static int probe_config_init(ProbeConfig *p, const char *name, unsigned line) {
        *p = (ProbeConfig) {
                .timeout_usec = DEFAULT_PROBE_TIMEOUT_USEC,
                .line = line,
        };
        p->name = strdup(name);
        return p->name ? 0 : -ENOMEM;
}

static void probe_config_done(ProbeConfig *p) {
        if (p->settings && p->ops && p->ops->settings_done)
                p->ops->settings_done(p->settings);
        free(p->settings);
        config_pending_list_done(&p->pending);
        free(p->name);
        free(p->type);
}

static int alert_config_init(AlertConfig *a, const char *name, unsigned line) {
        *a = (AlertConfig) {
                .timeout_usec = DEFAULT_ALERT_TIMEOUT_USEC,
                .retry_initial_usec = DEFAULT_RETRY_INITIAL_USEC,
                .retry_max_usec = DEFAULT_RETRY_MAX_USEC,
                .max_age_usec = DEFAULT_MAX_AGE_USEC,
                .max_queued = DEFAULT_MAX_QUEUED,
                .resend_interval_usec = DEFAULT_RESEND_INTERVAL_USEC,
                .line = line,
        };
        a->name = strdup(name);
        a->format = strdup(DEFAULT_ALERT_FORMAT);
        return a->name && a->format ? 0 : -ENOMEM;
}

static void alert_config_done(AlertConfig *a) {
        free(a->name);
        free(a->url);
        free(a->format);
        free(a->ca_file);
        strv_free(a->headers);
        free(a->secret_file);
        if (a->secret)
                explicit_bzero(a->secret, a->secret_size);
        free(a->secret);
        free(a->success_body);
        free(a->failure_body);
}

bool alert_config_equal(const AlertConfig *a, const AlertConfig *b) {
        size_t i;

        if (!streq_ptr(a->name, b->name) || !streq_ptr(a->url, b->url) || !streq_ptr(a->format, b->format) ||
            a->timeout_usec != b->timeout_usec || !streq_ptr(a->ca_file, b->ca_file) ||
            !streq_ptr(a->secret_file, b->secret_file) || a->secret_size != b->secret_size ||
            (a->secret_size > 0 && memcmp(a->secret, b->secret, a->secret_size) != 0) ||
            a->retry_initial_usec != b->retry_initial_usec || a->retry_max_usec != b->retry_max_usec ||
            a->max_age_usec != b->max_age_usec || a->max_queued != b->max_queued ||
            a->resend_interval_usec != b->resend_interval_usec ||
            !streq_ptr(a->success_body, b->success_body) || !streq_ptr(a->failure_body, b->failure_body) ||
            a->rate_limit_requests != b->rate_limit_requests ||
            a->rate_limit_period_usec != b->rate_limit_period_usec)
                return false;

        for (i = 0; a->headers && a->headers[i]; i++)
                if (!b->headers || !streq_ptr(a->headers[i], b->headers[i]))
                        return false;
        return !b->headers || !b->headers[i];
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;

        free(c->path);
        free(c->state_dir);
        free(c->metrics_file);
        free(c->hostname);
        strv_free(c->placeholders);
        free(c->mta_name);
        free(c->mta_type);
        if (c->mta_settings && c->profile && c->profile->settings_done)
                c->profile->settings_done(c->mta_settings);
        free(c->mta_settings);
        config_pending_list_done(&c->mta_pending);
        free(c->unit);
        free(c->pid_file);
        free(c->activity_pattern);
        free(c->error_pattern);
        strv_free(c->flush_command);
        for (size_t i = 0; i < c->n_probes; i++)
                probe_config_done(&c->probes[i]);
        free(c->probes);
        for (size_t i = 0; i < c->n_alerts; i++)
                alert_config_done(&c->alerts[i]);
        free(c->alerts);
        free(c);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

static int config_new(const char *path, Config **ret) {
        _cleanup_(config_freep) Config *c = NULL;

        c = calloc(1, sizeof(Config));
        if (!c)
                return -ENOMEM;

        *c = (Config) {
                .interval_usec = DEFAULT_INTERVAL_USEC,
                .log_level = LOG_INFO,
                .flush_timeout_usec = DEFAULT_FLUSH_TIMEOUT_USEC,
                .fail_threshold = DEFAULT_FAIL_THRESHOLD,
                .ok_threshold = DEFAULT_OK_THRESHOLD,
                .restore_grace_usec = DEFAULT_RESTORE_GRACE_USEC,
                .stall_after_usec = DEFAULT_STALL_AFTER_USEC,
                .min_backlog = DEFAULT_MIN_BACKLOG,
                .actions = { ACTION_RESTART },
                .n_actions = 1,
                .flush_after_restart = true,
                .verify_after_usec = DEFAULT_VERIFY_AFTER_USEC,
                .restart_timeout_usec = DEFAULT_RESTART_TIMEOUT_USEC,
                .max_restarts = DEFAULT_MAX_RESTARTS,
                .unknown_alert_after_usec = DEFAULT_UNKNOWN_ALERT_AFTER_USEC,
                .outage_alert_after_usec = DEFAULT_OUTAGE_ALERT_AFTER_USEC,
                .giveup_holddown_usec = USEC_PER_HOUR,
                .degraded_after_usec = DEFAULT_DEGRADED_AFTER_USEC,
                .restart_window_usec = DEFAULT_RESTART_WINDOW_USEC,
        };

        c->path = strdup(path);
        c->state_dir = strdup(DEFAULT_STATE_DIR);
        c->mta_type = strdup(DEFAULT_MTA_TYPE);
        if (!c->path || !c->state_dir || !c->mta_type)
                return -ENOMEM;

        *ret = TAKE_PTR(c);
        return 0;
}

/* Sections */

/* Whether some MTA type, or some probe type, has KEY among its own keys. */
static bool mta_key_known(const char *key) {
        for (size_t i = 0; mta_profiles[i]; i++)
                if (config_item_find(mta_profiles[i]->config_items, key))
                        return true;
        return false;
}

static bool probe_key_known(const char *key) {
        for (size_t i = 0; probe_ops_table[i]; i++)
                if (config_item_find(probe_ops_table[i]->config_items, key))
                        return true;
        return false;
}

typedef struct LoadState {
        Config *config;
        unsigned watchdog_line, mta_line;
} LoadState;

static bool section_name_valid(const char *s) {
        return *s != '\0' && strlen(s) <= SECTION_NAME_MAX &&
                s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")] == '\0';
}

static int config_mta_end(ConfigContext *ctx, void *base, void *userdata);
static int config_probe_end(ConfigContext *ctx, void *base, void *userdata);

static int config_section_start(ConfigContext *ctx, const char *name, ConfigSection *ret, void *userdata) {
        LoadState *ls = userdata;
        Config *c = ls->config;
        const char *suffix;

        if (strcmp(name, "watchdog") == 0 || strcmp(name, "mta") == 0) {
                bool mta = name[0] == 'm';
                unsigned *first = mta ? &ls->mta_line : &ls->watchdog_line;

                if (*first > 0)
                        return config_error(ctx, ctx->line, NULL, "duplicate section (first on line %u)", *first);
                *first = ctx->line;
                if (mta)
                        *ret = (ConfigSection) {
                                .tables = { mta_head_items, mta_tail_items },
                                .base = c,
                                .pending = &c->mta_pending,
                                .pending_accepts = mta_key_known,
                                .end = config_mta_end,
                        };
                else
                        *ret = (ConfigSection) { .tables = { watchdog_items }, .base = c };
                return 0;
        }

        if (strncmp(name, "probe:", 6) != 0 && strncmp(name, "alert:", 6) != 0)
                return config_error(ctx, ctx->line, NULL,
                                    "unknown section (expected [watchdog], [mta], [probe:NAME], [alert:NAME])");
        suffix = name + 6;
        if (!section_name_valid(suffix))
                return config_error(ctx, ctx->line, NULL,
                                    "invalid name \"%s\" (1-%d characters of A-Z a-z 0-9 _ . -)",
                                    suffix, SECTION_NAME_MAX);

        if (name[0] == 'p') {
                ProbeConfig *p;

                for (size_t i = 0; i < c->n_probes; i++)
                        if (strcmp(c->probes[i].name, suffix) == 0)
                                return config_error(ctx, ctx->line, NULL, "duplicate section (first on line %u)",
                                                    c->probes[i].line);

                p = reallocarray(c->probes, c->n_probes + 1, sizeof(ProbeConfig));
                if (!p)
                        return config_oom(ctx);
                c->probes = p;
                if (probe_config_init(&p[c->n_probes], suffix, ctx->line) < 0) {
                        probe_config_done(&p[c->n_probes]);
                        return config_oom(ctx);
                }
                p = &p[c->n_probes++];
                *ret = (ConfigSection) {
                        .tables = { probe_head_items, probe_tail_items },
                        .base = p,
                        .pending = &p->pending,
                        .pending_accepts = probe_key_known,
                        .end = config_probe_end,
                };
        } else {
                AlertConfig *a;

                for (size_t i = 0; i < c->n_alerts; i++)
                        if (strcmp(c->alerts[i].name, suffix) == 0)
                                return config_error(ctx, ctx->line, NULL, "duplicate section (first on line %u)",
                                                    c->alerts[i].line);

                a = reallocarray(c->alerts, c->n_alerts + 1, sizeof(AlertConfig));
                if (!a)
                        return config_oom(ctx);
                c->alerts = a;
                if (alert_config_init(&a[c->n_alerts], suffix, ctx->line) < 0) {
                        alert_config_done(&a[c->n_alerts]);
                        return config_oom(ctx);
                }
                *ret = (ConfigSection) { .tables = { alert_items }, .base = &a[c->n_alerts++] };
        }
        return 0;
}

/* Validation, after the whole file was read. */

/* The section SECTION (of a probe or an alert, "probe:relay") named in messages. */
static int config_section_name(ConfigContext *ctx, const char *prefix, const char *name) {
        char section[sizeof "probe:" + SECTION_NAME_MAX];

        (void) snprintf(section, sizeof section, "%s:%s", prefix, name);
        return config_set_section(ctx, section);
}

/* Allocates a settings block of SIZE bytes with INIT's defaults. */
static int settings_new(size_t size, void (*init)(void *), void **ret) {
        void *s = calloc(1, size > 0 ? size : 1);

        if (!s)
                return -ENOMEM;
        if (init)
                init(s);
        *ret = s;
        return 0;
}

/* End of [mta]: the type is known, its own keys are parsed. */
static int config_mta_end(ConfigContext *ctx, void *base, void *userdata) {
        LoadState *ls = userdata;
        Config *c = base;
        const MtaProfile *prof;
        int r;

        /* A type in error: which keys the others are is not known, nor
         * what they would be checked against (the profile stays unset). */
        if (config_key_failed(ctx, "mta", "type"))
                return -EINVAL;
        prof = mta_profile_find(c->mta_type);
        if (!prof)  /* config_parse_mta_type() lets only known types through */
                return config_error(ctx, ls->mta_line, "type", "no profile for MTA type \"%s\"", c->mta_type);
        c->profile = prof;
        r = settings_new(prof->settings_size, prof->settings_init, &c->mta_settings);
        if (r < 0)
                return config_oom(ctx);
        r = config_apply_pending(ctx, &c->mta_pending, prof->config_items, c->mta_settings, ls->mta_line);
        config_pending_list_done(&c->mta_pending);
        /* The type's own cross-checks would read a key that failed. */
        if (r < 0)
                return r;
        if (prof->settings_finish) {
                char error[256] = "";

                r = prof->settings_finish(c->mta_settings, error, sizeof(error));
                if (r == -ENOMEM)
                        return config_oom(ctx);
                if (r < 0)
                        return config_error(ctx, ls->mta_line, NULL, "%s", error[0] ? error : strerror(-r));
        }
        return 0;
}

/* The MTA type's defaults of common keys. */
static int config_apply_profile(ConfigContext *ctx, LoadState *ls) {
        Config *c = ls->config;
        const MtaProfile *prof = c->profile;
        int r;

        r = config_set_section(ctx, "mta");
        if (r < 0)
                return r;
        if (!prof)  /* [mta] type in error, reported */
                return -EINVAL;
        if (!c->unit && prof->default_unit) {
                c->unit = strdup(prof->default_unit);
                if (!c->unit)
                        return config_oom(ctx);
        }
        if (!c->unit && !config_key_failed(ctx, "mta", "unit"))
                return config_error(ctx, ls->mta_line, "unit", "missing required key");
        if (!c->mta_name) {
                c->mta_name = strdup(prof->type);
                if (!c->mta_name)
                        return config_oom(ctx);
        }
        if (!c->pid_file && !c->pid_file_none && prof->pid_file) {
                c->pid_file = strdup(prof->pid_file);
                if (!c->pid_file)
                        return config_oom(ctx);
        }
        if (!c->flush_command && prof->default_flush_command &&
            strv_split(prof->default_flush_command, &c->flush_command) < 0)
                return config_oom(ctx);
        if (!c->actions_set && prof->default_actions) {
                _cleanup_(strv_freep) char **l = NULL;
                size_t n = 0;

                if (strv_split(prof->default_actions, &l) < 0)
                        return config_oom(ctx);
                for (char **w = l; *w && n < ACTIONS_MAX; w++)
                        if (action_type_from_string(*w) >= 0)
                                c->actions[n++] = action_type_from_string(*w);
                c->n_actions = n;
        }
        /* Each check below reads keys of its own; one that failed was reported. */
        bool flush_failed = config_key_failed(ctx, "mta", "flush_command");

        for (size_t i = 0; i < c->n_actions && !flush_failed && !config_key_failed(ctx, "mta", "actions"); i++)
                if (c->actions[i] == ACTION_FLUSH && !c->flush_command)
                        return config_error(ctx, ls->mta_line, "flush_command",
                                            "missing: actions include flush (MTA type %s has no default)%s",
                                            prof->type, c->actions_set ? "" : "; or set actions = restart");
        if (c->flush_on_restore && !c->flush_command && !flush_failed)
                return config_error(ctx, ls->mta_line, "flush_on_restore",
                                    "needs flush_command (MTA type %s has no default)", prof->type);
        /* A delivery still going at the next round is no wedged sender. */
        if (prof->hung_start_after && !config_key_failed(ctx, "watchdog", "interval") &&
            !config_key_failed(ctx, "mta", "hung_delivery_after")) {
                uint64_t h = prof->hung_start_after(c->mta_settings);
                char hs[FORMAT_DURATION_MAX], iv[FORMAT_DURATION_MAX];

                if (h > 0 && h <= c->interval_usec)
                        return config_error(ctx, ls->mta_line, "hung_delivery_after",
                                            "%s is not longer than [watchdog] interval (%s): a delivery still "
                                            "going at the next round would count as a wedged sender",
                                            format_duration(hs, sizeof hs, h),
                                            format_duration(iv, sizeof iv, c->interval_usec));
        }
        /* The built-in log patterns, so that the effective settings show
         * them, where they fit on one ini line (inih reads at most 199
         * characters: "key = " and the value): a dump must load again.
         * Longer ones (Exim's) stay the profile's, shown as not set. */
        const ActivityRules *rules = mta_activity_rules(prof, c->mta_settings);
        if (!c->activity_pattern && rules && rules->activity &&
            strlen("activity_pattern = ") + strlen(rules->activity) < 200) {
                c->activity_pattern = strdup(rules->activity);
                if (!c->activity_pattern)
                        return config_oom(ctx);
        }
        if (!c->error_pattern && rules && rules->error &&
            strlen("error_pattern = ") + strlen(rules->error) < 200) {
                c->error_pattern = strdup(rules->error);
                if (!c->error_pattern)
                        return config_oom(ctx);
        }
        return 0;
}

/* End of [probe:NAME]: the type is known, its own keys are parsed. */
static int config_probe_end(ConfigContext *ctx, void *base, void *userdata) {
        LoadState *ls = userdata;
        ProbeConfig *p = base;
        int r;

        /* The names a probe reaches (smtp and tcp: host; dns: name; tcp: mx_of). */
        for (size_t i = 0; i < p->pending.n; i++) {
                const ConfigPending *e = &p->pending.entries[i];

                if (string_in(e->key, (const char *const[]) { "host", "name", "mx_of", NULL })) {
                        r = config_note_placeholder(ctx, ls->config, e->line, e->key, e->value, false,
                                                    "probe a host the MTA really depends on (its relay), or "
                                                    "remove the section");
                        if (r < 0)
                                return r;
                }
        }

        /* A type in error: which keys the others are is not known. */
        if (config_key_failed(ctx, ctx->section, "type"))
                return -EINVAL;
        if (!p->type)
                return config_error(ctx, p->line, "type", "missing required key");
        p->ops = probe_ops_find(p->type);
        if (!p->ops)  /* config_parse_probe_type() lets only known types through */
                return config_error(ctx, p->line, "type", "unknown probe type \"%s\"", p->type);
        r = settings_new(p->ops->settings_size, p->ops->settings_init, &p->settings);
        if (r < 0)
                return config_oom(ctx);
        r = config_apply_pending(ctx, &p->pending, p->ops->config_items, p->settings, p->line);
        config_pending_list_done(&p->pending);
        return r;
}

/* The type's rules that need the MTA (probe_ops.settings_finish: the dns
 * and tcp probes' resolv_conf = auto), and a run still going at the next
 * round, which would only ever be "overlapped". */
static int config_check_probe(ConfigContext *ctx, const Config *c, ProbeConfig *p) {
        char t[FORMAT_DURATION_MAX], iv[FORMAT_DURATION_MAX];
        int r;

        r = config_section_name(ctx, "probe", p->name);
        if (r < 0)
                return r;
        if (p->ops && p->ops->settings_finish) {
                r = p->ops->settings_finish(ctx, p->line, p->settings, c->profile, c->mta_settings);
                if (r < 0)
                        return r;
        }
        if (p->timeout_usec < c->interval_usec || config_key_failed(ctx, ctx->section, "timeout") ||
            config_key_failed(ctx, "watchdog", "interval"))
                return 0;
        return config_error(ctx, p->line, "timeout", "%s is not shorter than [watchdog] interval (%s)",
                            format_duration(t, sizeof t, p->timeout_usec),
                            format_duration(iv, sizeof iv, c->interval_usec));
}

/* Checks across keys and sections, once the whole file was read. Each
 * check that fails is reported and the others still run (a check whose
 * input had an error of its own is left out: config_key_failed()).
 * Returns 0, or the first error. */
static int config_validate(ConfigContext *ctx, LoadState *ls) {
        Config *c = ls->config;
        int r;

        if (ls->mta_line == 0) {
                r = config_set_section(ctx, "mta");
                if (r < 0)
                        return r;
                if (!config_section_failed(ctx, "mta"))
                        (void) config_error(ctx, 0, NULL, "section missing");
                else if (ctx->r == 0)  /* cannot be: the header's error was counted */
                        ctx->r = -EINVAL;
        } else
                (void) config_apply_profile(ctx, ls);
        if (ctx->fatal)
                return ctx->r;

        for (size_t i = 0; i < c->n_probes; i++) {
                (void) config_check_probe(ctx, c, &c->probes[i]);
                if (ctx->fatal)
                        return ctx->r;
        }

        for (size_t i = 0; i < c->n_alerts; i++) {
                AlertConfig *a = &c->alerts[i];

                r = config_section_name(ctx, "alert", a->name);
                if (r < 0)
                        return r;
                if (!a->url && !config_key_failed(ctx, ctx->section, "url"))
                        (void) config_error(ctx, a->line, "url", "missing required key");
                (void) config_note_placeholder(ctx, c, a->url_line, "url", a->url, true,
                                               "alerts sent there reach nobody; set your receiver's URL, or "
                                               "remove the section (alerts are then only logged)");
                if (a->retry_initial_usec > a->retry_max_usec &&
                    !config_key_failed(ctx, ctx->section, "retry_initial") &&
                    !config_key_failed(ctx, ctx->section, "retry_max"))
                        (void) config_error(ctx, a->line, "retry_initial", "larger than retry_max");
                if (ctx->fatal)
                        return ctx->r;

                /* The format's own rules, unless the section says otherwise. */
                if (streq_ptr(a->format, "slack")) {
                        if (!a->success_body && !(a->success_body = strdup(SLACK_SUCCESS_BODY)))
                                return config_oom(ctx);
                        if (!a->rate_limit_set) {
                                a->rate_limit_requests = SLACK_RATE_LIMIT_REQUESTS;
                                a->rate_limit_period_usec = SLACK_RATE_LIMIT_PERIOD_USEC;
                        }
                }
        }

        if (!c->hostname) {
                char h[HOST_NAME_MAX + 1] = "";

                if (gethostname(h, sizeof h - 1) < 0 || h[0] == '\0') {
                        r = log_error_errno(errno != 0 ? errno : EINVAL,
                                            "%s: [watchdog] hostname: not set and gethostname() failed: %m",
                                            ctx->path);
                        ctx->n_errors++;
                        return ctx->r < 0 ? ctx->r : r;
                }
                c->hostname = strdup(h);
                if (!c->hostname)
                        return config_oom(ctx);
        }

        return ctx->r;
}

int config_load_counted(const char *path, Config **ret, unsigned *ret_n_errors) {
        _cleanup_(config_freep) Config *c = NULL;
        ConfigContext ctx = { .path = path };
        LoadState ls = {};
        int r;

        if (ret_n_errors)
                *ret_n_errors = 0;
        if (!path || !ret)
                return -EINVAL;

        r = config_new(path, &c);
        if (r < 0) {
                if (ret_n_errors)
                        *ret_n_errors = 1;
                return log_error_errno(r, "Out of memory.");
        }
        ls.config = c;

        r = config_parse_file(&ctx, config_section_start, &ls);
        /* A file that was read, with errors or not: the checks across keys
         * report theirs too, so that one run names every error. */
        if (r == 0 || (r == -EINVAL && !ctx.fatal))
                r = config_validate(&ctx, &ls);
        config_context_done(&ctx);
        if (ret_n_errors)
                *ret_n_errors = r >= 0 ? 0 : ctx.n_errors > 0 ? ctx.n_errors : 1;
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

int config_load(const char *path, Config **ret) {
        return config_load_counted(path, ret, NULL);
}

/* Advice */

size_t config_advice(const Config *c, char *buf, size_t size) {
        char s[FORMAT_DURATION_MAX], g[FORMAT_DURATION_MAX];
        const MtaProfile *prof = c->profile;
        uint64_t gap;
        size_t n = 0;

        if (size > 0)
                buf[0] = 0;
        /* hosts and URLs in the documentation domains */
        for (char **l = c->placeholders; l && *l; l++) {
                int k = snprintf(buf, size, "%s\n", *l);

                n++;
                if (k < 0 || (size_t) k >= size)
                        return n;
                buf += k;
                size -= (size_t) k;
        }
        /* the probes' own (the MTA resolves through another resolv.conf) */
        for (size_t i = 0; i < c->n_probes; i++) {
                const ProbeConfig *p = &c->probes[i];
                const char *a = p->ops && p->ops->settings_advice ? p->ops->settings_advice(p->settings) : NULL;
                int k;

                if (!a)
                        continue;
                k = snprintf(buf, size, "%s: [probe:%s] %s\n", c->path, p->name, a);
                n++;
                if (k < 0 || (size_t) k >= size)
                        return n;
                buf += k;
                size -= (size_t) k;
        }
        if (!prof)
                return n;
        /* kill_hung_deliveries needs the type's lock check (Exim's) */
        if (c->kill_hung_deliveries && !prof->lock_holder) {
                int k = snprintf(buf, size, "%s: [mta] kill_hung_deliveries: MTA type %s has no check of who holds "
                                 "a message: hung deliveries are reported, never killed\n", c->path, prof->type);

                n++;
                if (k < 0 || (size_t) k >= size)
                        return n;
                buf += k;
                size -= (size_t) k;
        }
        if (!prof->max_retry_gap)
                return n;
        /* the schedule tells a pause from a stall: nothing overdue, no stall */
        if (prof->reads_schedule && prof->reads_schedule(c->mta_settings))
                return n;
        gap = prof->max_retry_gap(c->mta_settings);
        (void) format_duration(s, sizeof(s), c->stall_after_usec);
        if (gap == 0) {
                (void) snprintf(buf, size, "%s: [mta] max_retry_gap: not set: stall_after (%s) must be longer "
                                "than the MTA's longest pause between its retries (the generic profile reads no "
                                "schedule); set max_retry_gap to have it checked\n", c->path, s);
                return n + 1;
        }
        (void) format_duration(g, sizeof(g), gap);
        if (c->stall_after_usec > gap)
                return n;
        if (c->n_actions > 0 && c->actions[0] == ACTION_FLUSH)
                (void) snprintf(buf, size, "%s: [mta] stall_after: %s is not longer than max_retry_gap (%s): a "
                                "pause of the MTA between its retries counts as a stall; it costs one flush "
                                "(flush_command must make the MTA try at once, as nullmailer's trigger does), "
                                "a restart only when the flush brings no attempt\n", c->path, s, g);
        else
                (void) snprintf(buf, size, "%s: [mta] stall_after: %s is not longer than max_retry_gap (%s): a "
                                "pause of the MTA between its retries counts as a stall, and with no flush first "
                                "in actions it is met with a restart; make stall_after longer than %s, or put "
                                "flush first in actions\n", c->path, s, g, g);
        n++;
        return n;
}

/* Dumping */

void config_dump(const Config *c, FILE *f) {
        fprintf(f, "# effective configuration of %s\n", c->path);

        fputs("\n[watchdog]\n", f);
        config_dump_items(f, watchdog_items, c);
        fputs("\n[mta]\n", f);
        config_dump_items(f, mta_head_items, c);
        if (c->profile)
                config_dump_items(f, c->profile->config_items, c->mta_settings);
        config_dump_items(f, mta_tail_items, c);

        for (size_t i = 0; i < c->n_probes; i++) {
                const ProbeConfig *p = &c->probes[i];

                fprintf(f, "\n[probe:%s]\n", p->name);
                config_dump_items(f, probe_head_items, p);
                if (p->ops)
                        config_dump_items(f, p->ops->config_items, p->settings);
                config_dump_items(f, probe_tail_items, p);
        }
        for (size_t i = 0; i < c->n_alerts; i++) {
                fprintf(f, "\n[alert:%s]\n", c->alerts[i].name);
                config_dump_items(f, alert_items, &c->alerts[i]);
        }
}
