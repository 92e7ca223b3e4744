/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <arpa/inet.h>
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
#include "detect.h"
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
#define DEFAULT_MTA_TYPE               "auto"     /* watchdogd/detect.h */
#define DEFAULT_RELAY                  "auto"
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
        const char *types[ELEMENTSOF_PROFILES_MAX + 2] = { "auto" };
        size_t n = 1;

        for (; n <= ELEMENTSOF_PROFILES_MAX && mta_profiles[n - 1]; n++)
                types[n] = mta_profiles[n - 1]->type;
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
        /* RFC 9110, 5.5: new fields use visible US-ASCII; the request travels
         * to the webhook helper as JSON (post-protocol.h), which needs UTF-8. */
        for (const char *p = value; *p; p++)
                if ((unsigned char) *p >= 0x80)
                        return config_error(ctx, ctx->line, item->key,
                                            "byte 0x%02x: header values are US-ASCII (RFC 9110, section 5.5)",
                                            (unsigned char) *p);
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

/* relay: "auto", "none", or one HOST, HOST:PORT, [HOST]:PORT, [IPv6]:PORT. */
static int config_parse_relay(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        char error[256];
        DetectRelay r;

        if (strcmp(value, "auto") != 0 && strcmp(value, "none") != 0 &&
            detect_parse_relay_setting(value, &r, error, sizeof(error)) < 0)
                return config_error(ctx, ctx->line, item->key, "%s", error);
        return config_parse_string(ctx, item, value, data);
}

static int config_parse_domain(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        unsigned char a[16];

        if (!detect_host_valid(value) || inet_pton(AF_INET, value, a) == 1 || inet_pton(AF_INET6, value, a) == 1)
                return config_error(ctx, ctx->line, item->key, "\"%s\" is not a domain name", value);
        return config_parse_string(ctx, item, value, data);
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
        W("relay",               relay,       string,    relay,                0),
        W("canary_domain",       domain,      string,    canary_domain,        0),
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
        free(c->relay);
        free(c->canary_domain);
        free(c->detection);
        config_pending_list_done(&c->mta_given);
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
        c->relay = strdup(DEFAULT_RELAY);
        c->canary_domain = strdup(DETECT_DEFAULT_CANARY_DOMAIN);
        if (!c->path || !c->state_dir || !c->mta_type || !c->relay || !c->canary_domain)
                return -ENOMEM;

        *ret = TAKE_PTR(c);
        return 0;
}

/* Sections */

/* Whether KEY is a common [mta] key or some MTA type's own; whether some
 * probe type has KEY among its own keys. */
static bool mta_key_known(const char *key) {
        if (config_item_find(mta_head_items, key) || config_item_find(mta_tail_items, key))
                return true;
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
        const char *root;                /* detection's, detect.h */
        int relay_r;                     /* detect_relay()'s error, reported when the relay is needed */
        char relay_error[256];
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
                /* All [mta] keys are kept until the section ends: the type
                 * (auto: detected) decides which keys its preset adds. */
                if (mta)
                        *ret = (ConfigSection) {
                                .tables = { NULL },
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

/* The entry of KEY in L, or NULL. */
static const ConfigPending *pending_find(const ConfigPendingList *l, const char *key) {
        for (size_t i = 0; l && i < l->n; i++)
                if (strcmp(l->entries[i].key, key) == 0)
                        return &l->entries[i];
        return NULL;
}

/* Parses E into C if it is a common [mta] key (mta_head_items,
 * mta_tail_items), setting *RET_COMMON. Returns 0, -EINVAL, -ENOMEM. */
static int config_mta_common(ConfigContext *ctx, Config *c, const ConfigPending *e, bool *ret_common) {
        const ConfigItem *tables[] = { mta_head_items, mta_tail_items };
        ConfigPendingList one = { .entries = (ConfigPending *) e, .n = 1 };

        *ret_common = false;
        for (size_t t = 0; t < ELEMENTSOF(tables); t++)
                if (config_item_find(tables[t], e->key)) {
                        *ret_common = true;
                        return config_apply_pending(ctx, &one, tables[t], c, 0);
                }
        return 0;
}

/* The [mta] keys of PRESET's text (an ini file: etc/mta-watchdog-NAME.ini)
 * that the file does not set: common ones into C, the type's kept in
 * TYPE_KEYS. Lines are 0: the preset is no line of the file. */
static int config_apply_preset(ConfigContext *ctx, Config *c, const char *preset, ConfigPendingList *type_keys) {
        bool in_mta = false;
        int r;

        for (const char *p = preset; *p; ) {
                size_t n = strcspn(p, "\n");
                _cleanup_free_ char *line = strndup(p, n);
                char *k, *v, *eq;

                p += n + (p[n] == '\n');
                if (!line)
                        return config_oom(ctx);
                k = line + strspn(line, " \t");
                if (*k == '[') {
                        in_mta = strncmp(k, "[mta]", 5) == 0;
                        continue;
                }
                eq = strchr(k, '=');
                if (!in_mta || *k == ';' || *k == '#' || !eq)
                        continue;
                v = eq + 1 + strspn(eq + 1, " \t");
                while (eq > k && (eq[-1] == ' ' || eq[-1] == '\t'))
                        eq--;
                *eq = '\0';
                for (size_t m = strlen(v); m > 0 && (v[m - 1] == ' ' || v[m - 1] == '\t' || v[m - 1] == '\r'); m--)
                        v[m - 1] = '\0';
                if (strcmp(k, "type") == 0 || pending_find(&c->mta_given, k))
                        continue;

                ConfigPending e = { .key = k, .value = v, .line = 0 };
                bool common;

                r = config_mta_common(ctx, c, &e, &common);
                if (r < 0)
                        return r;
                if (!common && config_pending_add(type_keys, k, v, 0) < 0)
                        return config_oom(ctx);
        }
        return 0;
}

/* End of [mta]: the common keys are parsed, the type is known (auto: detected,
 * with its preset), then the type's own keys. */
static int config_mta_end(ConfigContext *ctx, void *base, void *userdata) {
        LoadState *ls = userdata;
        Config *c = base;
        _cleanup_(config_pending_list_done) ConfigPendingList type_keys = {};
        const ConfigPending *given;
        const MtaProfile *prof;
        Detection *d;
        char error[512] = "";
        int r, first_r = 0;

        /* Every key as given, with its line, for the provenance (config_print_provenance()). */
        c->mta_given = c->mta_pending;
        c->mta_pending = (ConfigPendingList) {};
        for (size_t i = 0; i < c->mta_given.n; i++) {
                bool common;

                r = config_mta_common(ctx, c, &c->mta_given.entries[i], &common);
                if (ctx->fatal)
                        return -ENOMEM;
                if (r < 0) {    /* reported; the other keys are still read */
                        first_r = first_r ?: r;
                        continue;
                }
                if (!common && config_pending_add(&type_keys, c->mta_given.entries[i].key, c->mta_given.entries[i].value,
                                           c->mta_given.entries[i].line) < 0)
                        return config_oom(ctx);
        }

        /* A type in error: which keys the others are is not known, nor
         * what they would be checked against (the profile stays unset). */
        if (config_key_failed(ctx, "mta", "type"))
                return -EINVAL;

        d = c->detection = calloc(1, sizeof(Detection));
        if (!d)
                return config_oom(ctx);
        if (strcmp(c->mta_type, "auto") == 0) {
                given = pending_find(&c->mta_given, "type");
                r = detect_mta(ls->root, d, error, sizeof(error));
                if (r == -ENOMEM)
                        return config_oom(ctx);
                if (r < 0)
                        return config_error(ctx, given ? given->line : ls->mta_line, "type", "auto: %s", error);
                free(c->mta_type);
                c->mta_type = strdup(d->type);
                if (!c->mta_type)
                        return config_oom(ctx);
                c->type_detected = true;
                if (d->preset) {
                        r = config_apply_preset(ctx, c, d->preset, &type_keys);
                        if (r < 0)
                                return r;
                }
        } else
                (void) snprintf(d->mta, sizeof(d->mta), "%s", c->mta_type);

        /* The relay, queue and interval from the MTA's configuration; a
         * relay that cannot be parsed matters only where it is needed
         * (config_derive_probes()). */
        ls->relay_r = detect_relay(ls->root, d, ls->relay_error, sizeof(ls->relay_error));
        if (ls->relay_r == -ENOMEM)
                return config_oom(ctx);
        if (ls->relay_r < 0 && !d->relay.source[0])  /* --detect says why, where the relay is not needed */
                (void) snprintf(d->relay.source, sizeof(d->relay.source), "%.*s", DETECT_SOURCE_MAX - 1, ls->relay_error);
        if (strcmp(d->mta, "postfix") == 0 && d->queue_directory.value[0] &&
            !pending_find(&type_keys, "queue_directory") &&
            config_pending_add(&type_keys, "queue_directory", d->queue_directory.value, 0) < 0)
                return config_oom(ctx);

        prof = mta_profile_find(c->mta_type);
        if (!prof)  /* config_parse_mta_type() lets only known types through */
                return config_error(ctx, ls->mta_line, "type", "no profile for MTA type \"%s\"", c->mta_type);
        c->profile = prof;
        r = settings_new(prof->settings_size, prof->settings_init, &c->mta_settings);
        if (r < 0)
                return config_oom(ctx);
        /* A key of another type: which type this is, and where it came from
         * (with type = auto, a file written for another MTA). */
        for (size_t i = 0; i < type_keys.n;) {
                ConfigPending *e = &type_keys.entries[i];

                if (config_item_find(prof->config_items, e->key)) {
                        i++;
                        continue;
                }
                r = config_error(ctx, e->line, e->key, "not a key of MTA type %s (%s)", c->mta_type,
                                 c->type_detected ? "found by type = auto; mta-watchdogd --detect shows why" :
                                 "[mta] type");
                first_r = first_r ?: r;
                free(e->key);
                free(e->value);
                memmove(e, e + 1, (type_keys.n - i - 1) * sizeof(*e));
                type_keys.n--;
                if (ctx->fatal)
                        return -ENOMEM;
        }
        r = config_apply_pending(ctx, &type_keys, prof->config_items, c->mta_settings, ls->mta_line);
        /* The type's own cross-checks would read a key that failed. */
        if (r == 0)
                r = first_r;
        if (r < 0)
                return r;
        if (prof->settings_finish) {
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

/* No [probe:NAME] in the file: the probes of the relay (the setting, or
 * detected), or without one the canary domain's (detect_probe_plan()),
 * made as if the file had them. A relay that is not known derives none. */
static int config_derive_probes(ConfigContext *ctx, LoadState *ls) {
        Config *c = ls->config;
        const Detection *d = c->detection;
        const ConfigPending *given = pending_find(&c->mta_given, "relay");
        unsigned line = given ? given->line : ls->mta_line;
        DetectProbe plan[2];
        DetectRelay relay;
        const DetectRelay *rp = NULL;
        char error[256];
        size_t n;
        int r;

        if (c->n_probes > 0)
                return 0;
        if (strcmp(c->relay, "auto") == 0) {
                if (ls->relay_r < 0) {
                        r = config_set_section(ctx, "mta");
                        if (r < 0)
                                return r;
                        return config_error(ctx, line, "relay", "auto: %s (set relay = HOST[:PORT] or none, or "
                                            "add a [probe:NAME])", ls->relay_error);
                }
                if (!d || d->relay_state == DETECT_RELAY_UNKNOWN)
                        return 0;   /* the network counts as up; config_print_provenance() says why */
                if (d->relay_state == DETECT_RELAY_FOUND)
                        rp = &d->relays[0];
        } else if (strcmp(c->relay, "none") != 0) {
                if (detect_parse_relay_setting(c->relay, &relay, error, sizeof(error)) < 0)
                        return config_error(ctx, line, "relay", "%s", error);  /* checked when read */
                rp = &relay;
        }

        n = detect_probe_plan(rp, c->canary_domain, plan);
        c->probes = calloc(n, sizeof(ProbeConfig));
        if (!c->probes)
                return config_oom(ctx);
        for (size_t i = 0; i < n; i++) {
                ProbeConfig *p = &c->probes[i];

                if (probe_config_init(p, plan[i].name, line) < 0)
                        return config_oom(ctx);
                c->n_probes++;
                p->type = strdup(plan[i].type);
                if (!p->type)
                        return config_oom(ctx);
                for (size_t k = 0; k < plan[i].n_keys; k++)
                        if (config_pending_add(&p->pending, plan[i].keys[k].key, plan[i].keys[k].value, line) < 0)
                                return config_oom(ctx);
                r = config_section_name(ctx, "probe", p->name);
                if (r < 0)
                        return r;
                /* A type not built in (yet) fails here, as in a file. */
                if (!probe_ops_find(p->type))
                        return config_error(ctx, line, "type", "derived probe: unknown probe type \"%s\"", p->type);
                r = config_probe_end(ctx, p, ls);
                if (r < 0)
                        return r;
        }
        c->probes_derived = true;
        return 0;
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
                /* No [mta]: every key at its default (type = auto). */
                if (config_section_failed(ctx, "mta")) {
                        if (ctx->r == 0)  /* cannot be: the header's error was counted */
                                ctx->r = -EINVAL;
                } else
                        (void) config_mta_end(ctx, c, ls);
                if (ctx->fatal)
                        return ctx->r;
        }
        (void) config_apply_profile(ctx, ls);
        if (ctx->fatal)
                return ctx->r;
        if (c->profile && !config_section_failed(ctx, "mta") && !config_key_failed(ctx, "mta", "relay") &&
            !config_key_failed(ctx, "mta", "canary_domain"))
                (void) config_derive_probes(ctx, ls);
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

static int config_load_impl(const char *path, const ConfigLoadOptions *options, Config **ret,
                            unsigned *ret_n_errors) {
        _cleanup_(config_freep) Config *c = NULL;
        ConfigContext ctx = { .path = path };
        LoadState ls = { .root = options && options->root ? options->root : "/" };
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
        return config_load_impl(path, NULL, ret, NULL);
}

int config_load_counted(const char *path, Config **ret, unsigned *ret_n_errors) {
        return config_load_impl(path, NULL, ret, ret_n_errors);
}

int config_load_full(const char *path, const ConfigLoadOptions *options, Config **ret) {
        return config_load_impl(path, options, ret, options ? options->n_errors : NULL);
}

/* Advice */

size_t config_advice(const Config *c, char *buf, size_t size) {
        char s[FORMAT_DURATION_MAX], g[FORMAT_DURATION_MAX];
        const MtaProfile *prof = c->profile;
        uint64_t gap;
        size_t n = 0;

        if (size > 0)
                buf[0] = 0;
        /* no probe: the relay could not be read, so nothing tells an outage */
        if (c->n_probes == 0 && c->detection && c->detection->relay_state == DETECT_RELAY_UNKNOWN &&
            streq_ptr(c->relay, "auto")) {
                int k = snprintf(buf, size, "%s: [mta] relay: auto: the relay could not be read (%s): no "
                                 "reachability probe, the network always counts as up, so an outage may be "
                                 "taken for a stall; set relay (HOST[:PORT] or none) or add a [probe:NAME]\n",
                                 c->path, c->detection->relay.source);

                n++;
                if (k < 0 || (size_t) k >= size)
                        return n;
                buf += k;
                size -= (size_t) k;
        }
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

/* Provenance (README "Detection") */

/* "FILE:LINE" of the file's KEY in [mta], into BUF; NULL when the file does not set it. */
static const char *given_source(const Config *c, const char *key, char *buf, size_t size) {
        const ConfigPending *e = pending_find(&c->mta_given, key);
        const char *base = strrchr(c->path, '/');

        if (!e)
                return NULL;
        (void) snprintf(buf, size, "%s:%u", base ? base + 1 : c->path, e->line);
        return buf;
}

/* Whether the preset of the detected MTA sets KEY in [mta]. */
static bool preset_sets(const Config *c, const char *key) {
        const char *p = c->detection && c->type_detected ? c->detection->preset : NULL;
        size_t n = strlen(key);

        for (; p && *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n'))
                if (strncmp(p, key, n) == 0 && (p[n] == ' ' || p[n] == '='))
                        return true;
        return false;
}

/* The value of the item KEY of ITEMS in BASE as the dump prints it, into BUF. */
static bool item_value(const ConfigItem *items, const void *base, const char *key, char *buf, size_t size) {
        const ConfigItem *item = config_item_find(items, key);
        _cleanup_free_ char *text = NULL;
        size_t n = 0;
        FILE *f;
        bool set;

        if (!item || !item->print || !base)
                return false;
        f = open_memstream(&text, &n);
        if (!f)
                return false;
        set = item->print(f, (const char *) base + item->offset);
        if (fclose(f) != 0 || !set)
                return false;
        (void) snprintf(buf, size, "%s", text);
        return true;
}

static void provenance_line(FILE *f, const char *prefix, const char *key, const char *value, const char *source) {
        fprintf(f, "%s%s: %s (%s)\n", prefix, key, value && value[0] ? value : "unknown", source);
}

void config_print_provenance(const Config *c, FILE *f, const char *prefix) {
        const Detection *d = c->detection;
        const ConfigItem *items = c->profile ? c->profile->config_items : NULL;
        static const char *const queue_keys[] = { "queue_directory", "spool_directory", "queue_directories" };
        char src[DETECT_SOURCE_MAX + 64], value[DETECT_VALUE_MAX], line[DETECT_VALUE_MAX * 3];

        if (c->type_detected && d)
                (void) snprintf(line, sizeof(line), "package %s, %s; %s", d->package.value, d->package.source,
                                d->sendmail);
        else
                (void) snprintf(line, sizeof(line), "%s", given_source(c, "type", src, sizeof(src)) ?: "default");
        provenance_line(f, prefix, "mta", c->type_detected && d ? d->mta : c->mta_type, line);

        provenance_line(f, prefix, "unit", c->unit,
                        given_source(c, "unit", src, sizeof(src)) ?:
                        preset_sets(c, "unit") ? d->preset_name : "default");

        for (size_t i = 0; i < ELEMENTSOF(queue_keys); i++) {
                const char *key = queue_keys[i];

                if (!config_item_find(items, key))
                        continue;
                if (!item_value(items, c->mta_settings, key, value, sizeof(value)))
                        value[0] = '\0';
                provenance_line(f, prefix, key, value,
                                given_source(c, key, src, sizeof(src)) ?:
                                preset_sets(c, key) ? d->preset_name :
                                d && d->queue_directory.source[0] ? d->queue_directory.source : "default");
                break;
        }

        if (given_source(c, "queue_interval", src, sizeof(src)) &&
            item_value(items, c->mta_settings, "queue_interval", value, sizeof(value)))
                provenance_line(f, prefix, "queue_interval", value, src);
        else if (d && d->queue_interval.value[0])
                provenance_line(f, prefix, "queue_interval", d->queue_interval.value, d->queue_interval.source);
        else if (item_value(items, c->mta_settings, "queue_interval", value, sizeof(value)))
                provenance_line(f, prefix, "queue_interval", value, "default");
        else
                provenance_line(f, prefix, "queue_interval", "unknown", "not read for this MTA");

        if (strcmp(c->relay, "auto") != 0)
                provenance_line(f, prefix, "relay", c->relay, given_source(c, "relay", src, sizeof(src)) ?: "default");
        else if (d && d->relay_state != DETECT_RELAY_UNKNOWN)
                provenance_line(f, prefix, "relay", d->relay.value, d->relay.source);
        else
                provenance_line(f, prefix, "relay", "unknown", d && d->relay.source[0] ? d->relay.source :
                                "not read for this MTA");

        for (size_t i = 0; i < c->n_probes; i++) {
                const ProbeConfig *p = &c->probes[i];
                const char *base = strrchr(c->path, '/');

                fprintf(f, "%sprobe %s: %s", prefix, p->name, p->type);
                if (p->ops) {
                        for (const ConfigItem *it = p->ops->config_items; it && it->key; it++)
                                if (item_value(p->ops->config_items, p->settings, it->key, value, sizeof(value)))
                                        fprintf(f, " %s=%s", it->key, value);
                }
                if (c->probes_derived)
                        fprintf(f, " (derived: %s)\n", strcmp(c->relay, "none") == 0 ? "no relay, canary_domain" :
                                strcmp(c->relay, "auto") != 0 ? "relay" :
                                d && d->relay_state == DETECT_RELAY_FOUND ? "relay" : "no relay, canary_domain");
                else
                        fprintf(f, " (%s:%u)\n", base ? base + 1 : c->path, p->line);
        }
        if (c->n_probes == 0)
                fprintf(f, "%sprobe: none (relay unknown: the network always counts as up)\n", prefix);
}

const char *config_detection_summary(const Config *c, char *buf, size_t size) {
        const Detection *d = c->detection;
        char relay[DETECT_VALUE_MAX + DETECT_SOURCE_MAX + 16];

        if (strcmp(c->relay, "auto") != 0)
                (void) snprintf(relay, sizeof(relay), "relay %s from %s", c->relay, c->path);
        else if (d && d->relay_state != DETECT_RELAY_UNKNOWN)
                (void) snprintf(relay, sizeof(relay), "relay %s from %s", d->relay.value, d->relay.source);
        else
                (void) snprintf(relay, sizeof(relay), "relay unknown: %s", d && d->relay.source[0] ?
                                d->relay.source : "not read");
        if (c->type_detected && d)
                (void) snprintf(buf, size, "detected %s (package %s, unit %s, %s)", d->mta, d->package.value,
                                c->unit, relay);
        else
                (void) snprintf(buf, size, "%s (configured, unit %s, %s)", c->mta_type, c->unit, relay);
        return buf;
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
