/* SPDX-License-Identifier: MIT */
/* libFuzzer target: config_load() on the input as the whole ini file.
 *
 * config_load() takes a path and wants a regular file, so the input goes
 * into a memfd that is opened again as /proc/self/fd/N: nothing is written
 * to any filesystem. A file that loads is dumped (config_dump(), what
 * --check-config prints) and the dump must load again and dump the same
 * way: the dump claims to be the effective configuration in ini form.
 * (This found that "flush_command =;x" loaded but its dump "key = ;x" read
 * back as a comment: values that begin with ';' or '#' are now refused.)
 * Keys that name files (ca_file, secret_file) make config_load() read
 * them; it never writes. Detection (type = auto, relay = auto) reads under
 * a root that does not exist, so that no input depends on the host's MTA
 * or runs its postconf: type = auto fails as on a host without an MTA. */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"
#include "log.h"

static const ConfigLoadOptions load_options = { .root = "/nonexistent-fuzz-root" };

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        log_set_max_level(-1);  /* every rejected input would log a line */
        return 0;
}

/* Writes DATA to a new memfd; returns it and its /proc path. */
static int memfd_with(const void *data, size_t size, char *path, size_t path_size) {
        int fd = memfd_create("fuzz-config", MFD_CLOEXEC);
        const char *p = data;

        if (fd < 0)
                return -1;
        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n <= 0) {
                        (void) close(fd);
                        return -1;
                }
                p += n;
                size -= (size_t) n;
        }
        (void) snprintf(path, path_size, "/proc/self/fd/%d", fd);
        return fd;
}

/* The dump without its first line, which names the file. */
static char *dump_body(const Config *c, size_t *ret_size) {
        char *buf = NULL, *nl;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        FUZZ_CHECK(f);
        config_dump(c, f);
        FUZZ_CHECK(fclose(f) == 0);
        nl = strchr(buf, '\n');
        FUZZ_CHECK(nl);
        *ret_size = size - (size_t) (nl + 1 - buf);
        memmove(buf, nl + 1, *ret_size + 1);
        return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char path[64], path2[64];
        Config *c = NULL, *c2 = NULL;
        char *dump, *dump2;
        size_t dump_size, dump2_size;
        int fd, fd2, r;

        fd = memfd_with(data, size, path, sizeof(path));
        if (fd < 0)
                return 0;
        r = config_load_full(path, &load_options, &c);
        (void) close(fd);
        if (r < 0) {
                FUZZ_CHECK(!c);
                return 0;
        }
        FUZZ_CHECK(c);

        dump = dump_body(c, &dump_size);
        fd2 = memfd_with(dump, dump_size, path2, sizeof(path2));
        if (fd2 >= 0) {
                r = config_load_full(path2, &load_options, &c2);
                (void) close(fd2);
                if (r < 0) {
                        fprintf(stderr, "dump does not load again (%s):\n%s", strerror(-r), dump);
                        abort();
                }
                dump2 = dump_body(c2, &dump2_size);
                if (dump_size != dump2_size || memcmp(dump, dump2, dump_size) != 0) {
                        fprintf(stderr, "dump of the dump differs:\n%s\n----\n%s", dump, dump2);
                        abort();
                }
                free(dump2);
                (void) config_free(c2);
        }
        free(dump);
        (void) config_free(c);
        return 0;
}
