/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>
#include <stdint.h>

/* The durable alert outbox: one file per (event, receiver) in DIR, named
 * "<receiver>.<seq, 20 digits>.json", holding one JSON object of schema
 * OUTBOX_SCHEMA. Files are written with write_file_atomic() (fileio.h: a
 * temporary "." file in DIR, fsync, rename, fsync of DIR), so after a crash
 * a name either holds a whole entry or does not exist. Entries given up are
 * moved to DIR/failed/ under the same name. All calls are synchronous, on
 * small files. */

#define OUTBOX_SCHEMA "mta-watchdog.outbox/1"
#define OUTBOX_SEQ_DIGITS 20

typedef struct Outbox Outbox;

/* Creates DIR and DIR/failed (mode 0700) when missing and opens them.
 * Returns 0 or a negative errno. */
int outbox_open(const char *dir, Outbox **ret);
Outbox *outbox_free(Outbox *o);
const char *outbox_path(const Outbox *o);

/* Writes ENTRY as RECEIVER's entry number SEQ. Returns 0 or a negative errno. */
int outbox_put(Outbox *o, const char *receiver, uint64_t seq, const json_t *entry);

/* Deletes the entry (delivered or dropped). -ENOENT if it is not there. */
int outbox_remove(Outbox *o, const char *receiver, uint64_t seq);

/* Moves the entry to failed/. */
int outbox_fail(Outbox *o, const char *receiver, uint64_t seq);

/* Called for each stored entry, in name order (so in SEQ order per
 * receiver). RECEIVER is the name from the file name. The callback
 * takes a reference to ENTRY if it keeps it. */
typedef void (*OutboxEntryFunc)(const char *receiver, uint64_t seq, json_t *entry, void *userdata);

/* Resumes an outbox after a start: deletes leftover temporary files
 * (names starting with "."; a write cut short), moves entries that cannot be parsed or carry another
 * schema to failed/ (logged), and hands every valid entry to F.
 * Returns the number of valid entries or a negative errno. */
int outbox_load(Outbox *o, OutboxEntryFunc f, void *userdata);
