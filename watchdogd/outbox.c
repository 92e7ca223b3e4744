/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macros.h"
#include "outbox.h"

struct Outbox {
        char *path;
        int dir_fd;
        int failed_fd;
};

static int mkdir_open(int at_fd, const char *path, int *ret) {
        int fd;

        if (mkdirat(at_fd, path, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        fd = openat(at_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        *ret = fd;
        return 0;
}

int outbox_open(const char *dir, Outbox **ret) {
        Outbox *o;
        int r;

        o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->dir_fd = o->failed_fd = -EBADF;
        o->path = strdup(dir);
        if (!o->path) {
                r = -ENOMEM;
                goto fail;
        }
        r = mkdir_open(AT_FDCWD, dir, &o->dir_fd);
        if (r < 0)
                goto fail;
        r = mkdir_open(o->dir_fd, "failed", &o->failed_fd);
        if (r < 0)
                goto fail;
        *ret = o;
        return 0;

fail:
        outbox_free(o);
        return r;
}

Outbox *outbox_free(Outbox *o) {
        if (!o)
                return NULL;
        if (o->dir_fd >= 0)
                (void) close(o->dir_fd);
        if (o->failed_fd >= 0)
                (void) close(o->failed_fd);
        free(o->path);
        free(o);
        return NULL;
}

const char *outbox_path(const Outbox *o) {
        return o ? o->path : NULL;
}

static int entry_name(char *buf, size_t size, const char *receiver, uint64_t seq) {
        int k = snprintf(buf, size, "%s.%0*" PRIu64 ".json", receiver, OUTBOX_SEQ_DIGITS, seq);
        return k < 0 || (size_t) k >= size ? -ENAMETOOLONG : 0;
}

int outbox_put(Outbox *o, const char *receiver, uint64_t seq, const json_t *entry) {
        _cleanup_free_ char *data = NULL;
        char name[NAME_MAX + 1];
        int r;

        r = entry_name(name, sizeof name, receiver, seq);
        if (r < 0)
                return r;
        data = json_dumps(entry, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!data)
                return -ENOMEM;
        return write_file_atomic(o->path, name, data, strlen(data), 0600);
}

int outbox_remove(Outbox *o, const char *receiver, uint64_t seq) {
        char name[NAME_MAX + 1];
        int r;

        r = entry_name(name, sizeof name, receiver, seq);
        if (r < 0)
                return r;
        if (unlinkat(o->dir_fd, name, 0) < 0)
                return negative_errno();
        /* A delivered entry must stay gone after a crash, or it is sent again. */
        if (fsync(o->dir_fd) < 0)
                return negative_errno();
        return 0;
}

/* Into failed/ under its own name, or NAME.N when an earlier run's entry
 * holds that name (sequence numbers start again after a restart with an
 * empty outbox): failed entries are kept for people, never replaced. */
static int move_to_failed(Outbox *o, const char *name) {
        char alt[NAME_MAX + 1];
        int r = -EEXIST;

        for (unsigned n = 0; n < 1000 && r == -EEXIST; n++) {
                if (n == 0)
                        (void) snprintf(alt, sizeof alt, "%s", name);
                else if (snprintf(alt, sizeof alt, "%s.%u", name, n) >= (int) sizeof alt)
                        return -ENAMETOOLONG;
                r = renameat2(o->dir_fd, name, o->failed_fd, alt, RENAME_NOREPLACE) < 0 ? negative_errno() : 0;
                if (r == -EINVAL) /* a file system without RENAME_NOREPLACE */
                        r = faccessat(o->failed_fd, alt, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ? -EEXIST :
                            renameat(o->dir_fd, name, o->failed_fd, alt) < 0 ? negative_errno() : 0;
        }
        if (r < 0)
                return r;
        if (fsync(o->failed_fd) < 0 || fsync(o->dir_fd) < 0)
                return negative_errno();
        return 0;
}

int outbox_fail(Outbox *o, const char *receiver, uint64_t seq) {
        char name[NAME_MAX + 1];
        int r;

        r = entry_name(name, sizeof name, receiver, seq);
        if (r < 0)
                return r;
        return move_to_failed(o, name);
}

/* Splits "<receiver>.<seq>.json". Returns false for any other name. */
static bool parse_entry_name(const char *name, char *receiver, size_t size, uint64_t *ret_seq) {
        size_t len = strlen(name), suffix = 1 + OUTBOX_SEQ_DIGITS + strlen(".json");
        const char *digits;
        uint64_t seq = 0;

        if (len <= suffix || len - suffix >= size)
                return false;
        digits = name + len - suffix;
        if (digits[0] != '.' || strcmp(digits + 1 + OUTBOX_SEQ_DIGITS, ".json") != 0)
                return false;
        for (size_t i = 1; i <= OUTBOX_SEQ_DIGITS; i++) {
                if (digits[i] < '0' || digits[i] > '9')
                        return false;
                if (seq > (UINT64_MAX - 9) / 10)
                        return false;
                seq = seq * 10 + (uint64_t) (digits[i] - '0');
        }
        memcpy(receiver, name, len - suffix);
        receiver[len - suffix] = '\0';
        *ret_seq = seq;
        return true;
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void set_aside(Outbox *o, const char *name, const char *why) {
        int r = move_to_failed(o, name);

        if (r < 0)
                log_error_errno(r, "outbox: %s/%s: %s, and cannot move it to failed/: %m", o->path, name, why);
        else
                log_error("outbox: %s/%s: %s, moved to failed/", o->path, name, why);
}

int outbox_load(Outbox *o, OutboxEntryFunc f, void *userdata) {
        char **names = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        DIR *d;
        int fd, r = 0, count = 0;

        fd = openat(o->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d) {
                r = negative_errno();
                (void) close(fd);
                return r;
        }

        while ((errno = 0, de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
                    strcmp(de->d_name, "failed") == 0)
                        continue;
                if (de->d_name[0] == '.') {
                        /* A write cut short before its rename: the entry was never queued. */
                        if (unlinkat(o->dir_fd, de->d_name, 0) < 0)
                                log_warning_errno(errno, "outbox: cannot remove %s/%s, ignoring: %m",
                                                  o->path, de->d_name);
                        else
                                log_notice("outbox: removed the unfinished write %s/%s", o->path, de->d_name);
                        continue;
                }
                if (n == allocated) {
                        size_t k = allocated ? allocated * 2 : 16;
                        char **t = reallocarray(names, k, sizeof(char *));
                        if (!t) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        names = t;
                        allocated = k;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        goto finish;
                }
                n++;
        }
        if (errno != 0) {
                r = negative_errno();
                goto finish;
        }
        (void) fsync(o->dir_fd);

        if (n > 0)
                qsort(names, n, sizeof(char *), cmp_names);

        for (size_t i = 0; i < n; i++) {
                char receiver[NAME_MAX + 1];
                json_error_t err;
                json_t *entry;
                uint64_t seq;
                const char *schema;
                _cleanup_close_ int efd = -EBADF;

                if (!parse_entry_name(names[i], receiver, sizeof receiver, &seq)) {
                        log_warning("outbox: ignoring %s/%s: not an outbox entry", o->path, names[i]);
                        continue;
                }

                efd = openat(o->dir_fd, names[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (efd < 0) {
                        log_warning_errno(errno, "outbox: cannot open %s/%s, ignoring: %m", o->path, names[i]);
                        continue;
                }
                entry = json_loadfd(efd, 0, &err);
                if (!entry || !json_is_object(entry)) {
                        json_decref(entry);
                        set_aside(o, names[i], "corrupt entry");
                        continue;
                }
                schema = json_string_value(json_object_get(entry, "schema"));
                if (!schema || strcmp(schema, OUTBOX_SCHEMA) != 0 ||
                    !json_is_object(json_object_get(entry, "event"))) {
                        json_decref(entry);
                        set_aside(o, names[i], "unknown schema (expected " OUTBOX_SCHEMA ")");
                        continue;
                }
                f(receiver, seq, entry, userdata);
                json_decref(entry);
                count++;
        }
        r = count;

finish:
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        (void) closedir(d);
        return r;
}
