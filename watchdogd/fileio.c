/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macros.h"

static int write_all(int fd, const void *data, size_t size) {
        const char *p = data;

        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

/* DURABLE: fsync(2) the file before and the directory after the rename. */
static int write_file_replacing(const char *dir, const char *name, const void *data, size_t size, unsigned mode,
                                bool durable) {
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        int r;

        if (!dir || !name || (!data && size > 0))
                return -EINVAL;
        if (asprintf(&path, "%s/%s", dir, name) < 0 || asprintf(&tmp, "%s/.%s.XXXXXX", dir, name) < 0)
                return -ENOMEM;

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        r = write_all(fd, data, size);
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = negative_errno();
        if (r >= 0 && durable && fsync(fd) < 0)
                r = negative_errno();
        if (r >= 0 && rename(tmp, path) < 0)
                r = negative_errno();
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        if (!durable)
                return 0;

        /* The rename itself survives a crash once the directory is synced. */
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0)
                return negative_errno();
        return 0;
}

int write_file_atomic(const char *dir, const char *name, const void *data, size_t size, unsigned mode) {
        return write_file_replacing(dir, name, data, size, mode, true);
}

int write_file_replace(const char *dir, const char *name, const void *data, size_t size, unsigned mode) {
        return write_file_replacing(dir, name, data, size, mode, false);
}

int read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t n;

        f = fopen(path, "re");
        if (!f)
                return negative_errno();
        buf = malloc(max + 2);
        if (!buf)
                return -ENOMEM;
        n = fread(buf, 1, max + 1, f);
        if (ferror(f))
                return errno > 0 ? -errno : -EIO;  /* EISDIR for a directory */
        if (n > max)
                return -E2BIG;
        buf[n] = '\0';
        if (ret_size)
                *ret_size = n;
        *ret = TAKE_PTR(buf);
        return 0;
}
