/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf-parser.h"
#include "duration.h"
#include "log.h"
#include "regex-util.h"
#include "strv.h"

/* Beyond a year a setting is a typo, and timer arithmetic stays far from overflow. */
#define DURATION_MAX_USEC (365 * USEC_PER_DAY)

int config_oom(ConfigContext *ctx) {
        log_error("Out of memory.");
        ctx->n_errors++;
        ctx->fatal = true;
        if (ctx->r == 0)
                ctx->r = -ENOMEM;
        return -ENOMEM;
}

/* "SECTION KEY": section names hold no blank (section_name_valid() in
 * config.c), keys none either. */
static char *failed_name(const char *section, const char *key) {
        char *t = NULL;

        if (asprintf(&t, "%s %s", section ? section : "", key) < 0)
                return NULL;
        return t;
}

bool config_key_failed(const ConfigContext *ctx, const char *section, const char *key) {
        _cleanup_free_ char *name = failed_name(section, key);

        /* Not knowing (no memory) must not let a check report nonsense. */
        if (!name)
                return true;
        for (char **i = ctx->failed; i && *i; i++)
                if (strcmp(*i, name) == 0)
                        return true;
        return false;
}

bool config_section_failed(const ConfigContext *ctx, const char *section) {
        return config_key_failed(ctx, section, "");
}

void config_context_done(ConfigContext *ctx) {
        free(ctx->section);
        ctx->section = NULL;
        ctx->failed = strv_free(ctx->failed);
}

int config_error(ConfigContext *ctx, unsigned line, const char *key, const char *fmt, ...) {
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

        ctx->n_errors++;
        if (key && !config_key_failed(ctx, ctx->section, key) &&
            strv_push(&ctx->failed, failed_name(ctx->section, key)) < 0)
                return config_oom(ctx);
        if (ctx->r == 0)
                ctx->r = -EINVAL;
        return -EINVAL;
}

int config_set_section(ConfigContext *ctx, const char *name) {
        char *t = NULL;

        if (name) {
                t = strdup(name);
                if (!t)
                        return config_oom(ctx);
        }
        free(ctx->section);
        ctx->section = t;
        return 0;
}

void config_pending_list_done(ConfigPendingList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++) {
                free(l->entries[i].key);
                free(l->entries[i].value);
        }
        free(l->entries);
        *l = (ConfigPendingList) {};
}

int config_pending_add(ConfigPendingList *l, const char *key, const char *value, unsigned line) {
        ConfigPending *t;

        t = reallocarray(l->entries, l->n + 1, sizeof(ConfigPending));
        if (!t)
                return -ENOMEM;
        l->entries = t;
        t[l->n] = (ConfigPending) { .key = strdup(key), .value = strdup(value), .line = line };
        if (!t[l->n].key || !t[l->n].value) {
                free(t[l->n].key);
                free(t[l->n].value);
                return -ENOMEM;
        }
        l->n++;
        return 0;
}

const ConfigItem *config_item_find(const ConfigItem *items, const char *key) {
        for (; items && items->key; items++)
                if (strcmp(items->key, key) == 0)
                        return items;
        return NULL;
}

static int config_parse_item(ConfigContext *ctx, const ConfigItem *item, const char *value, void *base) {
        /* "key =;x" keeps ";x" (inih starts an inline comment only after a space), but the
         * same value written back by --check-config, "key = ;x", is a comment: refused, so
         * that every accepted file means the same when dumped and read again. */
        if (value[0] == ';' || value[0] == '#')
                return config_error(ctx, ctx->line, item->key,
                                    "a value cannot begin with '%c' (it reads as a comment)", value[0]);
        return item->parse(ctx, item, value, (char *) base + item->offset);
}

int config_apply_pending(ConfigContext *ctx, const ConfigPendingList *l, const ConfigItem *items,
                         void *base, unsigned section_line) {
        int r = 0;

        for (size_t i = 0; l && i < l->n; i++) {
                const ConfigItem *item = config_item_find(items, l->entries[i].key);

                ctx->line = l->entries[i].line;
                if (!item)
                        r = config_error(ctx, ctx->line, l->entries[i].key, "unknown key");
                else if (config_parse_item(ctx, item, l->entries[i].value, base) < 0)
                        r = -EINVAL;
                if (ctx->fatal)
                        return -ENOMEM;
        }

        for (const ConfigItem *item = items; item && item->key; item++) {
                bool given = false;

                if (!item->required)
                        continue;
                for (size_t i = 0; l && i < l->n && !given; i++)
                        given = strcmp(l->entries[i].key, item->key) == 0;
                if (!given)
                        r = config_error(ctx, section_line, item->key, "missing required key");
                if (ctx->fatal)
                        return -ENOMEM;
        }
        return r;
}

/* The reader.
 *
 * Debian's inih passes no line numbers to the handler and does not call it
 * for empty sections, so lines come through our own reader, which also
 * sees every section header. The reader hands inih one whole line at a
 * time with leading whitespace removed, which also turns off inih's
 * indentation-continues-the-value rule (a second call for the same key
 * would look like a duplicate). */

typedef struct SeenKey {
        char *key;
        unsigned line;
} SeenKey;

typedef struct ReaderState {
        ConfigContext *ctx;
        FILE *f;
        char *buf;
        size_t buf_size;

        ConfigSectionStart section_start;
        void *userdata;
        bool in_section;
        bool skip_section;               /* its header was refused: its keys are not read */
        ConfigSection section;

        SeenKey *seen;                   /* keys of the current section so far */
        size_t n_seen;
} ReaderState;

static void reader_forget_keys(ReaderState *st) {
        for (size_t i = 0; i < st->n_seen; i++)
                free(st->seen[i].key);
        free(st->seen);
        st->seen = NULL;
        st->n_seen = 0;
}

/* Index of the first ';' that inih treats as an inline comment, or strlen(s). */
static size_t inline_comment(const char *s) {
        for (size_t i = 0; s[i]; i++)
                if (s[i] == ';' && i > 0 && isspace((unsigned char) s[i - 1]))
                        return i;
        return strlen(s);
}

/* The section read so far is complete. */
static int reader_section_end(ReaderState *st) {
        bool in_section = st->in_section;
        unsigned line = st->ctx->line;

        st->in_section = false;
        if (!in_section || !st->section.end || st->ctx->fatal)
                return st->ctx->r;
        (void) st->section.end(st->ctx, st->section.base, st->userdata);
        st->ctx->line = line;  /* the kept keys' lines were the current ones meanwhile */
        return st->ctx->r;
}

static int reader_section_start(ReaderState *st, const char *name) {
        ConfigContext *ctx = st->ctx;
        int r;

        reader_forget_keys(st);
        st->in_section = false;
        st->skip_section = true;
        st->section = (ConfigSection) {};
        r = config_set_section(ctx, name);
        if (r < 0)
                return r;
        r = st->section_start(ctx, name, &st->section, st->userdata);
        if (r < 0)
                return r;
        st->in_section = true;
        st->skip_section = false;
        return 0;
}

/* Returns 0, or < 0 when the line is not to be read (the error logged). */
static int reader_check_line(ReaderState *st, char *p) {
        ConfigContext *ctx = st->ctx;
        size_t end = inline_comment(p);
        int r;

        if (*p == '\0' || *p == ';' || *p == '#')
                return 0;

        if (*p == '[') {
                char *close = memchr(p, ']', end);
                const char *rest;

                (void) reader_section_end(st);
                if (ctx->fatal)
                        return -ENOMEM;
                reader_forget_keys(st);
                st->skip_section = true;  /* until a header is accepted */
                (void) config_set_section(ctx, NULL);
                rest = close ? close + 1 : p + end;
                rest += strspn(rest, WHITESPACE);
                if (!close || (*rest != '\0' && *rest != ';' && *rest != '#')) {
                        /* "[mta" is not a second error "[mta] section missing" */
                        char *name = strndup(p + 1, (close ? (size_t) (close - p) : end) - 1);

                        if (!name || strv_push(&ctx->failed, failed_name(name, "")) < 0) {
                                free(name);
                                return config_oom(ctx);
                        }
                        free(name);
                        return config_error(ctx, ctx->line, NULL, close ? "unexpected text after ']'" :
                                            "section header without closing ']'");
                }

                *close = '\0';
                r = reader_section_start(st, p + 1);
                *close = ']';
                return r;
        }

        if (strcspn(p, "=:") >= end || strchr("=:", *p))
                return config_error(ctx, ctx->line, NULL, "expected \"key = value\"");
        return 0;
}

static char *config_reader(char *str, int num, void *userdata) {
        ReaderState *st = userdata;
        ConfigContext *ctx = st->ctx;
        ssize_t n;
        char *p;
        size_t len;

        if (ctx->fatal || num <= 0)
                return NULL;

        errno = 0;
        n = getline(&st->buf, &st->buf_size, st->f);
        if (n < 0) {
                if (ferror(st->f)) {
                        ctx->r = log_error_errno(errno != 0 ? errno : EIO, "%s: %m", ctx->path);
                        ctx->n_errors++;
                        ctx->fatal = true;
                }
                return NULL;
        }
        ctx->line++;
        /* A line in error reaches inih as an empty one: reading goes on. */
        str[0] = '\0';

        p = st->buf;
        if (ctx->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
                p += 3;
        if (strlen(st->buf) != (size_t) n) {
                (void) config_error(ctx, ctx->line, NULL, "NUL byte in line");
                return ctx->fatal ? NULL : str;
        }

        p += strspn(p, WHITESPACE);
        len = strlen(p);
        while (len > 0 && strchr(WHITESPACE, p[len - 1]))
                p[--len] = '\0';

        if (len >= (size_t) num) {
                (void) config_error(ctx, ctx->line, NULL, "line too long (more than %d characters)", num - 1);
                return ctx->fatal ? NULL : str;
        }

        if (reader_check_line(st, p) < 0)
                return ctx->fatal ? NULL : str;

        memcpy(str, p, len + 1);
        return str;
}

static const ConfigItem *section_find(const ConfigSection *s, const char *key) {
        for (size_t t = 0; t < ELEMENTSOF(s->tables) && s->tables[t]; t++) {
                const ConfigItem *item = config_item_find(s->tables[t], key);

                if (item)
                        return item;
        }
        return NULL;
}

static int config_handler(void *userdata, const char *section, const char *key, const char *value) {
        ReaderState *st = userdata;
        ConfigContext *ctx = st->ctx;
        const ConfigItem *item;
        SeenKey *seen = NULL, *t;

        if (ctx->fatal || st->skip_section)
                return 0;

        if (!st->in_section) {
                (void) config_error(ctx, ctx->line, key, "key outside of any section");
                return 0;
        }

        item = section_find(&st->section, key);
        if (!item && (!st->section.pending ||
                      (st->section.pending_accepts && !st->section.pending_accepts(key)))) {
                (void) config_error(ctx, ctx->line, key, "unknown key");
                return 0;
        }

        for (size_t i = 0; i < st->n_seen; i++)
                if (strcmp(st->seen[i].key, key) == 0)
                        seen = &st->seen[i];
        if (seen && !(item && item->print_lines)) {
                (void) config_error(ctx, ctx->line, key, "duplicate key (first set on line %u)", seen->line);
                return 0;
        }
        if (!seen) {
                t = reallocarray(st->seen, st->n_seen + 1, sizeof(SeenKey));
                if (!t) {
                        (void) config_oom(ctx);
                        return 0;
                }
                st->seen = t;
                t[st->n_seen] = (SeenKey) { .key = strdup(key), .line = ctx->line };
                if (!t[st->n_seen].key) {
                        (void) config_oom(ctx);
                        return 0;
                }
                st->n_seen++;
        }

        if (!item) {
                if (config_pending_add(st->section.pending, key, value, ctx->line) < 0) {
                        (void) config_oom(ctx);
                        return 0;
                }
                return 1;
        }
        if (config_parse_item(ctx, item, value, st->section.base) < 0)
                return 0;
        return 1;
}

int config_parse_file(ConfigContext *ctx, ConfigSectionStart section_start, void *userdata) {
        _cleanup_fclose_ FILE *f = NULL;
        ReaderState st = { .ctx = ctx, .section_start = section_start, .userdata = userdata };
        struct stat sb;
        int fd, r;

        /* O_NONBLOCK: opening a FIFO must not wait for a writer; a FIFO or a
         * device is refused below, as it would block or never end. */
        fd = open(ctx->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return log_error_errno(errno, "%s: %m", ctx->path);
        f = fdopen(fd, "r");
        if (!f) {
                r = log_error_errno(errno, "%s: %m", ctx->path);
                (void) close(fd);
                return r;
        }
        if (fstat(fileno(f), &sb) < 0)
                return log_error_errno(errno, "%s: %m", ctx->path);
        if (S_ISDIR(sb.st_mode))
                return log_error_errno(EISDIR, "%s: %m", ctx->path);
        if (!S_ISREG(sb.st_mode)) {
                log_error("%s: not a regular file", ctx->path);
                return -EINVAL;
        }
        if (sb.st_size > CONFIG_FILE_MAX) {
                log_error("%s: larger than %d bytes", ctx->path, CONFIG_FILE_MAX);
                return -EFBIG;
        }

        st.f = f;
        r = ini_parse_stream(config_reader, &st, config_handler, &st);
        if (ctx->r == 0 && r < 0)
                ctx->r = log_error_errno(ENOMEM, "%s: %m", ctx->path);
        else if (ctx->r == 0 && r > 0)
                /* A rule inih has and our reader does not know; should not happen. */
                (void) config_error(ctx, (unsigned) r, NULL, "syntax error");
        (void) reader_section_end(&st);

        reader_forget_keys(&st);
        free(st.buf);
        return ctx->r;
}

/* Dumping */

void config_dump_items(FILE *f, const ConfigItem *items, const void *base) {
        for (const ConfigItem *item = items; item && item->key; item++) {
                const void *p = (const char *) base + item->offset;
                _cleanup_free_ char *text = NULL;
                size_t size = 0;
                FILE *m;
                bool set;

                if (item->print_lines) {
                        item->print_lines(f, item->key, p);
                        continue;
                }
                m = open_memstream(&text, &size);
                if (!m)
                        continue;
                set = item->print(m, p);
                if (fclose(m) != 0)
                        continue;
                if (set)
                        fprintf(f, "%s = %s\n", item->key, text);
                else
                        fprintf(f, "; %s = (not set)\n", item->key);
        }
}

/* Value parsers and printers */

int config_parse_string(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
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

int config_parse_path(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        if (value[0] != '/')
                return config_error(ctx, ctx->line, item->key, "\"%s\" is not an absolute path", value);
        return config_parse_string(ctx, item, value, data);
}

int config_parse_word(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        if (value[strcspn(value, WHITESPACE)] != '\0')
                return config_error(ctx, ctx->line, item->key, "\"%s\" contains whitespace", value);
        return config_parse_string(ctx, item, value, data);
}

int config_parse_choice(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data,
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

bool config_print_string(FILE *f, const void *data) {
        const char *const *s = data;

        if (!*s)
                return false;
        fputs(*s, f);
        return true;
}

int config_parse_bool(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
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

bool config_print_bool(FILE *f, const void *data) {
        fputs(*(const bool *) data ? "yes" : "no", f);
        return true;
}

int config_parse_number(ConfigContext *ctx, const ConfigItem *item, const char *value,
                        unsigned long long max, unsigned long long *ret) {
        const char *p = value;
        uint64_t v;
        int r;

        r = parse_uint64(&p, &v);
        if (r == -EINVAL || (r >= 0 && *p != '\0'))
                return config_error(ctx, ctx->line, item->key, "\"%s\" is not a number", value);
        if (r == -ERANGE || v > max || v < item->min)
                return config_error(ctx, ctx->line, item->key, "%s is out of range (%llu..%llu)",
                                    value, item->min, max);
        *ret = v;
        return 0;
}

int config_parse_unsigned(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        unsigned long long v = 0;
        int r = config_parse_number(ctx, item, value, UINT_MAX, &v);

        if (r < 0)
                return r;
        *(unsigned *) data = (unsigned) v;
        return 0;
}

bool config_print_unsigned(FILE *f, const void *data) {
        fprintf(f, "%u", *(const unsigned *) data);
        return true;
}

int config_parse_port(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        unsigned long long v = 0;
        int r = config_parse_number(ctx, item, value, UINT16_MAX, &v);

        if (r < 0)
                return r;
        *(uint16_t *) data = (uint16_t) v;
        return 0;
}

bool config_print_port(FILE *f, const void *data) {
        fprintf(f, "%u", (unsigned) *(const uint16_t *) data);
        return true;
}

int config_parse_duration(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
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
        if (v > DURATION_MAX_USEC)
                return config_error(ctx, ctx->line, item->key, "duration \"%s\" is too large (at most 365d)", value);
        *(uint64_t *) data = v;
        return 0;
}

bool config_print_duration(FILE *f, const void *data) {
        char buf[FORMAT_DURATION_MAX];
        const char *s = format_duration(buf, sizeof buf, *(const uint64_t *) data);

        fputs(s ? s : "?", f);
        return true;
}

int config_parse_duration_auto(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        if (strcmp(value, "auto") == 0) {
                *(uint64_t *) data = USEC_INFINITY;
                return 0;
        }
        return config_parse_duration(ctx, item, value, data);
}

bool config_print_duration_auto(FILE *f, const void *data) {
        if (*(const uint64_t *) data == USEC_INFINITY) {
                fputs("auto", f);
                return true;
        }
        return config_print_duration(f, data);
}

int config_check_regex(ConfigContext *ctx, const ConfigItem *item, const char *value, size_t *ret_groups) {
        regex_t re;
        int k;

        if (regex_estimate_parts(value) > REGEX_PARTS_MAX)
                return config_error(ctx, ctx->line, item->key,
                                    "the regular expression is too complex (repetitions such as + and {m,n} "
                                    "multiply it to more than %u parts)", REGEX_PARTS_MAX);
        k = regcomp(&re, value, REG_EXTENDED);
        if (k != 0) {
                char err[128];

                (void) regerror(k, &re, err, sizeof err);
                return config_error(ctx, ctx->line, item->key, "bad regular expression: %s", err);
        }
        if (ret_groups)
                *ret_groups = re.re_nsub;
        regfree(&re);
        return 0;
}

int config_parse_regex(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        size_t groups = 0;
        int r;

        r = config_check_regex(ctx, item, value, &groups);
        if (r < 0)
                return r;
        if (groups < 1)
                return config_error(ctx, ctx->line, item->key,
                                    "the regular expression needs a capture group (...)");
        return config_parse_string(ctx, item, value, data);
}

int config_parse_argv(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
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

bool config_print_argv(FILE *f, const void *data) {
        char *const *argv = *(char **const *) data;

        for (size_t i = 0; argv && argv[i]; i++)
                fprintf(f, "%s%s", i > 0 ? " " : "", argv[i]);
        return true;
}
