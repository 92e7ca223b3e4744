/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "macros.h"
#include "outbox.h"
#include "tests.h"

static char tmpdir[] = "/tmp/test-outbox-XXXXXX";

static void write_file(const char *dir, const char *name, const char *text) {
        _cleanup_free_ char *p = NULL;
        FILE *f;

        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        f = fopen(p, "we");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

static bool exists(const char *dir, const char *name) {
        _cleanup_free_ char *p = NULL;

        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        return access(p, F_OK) == 0;
}

static unsigned count_hidden(const char *dir) {
        struct dirent *de;
        unsigned n = 0;
        DIR *d = opendir(dir);

        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

typedef struct Seen {
        char receiver[64];
        uint64_t seq;
        char id[64];
} Seen;

typedef struct Collector {
        Seen seen[16];
        size_t n;
} Collector;

static void collect(const char *receiver, uint64_t seq, json_t *entry, void *userdata) {
        Collector *c = userdata;
        const char *id = json_string_value(json_object_get(json_object_get(entry, "event"), "id"));

        assert_true(c->n < ELEMENTSOF(c->seen));
        (void) snprintf(c->seen[c->n].receiver, sizeof c->seen[c->n].receiver, "%s", receiver);
        c->seen[c->n].seq = seq;
        (void) snprintf(c->seen[c->n].id, sizeof c->seen[c->n].id, "%s", id ? id : "");
        c->n++;
}

static json_t *entry(const char *id) {
        json_t *j = json_pack("{s:s, s:s, s:I, s:{s:s, s:s}}",
                              "schema", OUTBOX_SCHEMA, "receiver", "ops", "queued_usec", (json_int_t) 1,
                              "event", "schema", "mta-watchdog.event/1", "id", id);
        assert_non_null(j);
        return j;
}

static void test_put_remove_fail(void **state) {
        _cleanup_free_ char *dir = NULL, *failed = NULL;
        Outbox *o = NULL;
        Collector c = {};
        json_t *e;

        assert_true(asprintf(&dir, "%s/a", tmpdir) > 0);
        assert_true(asprintf(&failed, "%s/failed", dir) > 0);
        assert_int_equal(outbox_open(dir, &o), 0);
        assert_string_equal(outbox_path(o), dir);

        for (uint64_t i = 1; i <= 3; i++) {
                char id[8];
                (void) snprintf(id, sizeof id, "e%u", (unsigned) i);
                e = entry(id);
                assert_int_equal(outbox_put(o, "ops", i, e), 0);
                json_decref(e);
        }
        assert_true(exists(dir, "ops.00000000000000000001.json"));
        assert_int_equal(count_hidden(dir), 0);  /* no temporary file left behind */

        assert_int_equal(outbox_remove(o, "ops", 1), 0);
        assert_int_equal(outbox_remove(o, "ops", 1), -ENOENT);
        assert_int_equal(outbox_fail(o, "ops", 2), 0);
        assert_false(exists(dir, "ops.00000000000000000002.json"));
        assert_true(exists(failed, "ops.00000000000000000002.json"));

        assert_int_equal(outbox_load(o, collect, &c), 1);
        assert_int_equal(c.n, 1);
        assert_string_equal(c.seen[0].receiver, "ops");
        assert_int_equal(c.seen[0].seq, 3);
        assert_string_equal(c.seen[0].id, "e3");

        /* After a restart with an empty outbox sequence numbers start over:
         * a new failure keeps the old one in failed/ instead of replacing it. */
        e = entry("e2-again");
        assert_int_equal(outbox_put(o, "ops", 2, e), 0);
        json_decref(e);
        assert_int_equal(outbox_fail(o, "ops", 2), 0);
        assert_true(exists(failed, "ops.00000000000000000002.json"));
        assert_true(exists(failed, "ops.00000000000000000002.json.1"));
        outbox_free(o);
}

/* What a crash or an older/newer daemon can leave behind. */
static void test_recovery(void **state) {
        _cleanup_free_ char *dir = NULL, *failed = NULL;
        Outbox *o = NULL;
        Collector c = {};
        json_t *e;

        assert_true(asprintf(&dir, "%s/b", tmpdir) > 0);
        assert_true(asprintf(&failed, "%s/failed", dir) > 0);
        assert_int_equal(outbox_open(dir, &o), 0);

        /* Out of order on purpose: loading sorts. */
        e = entry("third");
        assert_int_equal(outbox_put(o, "ops", 10, e), 0);
        json_decref(e);
        e = entry("first");
        assert_int_equal(outbox_put(o, "ops", 2, e), 0);
        json_decref(e);
        e = entry("other");
        assert_int_equal(outbox_put(o, "pager.eu", 1, e), 0);
        json_decref(e);

        /* A write cut short before its rename. */
        write_file(dir, ".ops.00000000000000000011.json.Xa9Qz2", "{\"schema\":\"mta-watch");
        /* A corrupt entry. */
        write_file(dir, "ops.00000000000000000003.json", "{\"schema\":\"mta-watchdog.outbox/1\",\"ev");
        /* An entry of a schema this daemon does not know. */
        write_file(dir, "ops.00000000000000000004.json",
                   "{\"schema\":\"mta-watchdog.outbox/2\",\"event\":{\"id\":\"x\"}}\n");
        /* Valid JSON, but not an object. */
        write_file(dir, "ops.00000000000000000005.json", "[1,2]\n");
        /* Not ours at all: left alone. */
        write_file(dir, "README", "hello\n");

        assert_int_equal(outbox_load(o, collect, &c), 3);
        assert_int_equal(c.n, 3);
        assert_string_equal(c.seen[0].receiver, "ops");
        assert_int_equal(c.seen[0].seq, 2);
        assert_string_equal(c.seen[0].id, "first");
        assert_string_equal(c.seen[1].receiver, "ops");
        assert_int_equal(c.seen[1].seq, 10);
        assert_string_equal(c.seen[1].id, "third");
        assert_string_equal(c.seen[2].receiver, "pager.eu");
        assert_int_equal(c.seen[2].seq, 1);
        assert_string_equal(c.seen[2].id, "other");

        assert_false(exists(dir, ".ops.00000000000000000011.json.Xa9Qz2"));
        assert_int_equal(count_hidden(dir), 0);
        assert_false(exists(dir, "ops.00000000000000000003.json"));
        assert_false(exists(dir, "ops.00000000000000000004.json"));
        assert_false(exists(dir, "ops.00000000000000000005.json"));
        assert_true(exists(failed, "ops.00000000000000000003.json"));
        assert_true(exists(failed, "ops.00000000000000000004.json"));
        assert_true(exists(failed, "ops.00000000000000000005.json"));
        assert_true(exists(dir, "README"));
        assert_true(exists(dir, "ops.00000000000000000002.json"));

        /* A second start sees just the valid ones again. */
        c = (Collector) {};
        assert_int_equal(outbox_load(o, collect, &c), 3);
        outbox_free(o);
}

static void test_open_errors(void **state) {
        Outbox *o = NULL;

        assert_int_equal(outbox_open("/nonexistent/dir/outbox", &o), -ENOENT);
        assert_null(o);
}

static int setup(void **state) {
        (void) unsetenv("JOURNAL_STREAM");
        log_set_max_level(LOG_DEBUG);
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
        return rm_rf(tmpdir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_put_remove_fail),
                cmocka_unit_test(test_recovery),
                cmocka_unit_test(test_open_errors),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
