/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "macros.h"

/* The table-driven ini reader (in the manner of systemd's conf-parser):
 * each section maps to tables of ConfigItem {key, parser, printer, offset}
 * and a struct the parsers fill. Lines come through inih (ini_parse_stream,
 * Debian's libinih) one at a time from our own reader, which knows line
 * numbers, section headers and the file's limits; every error is logged
 * once as "FILE:LINE: [section] key: reason", and reading goes on, so
 * that one run names every error of the file: a line it cannot read is
 * skipped, a section whose header is refused is skipped up to the next
 * header, and a key that failed is remembered (config_key_failed()), so
 * that checks which would read its value are left out instead of
 * reporting a second, misleading error. Only running out of memory or a
 * read error stops the reader.
 *
 * Keys a section's tables do not list may be kept aside (ConfigPending)
 * and parsed later against another table, once the section's type is
 * known: [probe:NAME] keys belong to the probe type, [mta] keys to the
 * MTA type, and `type =` may come after them. */

#define CONFIG_FILE_MAX   (1024 * 1024)    /* bytes */
#define SECTION_NAME_MAX  64               /* NAME of [probe:NAME], [alert:NAME] */

typedef struct ConfigContext ConfigContext;
typedef struct ConfigItem ConfigItem;

/* Parses VALUE into DATA (the field at item->offset of the section's
 * struct). On error logs once through config_error() and returns -EINVAL
 * (or -ENOMEM). */
typedef int (*ConfigParser)(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data);
/* Writes the value at DATA as the ini file would hold it. Returns false,
 * writing nothing, when the key is not set (a NULL string). */
typedef bool (*ConfigPrinter)(FILE *f, const void *data);
/* For repeatable keys: writes every "KEY = value" line itself. */
typedef void (*ConfigLinesPrinter)(FILE *f, const char *key, const void *data);

struct ConfigItem {
        const char *key;                 /* NULL ends a table */
        ConfigParser parse;
        ConfigPrinter print;
        size_t offset;                   /* of the field in the section's struct */
        unsigned long long min;          /* numbers and durations: smallest value accepted */
        bool required;                   /* missing: an error naming the section's line */
        ConfigLinesPrinter print_lines;  /* non-NULL: the key may repeat, printed by this */
};

/* A key kept aside, with its line, until its table is known. */
typedef struct ConfigPending {
        char *key;
        char *value;
        unsigned line;
} ConfigPending;

typedef struct ConfigPendingList {
        ConfigPending *entries;
        size_t n;
} ConfigPendingList;

void config_pending_list_done(ConfigPendingList *l);
/* Appends copies of KEY and VALUE, with LINE (0: no line of the file), to
 * L. Returns 0 or -ENOMEM (L unchanged). */
int config_pending_add(ConfigPendingList *l, const char *key, const char *value, unsigned line);

/* What the keys of one section go to. */
typedef struct ConfigSection {
        const ConfigItem *tables[3];     /* searched in order; NULL ends early */
        void *base;                      /* the struct their offsets point into */
        ConfigPendingList *pending;      /* other keys go here; NULL: "unknown key" */
        /* With pending: whether KEY may belong to some type (a key no type
         * knows is "unknown key" at once); NULL: any key is kept. */
        bool (*pending_accepts)(const char *key);
        /* Called once the section's last line was read (at the next
         * header, or at the end of the file), with BASE: where the kept
         * keys are parsed, so that errors come in file order. NULL: none. */
        int (*end)(ConfigContext *ctx, void *base, void *userdata);
} ConfigSection;

/* Called at each section header with NAME, the text in the brackets.
 * Fills *RET, or fails through config_error() (the keys up to the next
 * header are then skipped). */
typedef int (*ConfigSectionStart)(ConfigContext *ctx, const char *name, ConfigSection *ret, void *userdata);

struct ConfigContext {
        const char *path;
        unsigned line;                   /* of the key being parsed */
        char *section;                   /* text inside the brackets, for messages; NULL outside */
        int r;                           /* first error, 0 if none */
        unsigned n_errors;               /* errors logged so far */
        bool fatal;                      /* out of memory or a read error: stop reading */
        char **failed;                   /* "SECTION KEY" of each key an error named (strv) */
};

/* Logs "PATH:LINE: [SECTION] KEY: reason" (LINE 0 and KEY NULL are left
 * out), counts it, records the first error in ctx->r and KEY of the
 * current section as failed. Returns -EINVAL (-ENOMEM when formatting
 * fails). */
int config_error(ConfigContext *ctx, unsigned line, const char *key, const char *fmt, ...) _printf_(4, 5);
/* Logs "Out of memory", records -ENOMEM, stops the reader. Returns -ENOMEM. */
int config_oom(ConfigContext *ctx);
/* Whether an error named KEY of SECTION ("watchdog", "mta", "probe:relay"),
 * so that a check reading its value (left at its default) is skipped. */
bool config_key_failed(const ConfigContext *ctx, const char *section, const char *key);
/* Whether a header of SECTION ("mta") was refused for its syntax ("[mta",
 * "[mta] x"), so that "section missing" is not a second error. */
bool config_section_failed(const ConfigContext *ctx, const char *section);
/* Frees what CTX collected (section, failed keys). */
void config_context_done(ConfigContext *ctx);
/* Sets the section named in messages to NAME. Returns 0 or config_oom(). */
int config_set_section(ConfigContext *ctx, const char *name);

/* Reads the ini file PATH (a regular file of at most CONFIG_FILE_MAX
 * bytes; a FIFO or device is refused without blocking) section by
 * section, giving each key to its parser. Keys outside a section,
 * unknown keys (without a pending list), keys given twice in a section
 * (unless repeatable), values starting with ';' or '#', NUL bytes and
 * lines of 200 characters or more (Debian's inih buffer) are errors.
 * Returns 0; -ENOENT, -EACCES, -EISDIR, -EFBIG, ... when the file cannot
 * be read (logged as "PATH: reason"); -EINVAL for any syntax or value
 * error (ctx->r, the first; ctx->n_errors counts them all); -ENOMEM. */
int config_parse_file(ConfigContext *ctx, ConfigSectionStart section_start, void *userdata);

/* Finds KEY in the NULL-key-terminated table ITEMS, or NULL. */
const ConfigItem *config_item_find(const ConfigItem *items, const char *key);

/* Parses the kept-aside keys of L against ITEMS into BASE, with
 * ctx->section naming the section in messages; a key ITEMS does not list
 * is "unknown key", a required item not given is "missing required key"
 * at SECTION_LINE. Every key is tried; returns 0, or -EINVAL when any
 * failed, -ENOMEM. */
int config_apply_pending(ConfigContext *ctx, const ConfigPendingList *l, const ConfigItem *items,
                         void *base, unsigned section_line);

/* Writes "key = value" for each item of ITEMS from BASE, or
 * "; key = (not set)" for one that is not set. */
void config_dump_items(FILE *f, const ConfigItem *items, const void *base);

/* Value parsers (ConfigParser) and printers (ConfigPrinter) for the usual
 * types; the field at DATA is given in parentheses. */
int config_parse_string(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data);  /* char * */
int config_parse_path(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data);    /* char *, absolute */
int config_parse_word(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data);    /* char *, no blanks */
int config_parse_bool(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data);    /* bool: yes/no/true/... */
int config_parse_unsigned(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data);/* unsigned, >= min */
int config_parse_port(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data);    /* uint16_t, >= min */
/* uint64_t microseconds from "30s", "5m", "1h30m", "250ms" (duration.h), >= min, at most 365 days. */
int config_parse_duration(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data);
/* Like config_parse_duration(), or "auto" (stored as USEC_INFINITY). */
int config_parse_duration_auto(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data);
/* char *: a POSIX ERE (regex(7)) with at least one capture group, of bounded size (regex-util.h). */
int config_parse_regex(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data);
/* Checks VALUE as config_parse_regex() does, groups optional: 0 and the number of capture groups
 * in *RET_GROUPS (may be NULL), or -EINVAL with the error logged (file, line, key). */
int config_check_regex(ConfigContext *ctx, const ConfigItem *item, const char *value, size_t *ret_groups);
/* char **: a command line split on blanks (no shell); the program an absolute path or a bare name. */
int config_parse_argv(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data);
/* Helper for choice parsers: VALUE must be one of CHOICES (NULL-terminated); char *. */
int config_parse_choice(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data,
                        const char *const *choices);
/* Whole unsigned number in MIN..MAX into *RET; errors name the item. */
int config_parse_number(ConfigContext *ctx, const ConfigItem *item, const char *value,
                        unsigned long long max, unsigned long long *ret);

bool config_print_string(FILE *f, const void *data);
bool config_print_bool(FILE *f, const void *data);
bool config_print_unsigned(FILE *f, const void *data);
bool config_print_port(FILE *f, const void *data);
bool config_print_duration(FILE *f, const void *data);
bool config_print_duration_auto(FILE *f, const void *data);
bool config_print_argv(FILE *f, const void *data);

/* A table row: KEY parsed by config_parse_PARSE, printed by
 * config_print_PRINT, into FIELD of TYPE, at least MIN. */
#define CONFIG_ITEM(key, parse, print, type, field, min) \
        { key, config_parse_##parse, config_print_##print, offsetof(type, field), min, false, NULL }
#define CONFIG_ITEM_REQUIRED(key, parse, print, type, field, min) \
        { key, config_parse_##parse, config_print_##print, offsetof(type, field), min, true, NULL }
