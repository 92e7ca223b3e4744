/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe.h"

/* Incremental queue tracking (probes/postfix.c, "Incremental tracking"):
 * an in-memory table of the messages of a spool (16 bytes a message, no
 * names: SpoolEntry; per directory the name of its oldest message), the
 * directories followed with inotify(7), and the names inotify reported
 * changed since the last round. Everything here is pure: no file system
 * access, no clock reads. The file system is read by a child process
 * (postfix.c), which writes SpoolRecords that spool_follow_apply() reads.
 *
 * Keys: two names of one directory with the same key would be one entry.
 * SipHash-2-4's output is as good as random, so among n names the chance
 * of a pair is about n(n-1)/2 / 2^64: 2.7e-10 for 100 000 names in one
 * directory; a new name meets one of n others with about n / 2^64
 * (5.4e-15). A walk of the whole spool finds every such pair (equal keys
 * next to each other after its sort: SpoolIndex.collisions, and F is
 * invalidated); the reading child finds a new name that meets one in the
 * table (postfix.c follow_check_collisions()); either way the round is
 * answered by a walk, which counts by name, and the next walk takes
 * another key (spool_follow_begin_full()). */

/* The counted queues, in QueueStats order. */
typedef enum SpoolQueue {
        SPOOL_INCOMING,
        SPOOL_ACTIVE,
        SPOOL_DEFERRED,
        SPOOL_MAILDROP,
        _SPOOL_QUEUE_MAX,
} SpoolQueue;

/* One counted message: 16 bytes. No name: KEY is a 64-bit hash of the
 * file name (spool_name_key()); times are whole seconds since the epoch
 * (queue_file_facts() in postfix.c, the one rule of the full scan too). */
typedef struct SpoolEntry {
        uint64_t key;
        uint32_t arrival_s;     /* earliest of btime, mtime, ctime */
        uint32_t due_s;         /* deferred: mtime; else ctime */
} SpoolEntry;

/* Times are clamped to this; UINT32_MAX marks a removed entry while
 * records are applied. */
#define SPOOL_TIME_MAX (UINT32_MAX - 1)

/* Arrays of at least this many bytes live in mappings of their own
 * (mmap(2), mremap(2)): shrinking one gives the pages back to the kernel
 * at once, whatever malloc's heap looks like. Smaller ones are malloc()ed. */
#define SPOOL_MAP_MIN 4096

/* A followed directory: a queue (depth 0) or a hashed subdirectory, and
 * its messages: v[0..n) sorted by key (records append to a tail that is
 * sorted and merged when a batch of records is applied). */
typedef struct SpoolDir {
        int wd;                 /* inotify watch descriptor, -1: free slot */
        uint8_t queue;          /* SpoolQueue */
        uint8_t depth;          /* 0 for the queue directory itself */
        bool mapped;            /* v is a mapping of alloc * 16 bytes, else malloc()ed */
        bool oldest_unknown;    /* n > 0 and the oldest message's name is not known */
        char *path;             /* relative to queue_directory: "deferred/A" */
        SpoolEntry *v;
        uint32_t n, alloc;      /* entries, room */
        /* The oldest message (earliest arrival second, then smallest
         * name: spool_older()), when known: */
        char *oldest_name;      /* NULL: none (empty) or unknown */
        uint64_t oldest_key;
        uint32_t oldest_arrival_s;
        /* While records are applied (spool_follow_apply()): */
        uint32_t pending;       /* message records for this directory */
        uint32_t tail;          /* v[tail..n): appended, not sorted yet */
        uint32_t removed;       /* entries marked removed */
        uint32_t batch_arrival_s, batch_at_min; /* earliest arrival among the records, how many have it */
        const char *batch_name; /* the smallest name with it (into the records) */
        uint8_t batch_name_len;
        bool touched;
} SpoolDir;

typedef struct SpoolIndex {
        SpoolDir *dirs;
        size_t n_dirs;
        size_t n_msgs;          /* over all directories */
        uint64_t key[2];        /* SipHash key: key[0] counts the collisions seen, key[1] a constant */
        uint64_t key_mask;      /* UINT64_MAX; tests narrow it to force collisions */
        unsigned collisions;    /* directories where two names share a key (last apply) */
        char collision_dir[64]; /* the first of them, for the log */
} SpoolIndex;

/* A name inotify reported changed, not yet read back. */
typedef struct SpoolDirty {
        int wd;
        uint32_t name_off;      /* into SpoolDirtyList.names */
        uint8_t name_len;
        bool appeared;          /* created or moved here (IN_CREATE, IN_MOVED_TO) */
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
        SPOOL_RECORD_FAILED = 'F',   /* a watch could not be added; arrival_s holds the errno */
        SPOOL_RECORD_NAME = 'N',     /* the oldest message's name in the directory of wd;
                                      * arrival_s: how many names of the listing matched */
        SPOOL_RECORD_COLLISION = 'C', /* two names in the directory of wd share a key */
} SpoolRecordType;

/* 16 bytes; times in whole seconds, as in SpoolEntry. */
typedef struct SpoolRecord {
        uint8_t type;
        uint8_t queue, depth, name_len;
        int32_t wd;
        uint32_t arrival_s, due_s;
} SpoolRecord;

/* Whether a message that arrived at A_S named A (A_LEN bytes) is older
 * than one that arrived at B_S named B: the earlier arrival second, then
 * the smaller name as strcmp(3) orders them. The one rule of the full
 * scan (postfix.c scan_dir()) and of the table. */
bool spool_older(uint32_t a_s, const char *a, size_t a_len, uint32_t b_s, const char *b, size_t b_len);

/* The key of the file name NAME (LEN bytes) in IDX: SipHash-2-4 (Aumasson,
 * Bernstein 2012, as in the Linux kernel and Python) under idx->key,
 * masked with idx->key_mask. */
uint64_t spool_name_key(const SpoolIndex *idx, const char *name, size_t len);

void spool_follow_init(SpoolFollow *f);
/* Frees everything; F is then as after spool_follow_init(). */
void spool_follow_done(SpoolFollow *f);
/* Forgets directories and messages (before a walk of the whole spool). */
void spool_index_clear(SpoolIndex *idx);

/* Marks the table untrustworthy, WHY for the log (the first reason wins). */
void spool_follow_invalidate(SpoolFollow *f, const char *why);

/* The directory watched by WD: its index, or -ENOENT. */
int spool_index_find_dir(const SpoolIndex *idx, int wd);

/* The QueueStats a full scan (postfix_scan_queue()) would report for this
 * table at NOW (CLOCK_REALTIME, µs) with SLACK (µs, USEC_INFINITY: nothing
 * overdue), field by field; slack_usec is left 0 as the scan leaves it.
 * Returns 0, or -ENOKEY when the oldest message's name is not known
 * (a child resolves it: spool_index_names_wanted(), postfix_follow_names());
 * RET is then filled but for oldest_id. */
int spool_index_stats(const SpoolIndex *idx, uint64_t now_usec, uint64_t slack_usec, QueueStats *ret);

/* Marks in WANT (n_dirs entries) the directories whose oldest name must be
 * resolved for spool_index_stats(): those holding a message of the
 * earliest arrival second with that name unknown. Returns how many. */
size_t spool_index_names_wanted(const SpoolIndex *idx, bool *want);

/* Whether directory DIR holds a message of key KEY. */
bool spool_index_has_key(const SpoolIndex *idx, unsigned dir, uint64_t key);

/* The keys of directory DIR's messages that arrived in its earliest
 * arrival second, in key order, into RET (room for ROOM). Returns how
 * many there are (more than ROOM: only ROOM stored). */
size_t spool_index_oldest_keys(const SpoolIndex *idx, unsigned dir, uint64_t *ret, size_t room);

/* Reads SIZE bytes of struct inotify_event records (inotify(7)) into F:
 * changed names become dirty, overflow, lost queue directories and moved
 * directories invalidate the table, a directory that went away
 * (IN_IGNORED) is dropped with its messages. Returns 0, -ENOMEM or
 * -EBADMSG (a truncated record; the table is invalidated as well). */
int spool_follow_events(SpoolFollow *f, const void *buf, size_t size);

/* Reads SIZE bytes of SpoolRecords (a child's output) into F as one batch:
 * removals first, then new and changed messages go to each directory's
 * tail, which is sorted and merged at the end; arrays are then resized to
 * fit (spool_index_memory()). Two names of a directory with one key
 * invalidate F (a walk with a new key follows). Returns 0, -EBADMSG
 * (malformed; F invalidated) or -ENOMEM (F invalidated). */
int spool_follow_apply(SpoolFollow *f, const void *buf, size_t size);

/* Sorts F->dirty and drops duplicates. */
void spool_dirty_unique(SpoolDirtyList *l);
/* Empties L; large arrays (after a burst of changes) are freed. */
void spool_dirty_clear(SpoolDirtyList *l);
void spool_dirty_free(SpoolDirtyList *l);
static inline const char *spool_dirty_name(const SpoolDirtyList *l, const SpoolDirty *d) {
        return l->names + d->name_off;
}

/* Bytes the table holds: per directory its SpoolDir, path and oldest
 * name (strlen + 1 each), its entries (a mapping: its length, a multiple
 * of the page size; else alloc * 16 as asked of malloc()). */
size_t spool_index_memory(const SpoolIndex *idx);

/* Before a walk of the whole spool: forgets the messages and the changed
 * names (the walk reads them all) and clears need_full; after a hash
 * collision, picks a new hash key. The directories and their watches stay:
 * events that arrive during the walk still map to them, and the walk's
 * records update them. */
void spool_follow_begin_full(SpoolFollow *f);

/* At the start of a round: invalidates the table when a changed name is
 * in a directory it does not know (a watch added by a child whose records
 * never arrived). Returns need_full. */
bool spool_follow_check(SpoolFollow *f);
