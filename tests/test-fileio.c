/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "fileio.h"
#include "macros.h"

static unsigned count_entries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

typedef struct Writer {
        int (*write)(const char *dir, const char *name, const void *data, size_t size, unsigned mode);
} Writer;

static const Writer atomic = { write_file_atomic }, replace = { write_file_replace };

/* Both writers: the content and mode asked for, replaced whole, no temporary left. */
static void test_write_read(void **state) {
        const Writer *w = *state;
        char dir[] = "/tmp/test-fileio-XXXXXX", path[64];
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        struct stat st;
        size_t n = 0;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/state", dir);

        assert_int_equal(read_file_bounded(path, 100, &a, &n), -ENOENT);
        assert_int_equal(w->write(dir, "state", "one\n", 4, 0600), 0);
        assert_int_equal(read_file_bounded(path, 100, &a, &n), 0);
        assert_string_equal(a, "one\n");
        assert_int_equal(n, 4);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        /* Replaced whole; no temporary file is left behind. */
        assert_int_equal(w->write(dir, "state", "second", 6, 0640), 0);
        assert_int_equal(read_file_bounded(path, 100, &b, NULL), 0);
        assert_string_equal(b, "second");
        assert_int_equal(count_entries(dir), 1);

        assert_int_equal(read_file_bounded(path, 5, &c, NULL), -E2BIG);
        assert_null(c);
        assert_int_equal(w->write("/nonexistent-dir-x", "state", "x", 1, 0600), -ENOENT);

        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_prestate(test_write_read, (void *) &atomic),
                cmocka_unit_test_prestate(test_write_read, (void *) &replace),
        };
        return cmocka_run_group_tests_name("fileio", tests, NULL, NULL);
}
