/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <ini.h>
#include <regex.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "activity.h"
#include "config.h"
#include "log.h"
#include "macros.h"
#include "sign.h"

#define WHITESPACE " \t\n\r\f\v"

/* Section names, probe and alert NAMEs: used in logs, alerts and metric labels. */
#define SECTION_NAME_MAX 64

#ifndef USEC_PER_MINUTE
#define USEC_PER_MINUTE (60 * USEC_PER_SEC)
#endif
#ifndef USEC_PER_HOUR
#define USEC_PER_HOUR   (60 * USEC_PER_MINUTE)
#endif
#ifndef USEC_PER_DAY
#define USEC_PER_DAY    (24 * USEC_PER_HOUR)
#endif

#define DURATION_MAX_USEC              (365 * USEC_PER_DAY)
#define CONFIG_FILE_MAX                (1024 * 1024)
#define DEFAULT_INTERVAL_USEC          (10 * USEC_PER_SEC)
#define DEFAULT_STATE_DIR              "/var/lib/mta-watchdog"
#define DEFAULT_MTA_NAME               "postfix"
#define DEFAULT_MTA_TYPE               "postfix"
#define DEFAULT_QUEUE_DIRECTORY        "/var/spool/postfix"
#define DEFAULT_UNKNOWN_ALERT_AFTER_USEC (10 * USEC_PER_MINUTE)
#define DEFAULT_OUTAGE_ALERT_AFTER_USEC USEC_PER_MINUTE
#define DEFAULT_FLUSH_COMMAND          "/usr/sbin/postqueue -f"
#define DEFAULT_FLUSH_TIMEOUT_USEC     (30 * USEC_PER_SEC)
#define DEFAULT_FAIL_THRESHOLD         3U
#define DEFAULT_OK_THRESHOLD           2U
#define DEFAULT_RESTORE_GRACE_USEC     (5 * USEC_PER_MINUTE)
#define DEFAULT_STALL_AFTER_USEC       (10 * USEC_PER_MINUTE)
#define DEFAULT_MIN_BACKLOG            1U
#define DEFAULT_VERIFY_AFTER_USEC      (2 * USEC_PER_MINUTE)
#define DEFAULT_RESTART_TIMEOUT_USEC   (90 * USEC_PER_SEC)
#define DEFAULT_MAX_RESTARTS           3U
#define DEFAULT_RESTART_WINDOW_USEC    USEC_PER_HOUR
#define DEFAULT_PROBE_PORT             25
#define DEFAULT_PROBE_TIMEOUT_USEC     (5 * USEC_PER_SEC)
#define DEFAULT_ALERT_FORMAT           "json"
#define DEFAULT_ALERT_TIMEOUT_USEC     (10 * USEC_PER_SEC)
#define DEFAULT_RETRY_INITIAL_USEC     (1 * USEC_PER_SEC)
#define DEFAULT_RETRY_MAX_USEC         (60 * USEC_PER_SEC)
#define DEFAULT_MAX_AGE_USEC           USEC_PER_HOUR
#define DEFAULT_MAX_QUEUED             1000U
#define DEFAULT_RESEND_INTERVAL_USEC   USEC_PER_MINUTE

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

static const char *const mta_types[] = { "postfix", NULL };
static const char *const probe_types[] = { "smtp", NULL };
static const char *const alert_formats[] = { "json", "slack", "alertmanager", NULL };

/* Durations */

static const struct {
        const char *suffix;
        uint64_t usec;
} duration_units[] = {
        /* Largest first: format_duration() relies on the order. */
        { "d",  USEC_PER_DAY    },
        { "h",  USEC_PER_HOUR   },
        { "m",  USEC_PER_MINUTE },
        { "s",  USEC_PER_SEC    },
        { "ms", USEC_PER_MSEC   },
};

static int parse_u64(const char **p, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        for (; isdigit((unsigned char) *s); s++) {
                unsigned d = (unsigned) (*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return 0;
}

int parse_duration(const char *s, uint64_t *ret_usec) {
        uint64_t total = 0;
        bool any = false;
        int r;

        if (!s)
                return -EINVAL;

        s += strspn(s, WHITESPACE);
        if (*s == '\0')
                return -EINVAL;

        while (*s != '\0') {
                uint64_t n, mult = 0;
                size_t len;

                r = parse_u64(&s, &n);
                if (r < 0)
                        return r;
                s += strspn(s, WHITESPACE);

                len = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
                if (len == 0) {
                        /* A bare number means seconds, and only on its own. */
                        if (any || *s != '\0')
                                return -EINVAL;
                        mult = USEC_PER_SEC;
                } else {
                        for (size_t i = 0; i < ELEMENTSOF(duration_units); i++)
                                if (strlen(duration_units[i].suffix) == len &&
                                    strncmp(duration_units[i].suffix, s, len) == 0) {
                                        mult = duration_units[i].usec;
                                        break;
                                }
                        if (mult == 0)
                                return -EINVAL;
                        s += len;
                }

                if (n > UINT64_MAX / mult || total > UINT64_MAX - n * mult)
                        return -ERANGE;
                total += n * mult;
                any = true;

                s += strspn(s, WHITESPACE);
        }

        *ret_usec = total;
        return 0;
}

const char *format_duration(char *buf, size_t size, uint64_t usec) {
        size_t used = 0;

        if (!buf || size == 0)
                return NULL;

        if (usec == 0) {
                if (size < 2)
                        return NULL;
                return strcpy(buf, "0");
        }

        buf[0] = '\0';
        for (size_t i = 0; i <= ELEMENTSOF(duration_units); i++) {
                /* The last round prints a sub-millisecond remainder, which
                 * parse_duration() does not accept; configs never hold one. */
                uint64_t unit = i < ELEMENTSOF(duration_units) ? duration_units[i].usec : 1;
                const char *suffix = i < ELEMENTSOF(duration_units) ? duration_units[i].suffix : "us";
                uint64_t n = usec / unit;
                int k;

                if (n == 0)
                        continue;
                usec -= n * unit;

                k = snprintf(buf + used, size - used, "%" PRIu64 "%s", n, suffix);
                if (k < 0 || (size_t) k >= size - used)
                        return NULL;
                used += (size_t) k;
        }
        return buf;
}

/* Small string helpers */

static char **strv_free(char **l) {
        if (!l)
                return NULL;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);

/* Splits S on whitespace into a NULL-terminated argv. Returns 0, -ENOMEM. */
static int strv_split(const char *s, char ***ret) {
        _cleanup_(strv_freep) char **l = NULL;
        size_t n = 0;

        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;

        for (;;) {
                size_t len;
                char **t;

                s += strspn(s, WHITESPACE);
                if (*s == '\0')
                        break;
                len = strcspn(s, WHITESPACE);

                t = reallocarray(l, n + 2, sizeof(char *));
                if (!t)
                        return -ENOMEM;
                l = t;
                l[n] = strndup(s, len);
                if (!l[n])
                        return -ENOMEM;
                l[++n] = NULL;
                s += len;
        }

        *ret = TAKE_PTR(l);
        return 0;
}

static bool string_has_cc(const char *s) {
        for (; *s; s++)
                if (iscntrl((unsigned char) *s))
                        return true;
        return false;
}

static bool string_in(const char *s, const char *const *list) {
        for (; *list; list++)
                if (strcmp(s, *list) == 0)
                        return true;
        return false;
}

/* Parsing context */

typedef enum SectionType {
        SECTION_NONE,
        SECTION_WATCHDOG,
        SECTION_MTA,
        SECTION_PROBE,
        SECTION_ALERT,
        _SECTION_TYPE_MAX,
} SectionType;

typedef struct ParseContext ParseContext;
typedef struct ConfigItem ConfigItem;

/* Parses VALUE into DATA (the field at item->offset). On error logs once
 * through config_error() and returns -EINVAL (or -ENOMEM). */
typedef int (*ConfigParser)(ParseContext *ctx, const ConfigItem *item, const char *value, void *data);
typedef void (*ConfigPrinter)(FILE *f, const void *data);

struct ConfigItem {
        SectionType section;
        const char *key;
        ConfigParser parse;
        ConfigPrinter print;
        size_t offset;
        unsigned long long min;   /* numbers and durations: smallest value accepted */
        bool repeatable;          /* may be given more than once; printed one line per value */
};

struct ParseContext {
        const char *path;
        FILE *f;
        char *buf;
        size_t buf_size;
        unsigned line;

        Config *config;

        SectionType section_type;
        char *section;             /* text inside the brackets, for messages */
        void *base;                /* struct receiving the current section's keys */
        unsigned watchdog_line, mta_line;

        int r;                     /* first error, if any */
};

static int config_oom(ParseContext *ctx) {
        log_error("Out of memory.");
        if (ctx->r == 0)
                ctx->r = -ENOMEM;
        return -ENOMEM;
}

static int config_error(ParseContext *ctx, unsigned line, const char *key, const char *fmt, ...) _printf_(4, 5);

static int config_error(ParseContext *ctx, unsigned line, const char *key, const char *fmt, ...) {
        _cleanup_free_ char *reason = NULL;
        char where[64] = "";
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&reason, fmt, ap);
        va_end(ap);
        if (k < 0) {
                reason = NULL;
                return config_oom(ctx);
        }

        if (line > 0)
                (void) snprintf(where, sizeof where, ":%u", line);

        if (ctx->section && key)
                log_error("%s%s: [%s] %s: %s", ctx->path, where, ctx->section, key, reason);
        else if (ctx->section)
                log_error("%s%s: [%s]: %s", ctx->path, where, ctx->section, reason);
        else if (key)
                log_error("%s%s: %s: %s", ctx->path, where, key, reason);
        else
                log_error("%s%s: %s", ctx->path, where, reason);

        if (ctx->r == 0)
                ctx->r = -EINVAL;
        return -EINVAL;
}

/* Value parsers and printers */

static int config_parse_string(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        char **s = data, *t;

        if (*value == '\0')
                return config_error(ctx, ctx->line, item->key, "empty value");
        if (string_has_cc(value))
                return config_error(ctx, ctx->line, item->key, "control character in value");

        t = strdup(value);
        if (!t)
                return config_oom(ctx);
        free(*s);
        *s = t;
        return 0;
}

static int config_parse_path(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        if (value[0] != '/')
                return config_error(ctx, ctx->line, item->key, "\"%s\" is not an absolute path", value);
        return config_parse_string(ctx, item, value, data);
}

/* Empty means off; else an absolute path to a file, not a directory. */
static int config_parse_metrics_file(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
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

static int config_parse_word(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        if (value[strcspn(value, WHITESPACE)] != '\0')
                return config_error(ctx, ctx->line, item->key, "\"%s\" contains whitespace", value);
        return config_parse_string(ctx, item, value, data);
}

static int config_parse_choice(ParseContext *ctx, const ConfigItem *item, const char *value, void *data,
                               const char *const *choices) {
        if (!string_in(value, choices)) {
                char list[128] = "";

                for (const char *const *c = choices; *c; c++) {
                        if (c != choices)
                                (void) strncat(list, ", ", sizeof list - strlen(list) - 1);
                        (void) strncat(list, *c, sizeof list - strlen(list) - 1);
                }
                return config_error(ctx, ctx->line, item->key, "unsupported value \"%s\" (supported: %s)",
                                    value, list);
        }
        return config_parse_string(ctx, item, value, data);
}

static int config_parse_mta_type(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        return config_parse_choice(ctx, item, value, data, mta_types);
}

static int config_parse_probe_type(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        return config_parse_choice(ctx, item, value, data, probe_types);
}

static int config_parse_alert_format(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        return config_parse_choice(ctx, item, value, data, alert_formats);
}

/* "Name: value" for one more request header. The name is an RFC 9110 token;
 * CR and LF are refused so a value cannot smuggle further headers. */
static int config_parse_header(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        static const char tchar[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
        char ***l = data, **t;
        size_t name_len = strspn(value, tchar), n = 0;
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

        while (*l && (*l)[n])
                n++;
        t = reallocarray(*l, n + 2, sizeof(char *));
        if (!t)
                return config_oom(ctx);
        *l = t;
        if (asprintf(&t[n], "%.*s: %s", (int) name_len, value, v) < 0) {
                t[n] = NULL;
                return config_oom(ctx);
        }
        t[n + 1] = NULL;
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

static int config_parse_ca_file(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        char hint[256] = "";

        if (value[0] == '/' && access(value, R_OK) < 0) {
                int e = errno;

                return config_error(ctx, ctx->line, item->key, "%s: %s%s", value, strerror(e),
                                    e == EACCES ? config_reader_hint(hint, sizeof(hint)) : "");
        }
        return config_parse_path(ctx, item, value, data);
}

static int config_parse_secret_file(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
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

static void config_print_secret_file(FILE *f, const void *data) {
        const AlertConfig *a = data;
        fputs(a->secret_file ? a->secret_file : "", f);
}

static int config_parse_unit(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
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

static int config_parse_url(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        const char *rest = NULL;

        if (strncasecmp(value, "http://", 7) == 0)
                rest = value + 7;
        else if (strncasecmp(value, "https://", 8) == 0)
                rest = value + 8;

        if (!rest || *rest == '\0' || *rest == '/')
                return config_error(ctx, ctx->line, item->key, "\"%s\" is not an http:// or https:// URL", value);
        return config_parse_word(ctx, item, value, data);
}

static void config_print_string(FILE *f, const void *data) {
        const char *const *s = data;
        fputs(*s ? *s : "", f);
}

static int config_parse_bool(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        static const char *const yes[] = { "yes", "true", "on", "1", NULL };
        static const char *const no[] = { "no", "false", "off", "0", NULL };
        bool *b = data;

        for (const char *const *i = yes; *i; i++)
                if (strcasecmp(value, *i) == 0) {
                        *b = true;
                        return 0;
                }
        for (const char *const *i = no; *i; i++)
                if (strcasecmp(value, *i) == 0) {
                        *b = false;
                        return 0;
                }
        return config_error(ctx, ctx->line, item->key, "\"%s\" is not a boolean (yes/no)", value);
}

static void config_print_bool(FILE *f, const void *data) {
        fputs(*(const bool *) data ? "yes" : "no", f);
}

static int parse_number(ParseContext *ctx, const ConfigItem *item, const char *value,
                        unsigned long long max, unsigned long long *ret) {
        const char *p = value;
        uint64_t v;
        int r;

        r = parse_u64(&p, &v);
        if (r == -EINVAL || (r >= 0 && *p != '\0'))
                return config_error(ctx, ctx->line, item->key, "\"%s\" is not a number", value);
        if (r == -ERANGE || v > max || v < item->min)
                return config_error(ctx, ctx->line, item->key, "%s is out of range (%llu..%llu)",
                                    value, item->min, max);
        *ret = v;
        return 0;
}

static int config_parse_unsigned(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        unsigned long long v;
        int r;

        r = parse_number(ctx, item, value, UINT_MAX, &v);
        if (r < 0)
                return r;
        *(unsigned *) data = (unsigned) v;
        return 0;
}

/* The detector remembers each restart of the window (DETECTOR_RESTARTS_MAX). */
static int config_parse_restart_count(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        unsigned long long v;
        int r;

        r = parse_number(ctx, item, value, MAX_RESTARTS_LIMIT, &v);
        if (r < 0)
                return r;
        *(unsigned *) data = (unsigned) v;
        return 0;
}

static void config_print_unsigned(FILE *f, const void *data) {
        fprintf(f, "%u", *(const unsigned *) data);
}

static int config_parse_port(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        unsigned long long v;
        int r;

        r = parse_number(ctx, item, value, UINT16_MAX, &v);
        if (r < 0)
                return r;
        *(uint16_t *) data = (uint16_t) v;
        return 0;
}

static void config_print_port(FILE *f, const void *data) {
        fprintf(f, "%u", (unsigned) *(const uint16_t *) data);
}

static int config_parse_duration(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        uint64_t v;
        int r;

        r = parse_duration(value, &v);
        if (r == -ERANGE)
                return config_error(ctx, ctx->line, item->key, "duration \"%s\" is too large", value);
        if (r < 0)
                return config_error(ctx, ctx->line, item->key,
                                    "\"%s\" is not a duration (e.g. 30s, 5m, 1h30m, 250ms)", value);
        if (v < item->min)
                return config_error(ctx, ctx->line, item->key, "duration must be greater than 0");
        /* Beyond a year a setting is a typo, and timer arithmetic stays far from overflow. */
        if (v > DURATION_MAX_USEC)
                return config_error(ctx, ctx->line, item->key, "duration \"%s\" is too large (at most 365d)", value);
        *(uint64_t *) data = v;
        return 0;
}

static void config_print_duration(FILE *f, const void *data) {
        char buf[FORMAT_DURATION_MAX];
        const char *s = format_duration(buf, sizeof buf, *(const uint64_t *) data);

        fputs(s ? s : "?", f);
}

/* A duration, or "auto" (stored as USEC_INFINITY). */
static int config_parse_duration_auto(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        if (strcmp(value, "auto") == 0) {
                *(uint64_t *) data = USEC_INFINITY;
                return 0;
        }
        return config_parse_duration(ctx, item, value, data);
}

static void config_print_duration_auto(FILE *f, const void *data) {
        if (*(const uint64_t *) data == USEC_INFINITY)
                fputs("auto", f);
        else
                config_print_duration(f, data);
}

#define REGEX_PARTS_MAX 10000U
#define REGEX_NEST_MAX 32

static uint64_t parts_mul(uint64_t a, uint64_t b) {
        return a > 0 && b > UINT64_MAX / 1024 / a ? UINT64_MAX / 1024 : a * b;
}

/* How many parts the regex compiler builds for the ERE P (regex(7)), roughly: glibc's
 * regcomp() copies a repeated atom for "+" (twice) and for "{m,n}" (max(m,n)+1 times),
 * so stacked or nested repetitions multiply ("a++++...", "((a{99}){99}){99}") and can
 * take gigabytes. Returns the estimate (saturating), or UINT64_MAX when groups nest
 * deeper than REGEX_NEST_MAX. Syntax errors are left to regcomp(). */
static uint64_t regex_parts(const char *p) {
        struct { uint64_t total, last; } st[REGEX_NEST_MAX + 1] = {};
        unsigned depth = 0;

        for (; *p; p++) {
                uint64_t atom = 1;

                switch (*p) {
                case '(':
                        if (++depth > REGEX_NEST_MAX)
                                return UINT64_MAX;
                        st[depth].total = st[depth].last = 0;
                        continue;
                case ')':
                        if (depth == 0)
                                break;  /* a literal ")" */
                        atom = MAX_OF(st[depth].total + st[depth].last, (uint64_t) 1);
                        depth--;
                        break;
                case '|':
                        st[depth].total += st[depth].last;
                        st[depth].last = 0;
                        continue;
                case '*':
                case '?':
                        continue;
                case '+':
                        st[depth].last = parts_mul(st[depth].last, 2);
                        continue;
                case '{': {
                        char *end;
                        unsigned long m = strtoul(p + 1, &end, 10), n = m;

                        if (end == p + 1)
                                break;  /* not an interval: a literal "{" */
                        if (*end == ',')
                                n = end[1] == '}' ? m + 1 : strtoul(end + 1, &end, 10);
                        st[depth].last = parts_mul(st[depth].last, (uint64_t) MAX_OF(m, n) + 1);
                        p = strchrnul(p, '}');
                        if (!*p)
                                p--;
                        continue;
                }
                case '\\':
                        if (p[1])
                                p++;
                        break;
                case '[':
                        /* a bracket expression: "]" first (after "^") is a member */
                        p++;
                        if (*p == '^')
                                p++;
                        if (*p == ']')
                                p++;
                        for (; *p && *p != ']'; p++)
                                if (*p == '[' && (p[1] == ':' || p[1] == '=' || p[1] == '.')) {
                                        const char *close = strstr(p + 2, (char[]) { p[1], ']', 0 });
                                        p = close ? close + 1 : p + 1;
                                }
                        if (!*p)
                                p--;
                        break;
                default:
                        break;
                }
                st[depth].total += st[depth].last;
                st[depth].last = atom;
                if (st[depth].total > UINT64_MAX / 2)
                        return UINT64_MAX;
        }
        /* Groups left open: regcomp() rejects them, but only after building what
         * came before the end, so they count as closed here. */
        for (; depth > 0; depth--) {
                uint64_t atom = MAX_OF(st[depth].total + st[depth].last, (uint64_t) 1);

                st[depth - 1].total += st[depth - 1].last;
                st[depth - 1].last = atom;
        }
        return st[0].total + st[0].last;
}

/* A POSIX extended regular expression (regex(7)) with at least one group. */
static int config_parse_regex(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        regex_t re;
        int k;

        if (regex_parts(value) > REGEX_PARTS_MAX)
                return config_error(ctx, ctx->line, item->key,
                                    "the regular expression is too complex (repetitions such as + and {m,n} "
                                    "multiply it to more than %u parts)", REGEX_PARTS_MAX);
        k = regcomp(&re, value, REG_EXTENDED);
        if (k != 0) {
                char err[128];

                (void) regerror(k, &re, err, sizeof err);
                return config_error(ctx, ctx->line, item->key, "bad regular expression: %s", err);
        }
        k = re.re_nsub;
        regfree(&re);
        if (k < 1)
                return config_error(ctx, ctx->line, item->key,
                                    "the regular expression needs a capture group (...)");
        return config_parse_string(ctx, item, value, data);
}

static int config_parse_log_level(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        for (size_t i = 0; i < ELEMENTSOF(log_level_table); i++)
                if (strcmp(log_level_table[i].name, value) == 0) {
                        *(int *) data = log_level_table[i].level;
                        return 0;
                }
        return config_error(ctx, ctx->line, item->key,
                            "unknown log level \"%s\" (debug, info, notice, warning, error)", value);
}

static void config_print_log_level(FILE *f, const void *data) {
        int level = *(const int *) data;

        for (size_t i = 0; i < ELEMENTSOF(log_level_table); i++)
                if (log_level_table[i].level == level) {
                        fputs(log_level_table[i].name, f);
                        return;
                }
        fprintf(f, "%d", level);
}

static int config_parse_argv(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
        _cleanup_(strv_freep) char **l = NULL;
        char ***argv = data;

        if (strv_split(value, &l) < 0)
                return config_oom(ctx);
        if (!l[0])
                return config_error(ctx, ctx->line, item->key, "empty command");
        if (string_has_cc(value))
                return config_error(ctx, ctx->line, item->key, "control character in value");
        /* Run without a shell: a relative path would depend on our cwd. */
        if (l[0][0] != '/' && strchr(l[0], '/'))
                return config_error(ctx, ctx->line, item->key,
                                    "\"%s\" must be an absolute path or a bare command name", l[0]);

        strv_free(*argv);
        *argv = TAKE_PTR(l);
        return 0;
}

static void config_print_argv(FILE *f, const void *data) {
        char *const *argv = *(char **const *) data;

        for (size_t i = 0; argv && argv[i]; i++)
                fprintf(f, "%s%s", i > 0 ? " " : "", argv[i]);
}

static int config_parse_actions(ParseContext *ctx, const ConfigItem *item, const char *value, void *data) {
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
        return 0;
}

static void config_print_actions(FILE *f, const void *data) {
        const Config *c = data;

        for (size_t i = 0; i < c->n_actions; i++)
                fprintf(f, "%s%s", i > 0 ? " " : "", action_type_to_string(c->actions[i]));
}

#define W(key, parse, print, field, min) \
        { SECTION_WATCHDOG, key, config_parse_##parse, config_print_##print, offsetof(Config, field), min, false }
#define M(key, parse, print, field, min) \
        { SECTION_MTA, key, config_parse_##parse, config_print_##print, offsetof(Config, field), min, false }
#define P(key, parse, print, field, min) \
        { SECTION_PROBE, key, config_parse_##parse, config_print_##print, offsetof(ProbeConfig, field), min, false }
#define A(key, parse, print, field, min) \
        { SECTION_ALERT, key, config_parse_##parse, config_print_##print, offsetof(AlertConfig, field), min, false }

/* Keys of each section, in the order config_dump() prints them. */
static const ConfigItem config_items[] = {
        W("interval",            duration,    duration,  interval_usec,        1),
        W("state_dir",           path,        string,    state_dir,            0),
        W("hostname",            word,        string,    hostname,             0),
        W("dry_run",             bool,        bool,      dry_run,              0),
        W("log_level",           log_level,   log_level, log_level,            0),
        W("metrics_file",        metrics_file, string,   metrics_file,         0),

        M("name",                word,        string,    mta_name,             0),
        M("type",                mta_type,    string,    mta_type,             0),
        M("unit",                unit,        string,    unit,                 0),
        M("queue_directory",     path,        string,    queue_directory,      0),
        M("overdue_slack",       duration_auto, duration_auto, overdue_slack_usec, 0),
        M("activity_pattern",    regex,       string,    activity_pattern,     0),
        M("error_pattern",       regex,       string,    error_pattern,        0),
        M("unknown_alert_after", duration,    duration,  unknown_alert_after_usec, 1),
        M("outage_alert_after",  duration,    duration,  outage_alert_after_usec,  0),
        M("flush_command",       argv,        argv,      flush_command,        0),
        M("flush_timeout",       duration,    duration,  flush_timeout_usec,   1),
        M("fail_threshold",      unsigned,    unsigned,  fail_threshold,       1),
        M("ok_threshold",        unsigned,    unsigned,  ok_threshold,         1),
        M("restore_grace",       duration,    duration,  restore_grace_usec,   0),
        M("stall_after",         duration,    duration,  stall_after_usec,     1),
        M("min_backlog",         unsigned,    unsigned,  min_backlog,          1),
        /* Sets actions and n_actions: gets the whole Config. */
        { SECTION_MTA, "actions", config_parse_actions, config_print_actions, 0, 0, false },
        M("flush_after_restart", bool,        bool,      flush_after_restart,  0),
        M("verify_after",        duration,    duration,  verify_after_usec,    1),
        M("restart_timeout",     duration,    duration,  restart_timeout_usec, 1),
        M("max_restarts",        restart_count, unsigned,  max_restarts,         0),
        M("restart_window",      duration,    duration,  restart_window_usec,  1),
        M("giveup_holddown",     duration,    duration,  giveup_holddown_usec, 1),

        P("type",                probe_type,  string,    type,                 0),
        P("host",                word,        string,    host,                 0),
        P("port",                port,        port,      port,                 1),
        P("timeout",             duration,    duration,  timeout_usec,         1),

        A("url",                 url,         string,    url,                  0),
        A("format",              alert_format, string,   format,               0),
        A("timeout",             duration,    duration,  timeout_usec,         1),
        A("ca_file",             ca_file,     string,    ca_file,              0),
        { SECTION_ALERT, "header", config_parse_header, NULL, offsetof(AlertConfig, headers), 0, true },
        /* Sets secret_file and the key: gets the whole AlertConfig. */
        { SECTION_ALERT, "secret_file", config_parse_secret_file, config_print_secret_file, 0, 0, false },
        A("retry_initial",       duration,    duration,  retry_initial_usec,   1),
        A("retry_max",           duration,    duration,  retry_max_usec,       1),
        A("max_age",             duration,    duration,  max_age_usec,         1),
        A("max_queued",          unsigned,    unsigned,  max_queued,           1),
        A("resend_interval",     duration,    duration,  resend_interval_usec, 1),
};
static const size_t config_items_n = ELEMENTSOF(config_items);

#undef W
#undef M
#undef P
#undef A

/* Line of each item's assignment in the current section, 0 if not set. */
typedef unsigned ItemLines[ELEMENTSOF(config_items)];

/* Defaults */

static int probe_config_init(ProbeConfig *p, const char *name, unsigned line) {
        *p = (ProbeConfig) {
                .port = DEFAULT_PROBE_PORT,
                .timeout_usec = DEFAULT_PROBE_TIMEOUT_USEC,
                .line = line,
        };
        p->name = strdup(name);
        return p->name ? 0 : -ENOMEM;
}

static void probe_config_done(ProbeConfig *p) {
        free(p->name);
        free(p->type);
        free(p->host);
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
}

static bool streq_ptr(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

bool alert_config_equal(const AlertConfig *a, const AlertConfig *b) {
        size_t i;

        if (!streq_ptr(a->name, b->name) || !streq_ptr(a->url, b->url) || !streq_ptr(a->format, b->format) ||
            a->timeout_usec != b->timeout_usec || !streq_ptr(a->ca_file, b->ca_file) ||
            !streq_ptr(a->secret_file, b->secret_file) || a->secret_size != b->secret_size ||
            (a->secret_size > 0 && memcmp(a->secret, b->secret, a->secret_size) != 0) ||
            a->retry_initial_usec != b->retry_initial_usec || a->retry_max_usec != b->retry_max_usec ||
            a->max_age_usec != b->max_age_usec || a->max_queued != b->max_queued ||
            a->resend_interval_usec != b->resend_interval_usec)
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
        free(c->mta_name);
        free(c->mta_type);
        free(c->unit);
        free(c->queue_directory);
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
                .overdue_slack_usec = USEC_INFINITY,
                .unknown_alert_after_usec = DEFAULT_UNKNOWN_ALERT_AFTER_USEC,
                .outage_alert_after_usec = DEFAULT_OUTAGE_ALERT_AFTER_USEC,
                .giveup_holddown_usec = USEC_PER_HOUR,
                .restart_window_usec = DEFAULT_RESTART_WINDOW_USEC,
        };

        c->path = strdup(path);
        c->state_dir = strdup(DEFAULT_STATE_DIR);
        c->mta_name = strdup(DEFAULT_MTA_NAME);
        c->mta_type = strdup(DEFAULT_MTA_TYPE);
        c->queue_directory = strdup(DEFAULT_QUEUE_DIRECTORY);
        if (!c->path || !c->state_dir || !c->mta_name || !c->mta_type || !c->queue_directory)
                return -ENOMEM;
        if (strv_split(DEFAULT_FLUSH_COMMAND, &c->flush_command) < 0)
                return -ENOMEM;

        *ret = TAKE_PTR(c);
        return 0;
}

/* Sections */

static bool section_name_valid(const char *s) {
        return *s != '\0' && strlen(s) <= SECTION_NAME_MAX &&
                s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")] == '\0';
}

static int config_section_start(ParseContext *ctx, const char *name, ItemLines lines) {
        Config *c = ctx->config;
        const char *suffix = NULL;
        char *t;

        t = strdup(name);
        if (!t)
                return config_oom(ctx);
        free(ctx->section);
        ctx->section = t;
        ctx->section_type = SECTION_NONE;
        ctx->base = NULL;
        memset(lines, 0, sizeof(ItemLines));

        if (strcmp(name, "watchdog") == 0 || strcmp(name, "mta") == 0) {
                bool mta = name[0] == 'm';
                unsigned *first = mta ? &ctx->mta_line : &ctx->watchdog_line;

                ctx->section_type = mta ? SECTION_MTA : SECTION_WATCHDOG;
                if (*first > 0)
                        return config_error(ctx, ctx->line, NULL, "duplicate section (first on line %u)", *first);
                *first = ctx->line;
                ctx->base = c;
                return 0;
        }

        if (strncmp(name, "probe:", 6) == 0) {
                suffix = name + 6;
                ctx->section_type = SECTION_PROBE;
        } else if (strncmp(name, "alert:", 6) == 0) {
                suffix = name + 6;
                ctx->section_type = SECTION_ALERT;
        } else
                return config_error(ctx, ctx->line, NULL,
                                    "unknown section (expected [watchdog], [mta], [probe:NAME], [alert:NAME])");

        if (!section_name_valid(suffix))
                return config_error(ctx, ctx->line, NULL,
                                    "invalid name \"%s\" (1-%d characters of A-Z a-z 0-9 _ . -)",
                                    suffix, SECTION_NAME_MAX);

        if (ctx->section_type == SECTION_PROBE) {
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
                ctx->base = &p[c->n_probes++];
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
                ctx->base = &a[c->n_alerts++];
        }
        return 0;
}

/* inih glue.
 *
 * Debian's inih passes no line numbers to the handler and does not call it
 * for empty sections, so lines come through our own reader, which also
 * sees every section header. The reader hands inih one whole line at a
 * time with leading whitespace removed, which also turns off inih's
 * indentation-continues-the-value rule (a second call for the same key
 * would look like a duplicate). */

typedef struct ReaderState {
        ParseContext *ctx;
        ItemLines lines;
} ReaderState;

/* Index of the first ';' that inih treats as an inline comment, or strlen(s). */
static size_t inline_comment(const char *s) {
        for (size_t i = 0; s[i]; i++)
                if (s[i] == ';' && i > 0 && isspace((unsigned char) s[i - 1]))
                        return i;
        return strlen(s);
}

static int reader_check_line(ReaderState *st, char *p) {
        ParseContext *ctx = st->ctx;
        size_t end = inline_comment(p);

        if (*p == '\0' || *p == ';' || *p == '#')
                return 0;

        if (*p == '[') {
                char *close = memchr(p, ']', end);
                const char *rest;

                ctx->section_type = SECTION_NONE;
                free(ctx->section);
                ctx->section = NULL;
                if (!close)
                        return config_error(ctx, ctx->line, NULL, "section header without closing ']'");
                rest = close + 1;
                rest += strspn(rest, WHITESPACE);
                if (*rest != '\0' && *rest != ';' && *rest != '#')
                        return config_error(ctx, ctx->line, NULL, "unexpected text after ']'");

                *close = '\0';
                (void) config_section_start(ctx, p + 1, st->lines);
                *close = ']';
                return ctx->r;
        }

        if (strcspn(p, "=:") >= end || strchr("=:", *p))
                return config_error(ctx, ctx->line, NULL, "expected \"key = value\"");
        return 0;
}

static char *config_reader(char *str, int num, void *userdata) {
        ReaderState *st = userdata;
        ParseContext *ctx = st->ctx;
        ssize_t n;
        char *p;
        size_t len;

        if (ctx->r < 0)
                return NULL;

        errno = 0;
        n = getline(&ctx->buf, &ctx->buf_size, ctx->f);
        if (n < 0) {
                if (ferror(ctx->f))
                        ctx->r = log_error_errno(errno != 0 ? errno : EIO, "%s: %m", ctx->path);
                return NULL;
        }
        ctx->line++;

        p = ctx->buf;
        if (ctx->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
                p += 3;
        if (strlen(ctx->buf) != (size_t) n) {
                (void) config_error(ctx, ctx->line, NULL, "NUL byte in line");
                return NULL;
        }

        p += strspn(p, WHITESPACE);
        len = strlen(p);
        while (len > 0 && strchr(WHITESPACE, p[len - 1]))
                p[--len] = '\0';

        if (num <= 0 || len >= (size_t) num) {
                (void) config_error(ctx, ctx->line, NULL, "line too long (more than %d characters)",
                                    num > 0 ? num - 1 : 0);
                return NULL;
        }

        if (reader_check_line(st, p) < 0)
                return NULL;

        memcpy(str, p, len + 1);
        return str;
}

static int config_handler(void *userdata, const char *section, const char *key, const char *value) {
        ReaderState *st = userdata;
        ParseContext *ctx = st->ctx;
        const ConfigItem *item = NULL;
        size_t i;

        if (ctx->r < 0)
                return 0;

        if (ctx->section_type == SECTION_NONE) {
                (void) config_error(ctx, ctx->line, key, "key outside of any section");
                return 0;
        }

        for (i = 0; i < config_items_n; i++)
                if (config_items[i].section == ctx->section_type && strcmp(config_items[i].key, key) == 0) {
                        item = &config_items[i];
                        break;
                }
        if (!item) {
                (void) config_error(ctx, ctx->line, key, "unknown key");
                return 0;
        }
        if (st->lines[i] > 0 && !item->repeatable) {
                (void) config_error(ctx, ctx->line, key, "duplicate key (first set on line %u)", st->lines[i]);
                return 0;
        }
        st->lines[i] = ctx->line;

        /* "key =;x" keeps ";x" (inih starts an inline comment only after a space), but the
         * same value written back by --check-config, "key = ;x", is a comment: refused, so
         * that every accepted file means the same when dumped and read again. */
        if (value[0] == ';' || value[0] == '#') {
                (void) config_error(ctx, ctx->line, key, "a value cannot begin with '%c' (it reads as a comment)",
                                    value[0]);
                return 0;
        }

        if (item->parse(ctx, item, value, (char *) ctx->base + item->offset) < 0)
                return 0;
        return 1;
}

/* Validation, after the whole file was read. */

static int config_missing(ParseContext *ctx, SectionType type, const char *section, unsigned line, const char *key) {
        ctx->section_type = type;
        free(ctx->section);
        ctx->section = strdup(section);
        if (!ctx->section)
                return config_oom(ctx);
        return config_error(ctx, line, key, "missing required key");
}

static int config_validate(ParseContext *ctx) {
        Config *c = ctx->config;
        char section[sizeof "probe:" + SECTION_NAME_MAX];

        if (ctx->mta_line == 0) {
                ctx->section_type = SECTION_NONE;
                log_error("%s: [mta]: section missing", ctx->path);
                return -EINVAL;
        }
        if (!c->unit)
                return config_missing(ctx, SECTION_MTA, "mta", ctx->mta_line, "unit");

        for (size_t i = 0; i < c->n_probes; i++) {
                ProbeConfig *p = &c->probes[i];

                (void) snprintf(section, sizeof section, "probe:%s", p->name);
                if (!p->type)
                        return config_missing(ctx, SECTION_PROBE, section, p->line, "type");
                if (strcmp(p->type, "smtp") == 0 && !p->host)
                        return config_missing(ctx, SECTION_PROBE, section, p->line, "host");
                /* A run still going at the next round would only ever be "overlapped". */
                if (p->timeout_usec >= c->interval_usec) {
                        char t[FORMAT_DURATION_MAX], iv[FORMAT_DURATION_MAX];

                        ctx->section_type = SECTION_PROBE;
                        free(ctx->section);
                        ctx->section = strdup(section);
                        if (!ctx->section)
                                return config_oom(ctx);
                        return config_error(ctx, p->line, "timeout", "%s is not shorter than [watchdog] interval (%s)",
                                            format_duration(t, sizeof t, p->timeout_usec),
                                            format_duration(iv, sizeof iv, c->interval_usec));
                }
        }

        for (size_t i = 0; i < c->n_alerts; i++) {
                AlertConfig *a = &c->alerts[i];

                (void) snprintf(section, sizeof section, "alert:%s", a->name);
                if (!a->url)
                        return config_missing(ctx, SECTION_ALERT, section, a->line, "url");
                if (a->retry_initial_usec > a->retry_max_usec) {
                        ctx->section_type = SECTION_ALERT;
                        free(ctx->section);
                        ctx->section = strdup(section);
                        if (!ctx->section)
                                return config_oom(ctx);
                        return config_error(ctx, a->line, "retry_initial", "larger than retry_max");
                }
        }

        /* The built-in log patterns of the MTA type, so that the effective
         * settings show them. */
        if (!c->activity_pattern && activity_default_pattern(c->mta_type)) {
                c->activity_pattern = strdup(activity_default_pattern(c->mta_type));
                if (!c->activity_pattern)
                        return config_oom(ctx);
        }
        if (!c->error_pattern && activity_default_error_pattern(c->mta_type)) {
                c->error_pattern = strdup(activity_default_error_pattern(c->mta_type));
                if (!c->error_pattern)
                        return config_oom(ctx);
        }

        if (!c->hostname) {
                char h[HOST_NAME_MAX + 1] = "";

                if (gethostname(h, sizeof h - 1) < 0 || h[0] == '\0')
                        return log_error_errno(errno != 0 ? errno : EINVAL,
                                               "%s: [watchdog] hostname: not set and gethostname() failed: %m",
                                               ctx->path);
                c->hostname = strdup(h);
                if (!c->hostname)
                        return config_oom(ctx);
        }

        return 0;
}

int config_load(const char *path, Config **ret) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        ParseContext ctx = { .path = path };
        ReaderState st = { .ctx = &ctx };
        int r;

        if (!path || !ret)
                return -EINVAL;

        /* O_NONBLOCK: opening a FIFO must not wait for a writer; a FIFO or a
         * device is refused below, as it would block or never end. */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return log_error_errno(errno, "%s: %m", path);
        f = fdopen(fd, "r");
        if (!f) {
                r = log_error_errno(errno, "%s: %m", path);
                (void) close(fd);
                return r;
        }

        struct stat st_file;
        if (fstat(fileno(f), &st_file) < 0)
                return log_error_errno(errno, "%s: %m", path);
        if (S_ISDIR(st_file.st_mode))
                return log_error_errno(EISDIR, "%s: %m", path);
        if (!S_ISREG(st_file.st_mode)) {
                log_error("%s: not a regular file", path);
                return -EINVAL;
        }
        if (st_file.st_size > CONFIG_FILE_MAX) {
                log_error("%s: larger than %d bytes", path, CONFIG_FILE_MAX);
                return -EFBIG;
        }

        r = config_new(path, &c);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");

        ctx.f = f;
        ctx.config = c;

        r = ini_parse_stream(config_reader, &st, config_handler, &st);
        if (ctx.r == 0 && r < 0)
                ctx.r = log_error_errno(ENOMEM, "%s: %m", path);
        else if (ctx.r == 0 && r > 0)
                /* A rule inih has and our reader does not know; should not happen. */
                (void) config_error(&ctx, (unsigned) r, NULL, "syntax error");

        if (ctx.r == 0)
                ctx.r = config_validate(&ctx);

        free(ctx.buf);
        free(ctx.section);
        if (ctx.r < 0)
                return ctx.r;

        *ret = TAKE_PTR(c);
        return 0;
}

/* Dumping */

static void config_dump_section(FILE *f, SectionType type, const void *base) {
        for (size_t i = 0; i < config_items_n; i++) {
                if (config_items[i].section != type)
                        continue;
                const void *p = (const char *) base + config_items[i].offset;
                if ((config_items[i].print == config_print_string && !*(char *const *) p) ||
                    (config_items[i].print == config_print_secret_file && !((const AlertConfig *) p)->secret_file)) {
                        fprintf(f, "; %s = (not set)\n", config_items[i].key);
                        continue;
                }
                if (config_items[i].repeatable) {
                        config_print_header(f, config_items[i].key, (const char *) base + config_items[i].offset);
                        continue;
                }
                fprintf(f, "%s = ", config_items[i].key);
                config_items[i].print(f, (const char *) base + config_items[i].offset);
                fputc('\n', f);
        }
}

void config_dump(const Config *c, FILE *f) {
        fprintf(f, "# effective configuration of %s\n", c->path);

        fputs("\n[watchdog]\n", f);
        config_dump_section(f, SECTION_WATCHDOG, c);
        fputs("\n[mta]\n", f);
        config_dump_section(f, SECTION_MTA, c);

        for (size_t i = 0; i < c->n_probes; i++) {
                fprintf(f, "\n[probe:%s]\n", c->probes[i].name);
                config_dump_section(f, SECTION_PROBE, &c->probes[i]);
        }
        for (size_t i = 0; i < c->n_alerts; i++) {
                fprintf(f, "\n[alert:%s]\n", c->alerts[i].name);
                config_dump_section(f, SECTION_ALERT, &c->alerts[i]);
        }
}
