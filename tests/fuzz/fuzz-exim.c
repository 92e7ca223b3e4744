/* SPDX-License-Identifier: MIT */
/* libFuzzer target: what the Exim queue probe reads from files Exim and
 * message senders shape (probes/exim.c).
 *
 * The input is used three ways, none touching the file system:
 *  1. as the start of a -H file, exim_parse_header() for the id its first
 *     16 or 23 bytes name (or a fixed one): a parse that succeeds found
 *     the option block's end within the input;
 *  2. as a retry record, exim_retry_decode(): the text is printable and
 *     NUL-terminated within its buffer; and as a retry key,
 *     exim_retry_key(): a message id it returns is a valid id;
 *  3. split at its first NUL into a key and a record, through
 *     exim_schedule_add(): records counted, message records findable;
 *  4. as a scan child's "held" line, exim_parse_held_line(): what it
 *     accepts is written back by exim_format_held_line() and read again
 *     to the same holder. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exim.h"
#include "fuzz.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        log_set_max_level(-1);
        return 0;
}

static void fuzz_header(const uint8_t *data, size_t size) {
        char id[QUEUE_ID_MAX] = "1s2AbC-000Xyz-Ab";
        EximHeader h;
        int r;

        if (size >= 23 && exim_id_valid((const char *) data, 23))
                memcpy(id, data, 23), id[23] = 0;
        else if (size >= 16 && exim_id_valid((const char *) data, 16))
                memcpy(id, data, 16), id[16] = 0;
        r = exim_parse_header((const char *) data, size, id, &h);
        FUZZ_CHECK(r == 0 || r == -ENODATA || r == -EBADMSG);
        if (r == 0)
                FUZZ_CHECK(h.frozen || h.frozen_sec == 0);
}

static void fuzz_record(const uint8_t *data, size_t size) {
        EximRetryRecord rec;
        char id[QUEUE_ID_MAX];
        int r;

        r = exim_retry_decode(data, size, &rec);
        FUZZ_CHECK(r == 0 || r == -EBADMSG);
        if (r == 0) {
                size_t n = strnlen(rec.text, sizeof(rec.text));

                FUZZ_CHECK(n < sizeof(rec.text));
                for (size_t i = 0; i < n; i++)
                        FUZZ_CHECK(rec.text[i] >= 0x20 && rec.text[i] < 0x7f);
        }
        if (exim_retry_key((const char *) data, size, id) == EXIM_RETRY_KEY_MESSAGE)
                FUZZ_CHECK(exim_id_valid(id, strlen(id)));
}

static void fuzz_schedule(const uint8_t *data, size_t size) {
        const uint8_t *nul = memchr(data, 0, size);
        EximSchedule s = {};
        char id[QUEUE_ID_MAX];
        size_t klen;

        if (!nul)
                return;
        klen = (size_t) (nul - data) + 1;
        FUZZ_CHECK(exim_schedule_add(&s, data, klen, nul + 1, size - klen, (uint64_t) time(NULL)) == 0);
        exim_schedule_seal(&s);
        FUZZ_CHECK(s.records == 1 && s.n_messages <= 1);
        if (s.n_messages == 1) {
                FUZZ_CHECK(exim_retry_key((const char *) data, klen, id) == EXIM_RETRY_KEY_MESSAGE);
                FUZZ_CHECK(exim_schedule_message(&s, id) == s.messages[0].next_try);
        }
        exim_schedule_done(&s);
}

static void fuzz_held(const uint8_t *data, size_t size) {
        char line[EXIM_HELD_LINE_MAX];
        EximHeld h, again;
        int n;

        if (exim_parse_held_line((const char *) data, size, &h) < 0)
                return;
        FUZZ_CHECK(h.pid > 0 && h.pid <= INT32_MAX && exim_id_valid(h.id, strlen(h.id)));
        n = exim_format_held_line(line, sizeof(line), &h);
        FUZZ_CHECK(n > 0);
        FUZZ_CHECK(exim_parse_held_line(line, (size_t) n, &again) == 0);
        FUZZ_CHECK(again.pid == h.pid && again.run_usec == h.run_usec && strcmp(again.id, h.id) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fuzz_held(data, size);
        fuzz_header(data, size);
        fuzz_record(data, size);
        fuzz_schedule(data, size);
        return 0;
}
