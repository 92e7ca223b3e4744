/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* Small files that must survive a crash whole: the state directory's
 * cursor, budget and outbox entries. */

/* Writes SIZE bytes of DATA to DIR/NAME so that a crash leaves either the
 * old or the new content, never a torn file: a temporary file in DIR,
 * fsync(2), rename(2) over NAME, fsync(2) of DIR. MODE is the new file's
 * permission bits. Returns 0 or a negative errno (nothing is left behind
 * on failure). */
int write_file_atomic(const char *dir, const char *name, const void *data, size_t size, unsigned mode);

/* The same without the fsync(2) calls: readers never see a torn file, but
 * after a crash the file may be old or empty. For files rewritten every few
 * seconds that need no durability (the metrics file), so that the event
 * loop does not wait for the disk. Returns 0 or a negative errno. */
int write_file_replace(const char *dir, const char *name, const void *data, size_t size, unsigned mode);

/* Reads PATH whole if it holds at most MAX bytes. Returns 0 with a
 * NUL-terminated malloc'd buffer in *RET (and its length in *RET_SIZE if
 * not NULL), -ENOENT if it does not exist, -E2BIG if it is larger,
 * -EISDIR for a directory, or another negative errno. Opening a FIFO
 * waits for a writer. */
int read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_size);
