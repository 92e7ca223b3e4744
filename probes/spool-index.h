/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe.h"

/* Incremental queue tracking (probes/postfix.c, "Incremental tracking"):
 * an in-memory table of the messages of a spool, the directories followed
 * with inotify(7), and the names inotify reported changed since the last
 * round. Everything here is pure: no file system access, no clock reads.
 * The file system is read by a child process (postfix.c), which writes
 * SpoolRecords that spool_follow_apply() reads. */

/* The counted queues, in QueueStats order. */
typedef enum SpoolQueue {
        SPOOL_INCOMING,
        SPOOL_ACTIVE,
        SPOOL_DEFERRED,
        SPOOL_MAILDROP,
        _SPOOL_QUEUE_MAX,
} SpoolQueue;

/* A followed directory: a queue (depth 0) or a hashed subdirectory. */
typedef struct SpoolDir {
        int wd;                 /* inotify watch descriptor, -1: free slot */
        uint8_t queue;          /* SpoolQueue */
        uint8_t depth;          /* 0 for the queue directory itself */
        char *path;             /* relative to queue_directory: "deferred/A" */
} SpoolDir;

#define SPOOL_NAME_INLINE 16

/* One counted message: 40 bytes, names of up to 16 bytes (every Postfix
 * queue id) inline, longer ones allocated. Times: CLOCK_REALTIME, µs. */
typedef struct SpoolMsg {
        uint64_t arrival_usec;  /* earliest of btime, mtime, ctime */
        uint64_t due_usec;      /* deferred: mtime; else ctime */
        uint32_t next;          /* hash chain: index + 1 of the next, 0: end */
        uint16_t dir;           /* index in SpoolIndex.dirs */
        uint8_t name_len;       /* 1..255 */
        uint8_t unused;
        union {
                char inline_name[SPOOL_NAME_INLINE];
                char *long_name;
        } n;
} SpoolMsg;

typedef struct SpoolIndex {
        SpoolDir *dirs;
        size_t n_dirs;
        SpoolMsg *msgs;
        size_t n_msgs, n_msgs_alloc;
        uint32_t *buckets;      /* index + 1 of the first message, 0: none */
        size_t n_buckets;       /* a power of two, or 0 */
} SpoolIndex;

/* A name inotify reported changed, not yet read back. */
typedef struct SpoolDirty {
        int wd;
        uint32_t name_off;      /* into SpoolDirtyList.names */
        uint8_t name_len;
} SpoolDirty;

typedef struct SpoolDirtyList {
        SpoolDirty *v;
        size_t n, alloc;
        char *names;
        size_t names_size, names_alloc;
} SpoolDirtyList;

/* Above this many changed names a round re-walks the spool instead. */
#define SPOOL_DIRTY_MAX 65536

typedef struct SpoolFollow {
        SpoolIndex idx;
        SpoolDirtyList dirty;
        int top_wd;             /* the watch on queue_directory itself, -1: none */
        bool need_full;         /* the table cannot be trusted: walk the spool */
        char why[96];           /* why need_full was set (for the log) */
} SpoolFollow;

/* What the reading child writes, one after the other: a SpoolRecord
 * followed by name_len bytes (a message's name, a directory's relative path). */
typedef enum SpoolRecordType {
        SPOOL_RECORD_DIR = 'D',      /* a followed directory: wd, queue, depth, path */
        SPOOL_RECORD_TOP = 'T',      /* the watch on queue_directory: wd */
        SPOOL_RECORD_MSG = 'M',      /* a counted message in the directory of wd */
        SPOOL_RECORD_GONE = 'X',     /* the name is not (or no longer) a counted message */
        SPOOL_RECORD_FAILED = 'F',   /* a watch could not be added; arrival_usec holds the errno */
} SpoolRecordType;

typedef struct SpoolRecord {
        uint8_t type;
        uint8_t queue, depth, name_len;
        int32_t wd;
        uint64_t arrival_usec, due_usec;
} SpoolRecord;

void spool_follow_init(SpoolFollow *f);
/* Frees everything; F is then as after spool_follow_init(). */
void spool_follow_done(SpoolFollow *f);
/* Forgets directories and messages (before a walk of the whole spool). */
void spool_index_clear(SpoolIndex *idx);

/* Marks the table untrustworthy, WHY for the log (the first reason wins). */
void spool_follow_invalidate(SpoolFollow *f, const char *why);

/* The directory watched by WD: its index, or -ENOENT. */
int spool_index_find_dir(const SpoolIndex *idx, int wd);

/* Inserts or updates the message NAME (LEN bytes, 1..255) of directory
 * DIR. Returns 0 or -ENOMEM/-EINVAL. */
int spool_index_put(SpoolIndex *idx, unsigned dir, const char *name, size_t len,
                    uint64_t arrival_usec, uint64_t due_usec);
/* Removes it if present. */
void spool_index_remove(SpoolIndex *idx, unsigned dir, const char *name, size_t len);

/* The QueueStats a full scan (postfix_scan_queue()) would report for this
 * table at NOW (CLOCK_REALTIME, µs) with SLACK (µs, USEC_INFINITY: nothing
 * overdue), field by field; slack_usec is left 0 as the scan leaves it. */
void spool_index_stats(const SpoolIndex *idx, uint64_t now_usec, uint64_t slack_usec, QueueStats *ret);

/* Reads SIZE bytes of struct inotify_event records (inotify(7)) into F:
 * changed names become dirty, overflow, lost queue directories and moved
 * directories invalidate the table, a directory that went away
 * (IN_IGNORED) is dropped with its messages. Returns 0, -ENOMEM or
 * -EBADMSG (a truncated record; the table is invalidated as well). */
int spool_follow_events(SpoolFollow *f, const void *buf, size_t size);

/* Reads SIZE bytes of SpoolRecords (a child's output) into F. Returns 0,
 * -EBADMSG (malformed; F invalidated) or -ENOMEM. */
int spool_follow_apply(SpoolFollow *f, const void *buf, size_t size);

/* Sorts F->dirty and drops duplicates. */
void spool_dirty_unique(SpoolDirtyList *l);
void spool_dirty_clear(SpoolDirtyList *l);
void spool_dirty_free(SpoolDirtyList *l);
static inline const char *spool_dirty_name(const SpoolDirtyList *l, const SpoolDirty *d) {
        return l->names + d->name_off;
}

/* Bytes the table holds (messages, buckets, directories), for the log. */
size_t spool_index_memory(const SpoolIndex *idx);

/* Before a walk of the whole spool: forgets the messages and the changed
 * names (the walk reads them all) and clears need_full. The directories
 * and their watches stay: events that arrive during the walk still map to
 * them, and the walk's records update them. */
void spool_follow_begin_full(SpoolFollow *f);

/* At the start of a round: invalidates the table when a changed name is
 * in a directory it does not know (a watch added by a child whose records
 * never arrived). Returns need_full. */
bool spool_follow_check(SpoolFollow *f);
