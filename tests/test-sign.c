/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "macros.h"
#include "sign.h"

/* The test vector published with the Standard Webhooks specification
 * (github.com/standard-webhooks/standard-webhooks, spec and libraries' tests). */
#define VECTOR_SECRET    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define VECTOR_ID        "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define VECTOR_TIMESTAMP 1614265330
#define VECTOR_BODY      "{\"test\": 2432232314}"
#define VECTOR_SIGNATURE "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static void test_vector(void **state) {
        _cleanup_free_ uint8_t *key = NULL;
        _cleanup_free_ char *sig = NULL, *other = NULL;
        size_t size = 0;

        assert_int_equal(webhook_secret_parse(VECTOR_SECRET, &key, &size), 0);
        assert_int_equal(size, 24);
        sig = webhook_sign(key, size, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, strlen(VECTOR_BODY));
        assert_non_null(sig);
        assert_string_equal(sig, VECTOR_SIGNATURE);

        /* Any change of id, timestamp or body changes the signature. */
        other = webhook_sign(key, size, VECTOR_ID, VECTOR_TIMESTAMP + 1, VECTOR_BODY, strlen(VECTOR_BODY));
        assert_non_null(other);
        assert_string_not_equal(other, VECTOR_SIGNATURE);
}

static void test_secret_parse(void **state) {
        static const struct {
                const char *s;
                int r;
                size_t size;
        } table[] = {
                { VECTOR_SECRET, 0, 24 },
                { "  " VECTOR_SECRET "\n", 0, 24 },
                { "whsec_AAAA", 0, 3 },
                { "whsec_AAA=", 0, 2 },
                { "whsec_AA==", 0, 1 },
                { "whsec_", -EBADMSG, 0 },
                { "whsec_====", -EBADMSG, 0 },
                { "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", -EBADMSG, 0 },  /* the prefix is required */
                { "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", -EBADMSG, 0 },
                { "whsec_A=AA", -EBADMSG, 0 },
                { "whsec_AA*A", -EBADMSG, 0 },
                { "whsec_AAAA AAAA", -EBADMSG, 0 },
                { "", -EBADMSG, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                uint8_t *key = NULL;
                size_t size = 0;
                int r = webhook_secret_parse(table[i].s, &key, &size);

                if (r != table[i].r || (r == 0 && size != table[i].size))
                        fail_msg("\"%s\": got %d/%zu, want %d/%zu", table[i].s, r, size, table[i].r, table[i].size);
                free(key);
        }
}

static void test_secret_file(void **state) {
        char path[] = "/tmp/test-sign-XXXXXX";
        _cleanup_free_ uint8_t *key = NULL;
        size_t size = 0;
        int fd;

        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, VECTOR_SECRET "\n", strlen(VECTOR_SECRET) + 1), (ssize_t) strlen(VECTOR_SECRET) + 1);
        assert_int_equal(close(fd), 0);

        assert_int_equal(chmod(path, 0644), 0);
        assert_int_equal(webhook_secret_read_file(path, &key, &size), -EPERM);
        assert_int_equal(chmod(path, 0601), 0);
        assert_int_equal(webhook_secret_read_file(path, &key, &size), -EPERM);
        assert_int_equal(chmod(path, 0640), 0);
        assert_int_equal(webhook_secret_read_file(path, &key, &size), 0);
        assert_int_equal(size, 24);

        assert_int_equal(unlink(path), 0);
        assert_int_equal(webhook_secret_read_file(path, &key, &size), -ENOENT);
        assert_int_equal(webhook_secret_read_file("/tmp", &key, &size), -EINVAL);
        /* a FIFO with no writer: refused at once, not waited on */
        assert_int_equal(mkfifo(path, 0640), 0);
        assert_int_equal(webhook_secret_read_file(path, &key, &size), -EINVAL);
        assert_int_equal(unlink(path), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vector),
                cmocka_unit_test(test_secret_parse),
                cmocka_unit_test(test_secret_file),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
