/* SPDX-License-Identifier: MIT */
/* The table behind incremental queue tracking; see spool-index.h and the
 * comment "Incremental tracking" in probes/postfix.c.
 *
 * Per followed directory one array of 16-byte entries sorted by the key
 * (a 64-bit hash of the file name), no names: a message costs 16 bytes,
 * plus per directory its SpoolDir, its path, the name of its oldest
 * message and the rounding of its array to whole pages. A batch of
 * records (one child's output) is applied in passes: directories first
 * and message records counted, so that each array grows once, and only
 * to what the batch can need (a full walk: exactly its messages); then
 * removals (marked); then new and changed messages (binary search in the
 * sorted part, else appended to the tail); at the end each directory
 * touched drops its removed entries, sorts its tail, merges it and
 * shrinks its array when it holds more than a quarter of room. */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <unistd.h>

#include "macros.h"
#include "spool-index.h"

/* A removed entry (arrival_s), until the end of the batch. */
#define SPOOL_REMOVED UINT32_MAX

/* The constant half of the hash key: "mta-watc" in ASCII. */
#define SPOOL_KEY_CONSTANT 0x6d74612d77617463ULL

void spool_follow_init(SpoolFollow *f) {
        *f = (SpoolFollow) { .top_wd = -1, .need_full = true };
        f->idx.key[1] = SPOOL_KEY_CONSTANT;
        f->idx.key_mask = UINT64_MAX;
        (void) snprintf(f->why, sizeof(f->why), "start");
}

static inline uint64_t rotl64(uint64_t x, unsigned b) {
        return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                              \
        do {                                                                                  \
                v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);                 \
                v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;                                      \
                v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;                                      \
                v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);                 \
        } while (0)

/* SipHash-2-4 ("SipHash: a fast short-input PRF", Aumasson and Bernstein,
 * 2012; its reference implementation, little-endian words). */
static uint64_t siphash24(const void *data, size_t len, uint64_t k0, uint64_t k1) {
        const uint8_t *in = data, *end = in + len - len % 8;
        uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
        uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
        uint64_t b = (uint64_t) len << 56;

        for (; in != end; in += 8) {
                uint64_t m = 0;

                for (unsigned i = 0; i < 8; i++)
                        m |= (uint64_t) in[i] << (8 * i);
                v3 ^= m;
                SIPROUND;
                SIPROUND;
                v0 ^= m;
        }
        for (unsigned i = 0; i < len % 8; i++)
                b |= (uint64_t) in[i] << (8 * i);
        v3 ^= b;
        SIPROUND;
        SIPROUND;
        v0 ^= b;
        v2 ^= 0xff;
        SIPROUND;
        SIPROUND;
        SIPROUND;
        SIPROUND;
        return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t spool_name_key(const SpoolIndex *idx, const char *name, size_t len) {
        return siphash24(name, len, idx->key[0], idx->key[1]) & idx->key_mask;
}

bool spool_older(uint32_t a_s, const char *a, size_t a_len, uint32_t b_s, const char *b, size_t b_len) {
        int c;

        if (a_s != b_s)
                return a_s < b_s;
        c = memcmp(a, b, MIN_OF(a_len, b_len));
        return c < 0 || (c == 0 && a_len < b_len);
}

static void dir_free_entries(SpoolDir *d) {
        if (d->mapped)
                (void) munmap(d->v, (size_t) d->alloc * sizeof(SpoolEntry));
        else
                free(d->v);
        d->v = NULL;
        d->n = d->alloc = 0;
        d->mapped = false;
}

static void dir_forget_oldest(SpoolDir *d) {
        free(d->oldest_name);
        d->oldest_name = NULL;
        d->oldest_key = 0;
        d->oldest_arrival_s = 0;
}

static void dir_free(SpoolDir *d) {
        dir_free_entries(d);
        dir_forget_oldest(d);
        free(d->path);
        *d = (SpoolDir) { .wd = -1 };
}

void spool_index_clear(SpoolIndex *idx) {
        uint64_t k0 = idx->key[0], k1 = idx->key[1], mask = idx->key_mask;

        for (size_t i = 0; i < idx->n_dirs; i++)
                dir_free(&idx->dirs[i]);
        free(idx->dirs);
        *idx = (SpoolIndex) { .key = { k0, k1 }, .key_mask = mask };
}

/* Large dirty lists (a burst of changes) are not kept for the next one. */
#define SPOOL_DIRTY_KEEP 1024

void spool_dirty_clear(SpoolDirtyList *l) {
        if (l->alloc > SPOOL_DIRTY_KEEP || l->names_alloc > SPOOL_DIRTY_KEEP * 32) {
                spool_dirty_free(l);
                return;
        }
        l->n = 0;
        l->names_size = 0;
}

void spool_dirty_free(SpoolDirtyList *l) {
        free(l->v);
        free(l->names);
        *l = (SpoolDirtyList) {};
}

void spool_follow_done(SpoolFollow *f) {
        spool_index_clear(&f->idx);
        spool_dirty_free(&f->dirty);
        spool_follow_init(f);
}

void spool_follow_invalidate(SpoolFollow *f, const char *why) {
        if (!f->need_full)
                (void) snprintf(f->why, sizeof(f->why), "%s", why);
        f->need_full = true;
}

int spool_index_find_dir(const SpoolIndex *idx, int wd) {
        if (wd < 0)
                return -ENOENT;
        for (size_t i = 0; i < idx->n_dirs; i++)
                if (idx->dirs[i].wd == wd)
                        return (int) i;
        return -ENOENT;
}

/* Gives D's array room for exactly WANT entries (>= d->n), the page
 * rounding of a mapping aside. Returns 0 or -ENOMEM (D unchanged). */
static int dir_resize(SpoolDir *d, uint32_t want) {
        size_t bytes = (size_t) want * sizeof(SpoolEntry);
        size_t page = (size_t) sysconf(_SC_PAGESIZE);

        if (want == 0) {
                dir_free_entries(d);
                return 0;
        }
        if (bytes >= SPOOL_MAP_MIN) {
                size_t len = (bytes + page - 1) / page * page;
                void *p;

                if (len / sizeof(SpoolEntry) > UINT32_MAX)
                        return -ENOMEM;
                if (d->mapped) {
                        if (len == (size_t) d->alloc * sizeof(SpoolEntry))
                                return 0;
                        p = mremap(d->v, (size_t) d->alloc * sizeof(SpoolEntry), len, MREMAP_MAYMOVE);
                        if (p == MAP_FAILED)
                                return -ENOMEM;
                } else {
                        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        if (p == MAP_FAILED)
                                return -ENOMEM;
                        if (d->n > 0)
                                memcpy(p, d->v, (size_t) d->n * sizeof(SpoolEntry));
                        free(d->v);
                }
                d->v = p;
                d->alloc = (uint32_t) (len / sizeof(SpoolEntry));
                d->mapped = true;
                return 0;
        }
        if (d->mapped) {
                SpoolEntry *p = malloc(bytes);

                if (!p)
                        return -ENOMEM;
                memcpy(p, d->v, (size_t) d->n * sizeof(SpoolEntry));
                (void) munmap(d->v, (size_t) d->alloc * sizeof(SpoolEntry));
                d->v = p;
                d->mapped = false;
        } else if (want != d->alloc) {
                SpoolEntry *p = realloc(d->v, bytes);

                if (!p)
                        return -ENOMEM;
                d->v = p;
        }
        d->alloc = want;
        return 0;
}

/* Room for NEED entries: at least a quarter more than now, never double. */
static int dir_reserve(SpoolDir *d, uint64_t need) {
        uint64_t want;

        if (need <= d->alloc)
                return 0;
        if (need > UINT32_MAX - 1)
                return -ENOMEM;
        want = MAX_OF(need, (uint64_t) d->alloc + d->alloc / 4);
        return dir_resize(d, (uint32_t) MIN_OF(want, (uint64_t) UINT32_MAX - 1));
}

/* After a batch: more than a quarter of room left goes, down to an eighth. */
static void dir_trim(SpoolDir *d) {
        if (d->n == 0)
                dir_free_entries(d);
        else if (d->alloc > d->n + d->n / 4)
                (void) dir_resize(d, d->n + d->n / 8);   /* a failure keeps the larger array */
}

/* The entry of KEY among v[0..n), which are sorted: its index, or -1. */
static int64_t find_key(const SpoolDir *d, uint32_t n, uint64_t key) {
        uint32_t lo = 0, hi = n;

        while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;

                if (d->v[mid].key < key)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < n && d->v[lo].key == key ? (int64_t) lo : -1;
}

/* The earliest arrival second in D (which has entries) and how many have it. */
static uint32_t dir_min_arrival(const SpoolDir *d, uint32_t *ret_count) {
        uint32_t a = UINT32_MAX, c = 0;

        for (uint32_t i = 0; i < d->n; i++) {
                if (d->v[i].arrival_s < a) {
                        a = d->v[i].arrival_s;
                        c = 1;
                } else if (d->v[i].arrival_s == a)
                        c++;
        }
        if (ret_count)
                *ret_count = c;
        return a;
}

static int dir_set_oldest(const SpoolIndex *idx, SpoolDir *d, const char *name, size_t len, uint32_t arrival_s) {
        char *p = strndup(name, len);

        if (!p)
                return -ENOMEM;
        free(d->oldest_name);
        d->oldest_name = p;
        d->oldest_key = spool_name_key(idx, name, len);
        d->oldest_arrival_s = arrival_s;
        d->oldest_unknown = false;
        return 0;
}

static int add_dir(SpoolIndex *idx, int wd, unsigned queue, unsigned depth, const char *path, size_t len) {
        int i = spool_index_find_dir(idx, wd);
        char *p;

        if (wd < 0 || queue >= _SPOOL_QUEUE_MAX)
                return -EINVAL;
        p = strndup(path, len);
        if (!p)
                return -ENOMEM;
        if (i >= 0) {
                /* Known already (a walk of the whole spool): its messages stay. */
                SpoolDir *d = &idx->dirs[i];

                free(d->path);
                d->path = p;
                d->queue = (uint8_t) queue;
                d->depth = (uint8_t) depth;
                return i;
        }
        for (size_t k = 0; k < idx->n_dirs; k++)
                if (idx->dirs[k].wd < 0) {
                        i = (int) k;
                        break;
                }
        if (i < 0) {
                SpoolDir *v;

                if (idx->n_dirs >= UINT16_MAX) {
                        free(p);
                        return -E2BIG;
                }
                v = realloc(idx->dirs, (idx->n_dirs + 1) * sizeof(*v));
                if (!v) {
                        free(p);
                        return -ENOMEM;
                }
                idx->dirs = v;
                i = (int) idx->n_dirs++;
        }
        idx->dirs[i] = (SpoolDir) { .wd = wd, .queue = (uint8_t) queue, .depth = (uint8_t) depth, .path = p };
        return i;
}

/* The directory is gone (or no longer watched): it and its messages. */
static void drop_dir(SpoolIndex *idx, unsigned dir) {
        idx->n_msgs -= idx->dirs[dir].n;
        dir_free(&idx->dirs[dir]);
}

/* As scan_set_oldest_id() in postfix.c: [0-9A-Za-z] kept, anything else '_'. */
static void set_oldest_id(QueueStats *q, const char *name) {
        size_t i;

        for (i = 0; i < QUEUE_ID_MAX - 1 && name[i]; i++)
                q->oldest_id[i] = isalnum((unsigned char) name[i]) ? name[i] : '_';
        q->oldest_id[i] = 0;
}

/* The earliest arrival second over all directories with messages
 * (UINT32_MAX: none), each directory's own in MINS. */
static uint32_t index_min_arrival(const SpoolIndex *idx, uint32_t *mins) {
        uint32_t g = UINT32_MAX;

        for (size_t i = 0; i < idx->n_dirs; i++) {
                const SpoolDir *d = &idx->dirs[i];

                mins[i] = d->wd >= 0 && d->n > 0 ? dir_min_arrival(d, NULL) : UINT32_MAX;
                g = MIN_OF(g, mins[i]);
        }
        return g;
}

int spool_index_stats(const SpoolIndex *idx, uint64_t now_usec, uint64_t slack_usec, QueueStats *ret) {
        QueueStats q = { .schedule_known = true, .schedule_source = "file-times", .slack_usec = slack_usec };
        unsigned *count[_SPOOL_QUEUE_MAX] = { &q.incoming, &q.active, &q.deferred, &q.maildrop };
        const SpoolDir *oldest = NULL;
        uint32_t g = UINT32_MAX;
        bool unknown = false;

        for (size_t i = 0; i < idx->n_dirs; i++) {
                const SpoolDir *d = &idx->dirs[i];
                uint32_t a = UINT32_MAX;

                if (d->wd < 0 || d->n == 0)
                        continue;
                *count[d->queue] += d->n;
                for (uint32_t k = 0; k < d->n; k++) {
                        uint64_t due = (uint64_t) d->v[k].due_s * USEC_PER_SEC;

                        a = MIN_OF(a, d->v[k].arrival_s);
                        if (now_usec > due && now_usec - due > slack_usec) {
                                q.overdue++;
                                q.most_overdue_usec = MAX_OF(q.most_overdue_usec, now_usec - due);
                        }
                }
                if (a > g)
                        continue;
                if (a < g) {
                        g = a;
                        oldest = NULL;
                        unknown = false;
                }
                if (d->oldest_unknown || !d->oldest_name) {
                        unknown = true;
                        continue;
                }
                if (!oldest || spool_older(a, d->oldest_name, strlen(d->oldest_name), g, oldest->oldest_name,
                                           strlen(oldest->oldest_name)))
                        oldest = d;
        }
        q.backlog = q.incoming + q.active + q.deferred + q.maildrop;
        if (g != UINT32_MAX) {
                uint64_t t = (uint64_t) g * USEC_PER_SEC;

                if (t < now_usec)
                        q.oldest_age_usec = now_usec - t;
                if (!unknown && oldest)
                        set_oldest_id(&q, oldest->oldest_name);
        }
        *ret = q;
        return unknown ? -ENOKEY : 0;
}

size_t spool_index_names_wanted(const SpoolIndex *idx, bool *want) {
        _cleanup_free_ uint32_t *mins = NULL;
        size_t n = 0;
        uint32_t g;

        if (idx->n_dirs == 0)
                return 0;
        mins = malloc(idx->n_dirs * sizeof(*mins));
        if (!mins) {
                /* Cannot tell which: all of them that lack it. */
                for (size_t i = 0; i < idx->n_dirs; i++) {
                        want[i] = idx->dirs[i].wd >= 0 && idx->dirs[i].n > 0 && idx->dirs[i].oldest_unknown;
                        n += want[i];
                }
                return n;
        }
        g = index_min_arrival(idx, mins);
        for (size_t i = 0; i < idx->n_dirs; i++) {
                want[i] = mins[i] == g && g != UINT32_MAX && idx->dirs[i].oldest_unknown;
                n += want[i];
        }
        return n;
}

bool spool_index_has_key(const SpoolIndex *idx, unsigned dir, uint64_t key) {
        return dir < idx->n_dirs && idx->dirs[dir].n > 0 && find_key(&idx->dirs[dir], idx->dirs[dir].n, key) >= 0;
}

size_t spool_index_oldest_keys(const SpoolIndex *idx, unsigned dir, uint64_t *ret, size_t room) {
        const SpoolDir *d;
        uint32_t a;
        size_t n = 0;

        if (dir >= idx->n_dirs || idx->dirs[dir].n == 0)
                return 0;
        d = &idx->dirs[dir];
        a = dir_min_arrival(d, NULL);
        for (uint32_t i = 0; i < d->n; i++)
                if (d->v[i].arrival_s == a) {
                        if (n < room)
                                ret[n] = d->v[i].key;
                        n++;
                }
        return n;
}

static int dirty_add(SpoolDirtyList *l, int wd, const char *name, size_t len, bool appeared) {
        if (l->n == l->alloc) {
                size_t n = l->alloc ? l->alloc * 2 : 64;
                SpoolDirty *v = realloc(l->v, n * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                l->v = v;
                l->alloc = n;
        }
        if (l->names_size + len + 1 > l->names_alloc) {
                size_t n = l->names_alloc ? l->names_alloc * 2 : 1024;
                char *v;

                while (n < l->names_size + len + 1)
                        n *= 2;
                v = realloc(l->names, n);
                if (!v)
                        return -ENOMEM;
                l->names = v;
                l->names_alloc = n;
        }
        memcpy(l->names + l->names_size, name, len);
        l->names[l->names_size + len] = 0;
        l->v[l->n++] = (SpoolDirty) { .wd = wd, .name_off = (uint32_t) l->names_size, .name_len = (uint8_t) len,
                                      .appeared = appeared };
        l->names_size += len + 1;
        return 0;
}

static const SpoolDirtyList *sort_list;

static int dirty_cmp(const void *a, const void *b) {
        const SpoolDirty *x = a, *y = b;

        if (x->wd != y->wd)
                return x->wd < y->wd ? -1 : 1;
        return strcmp(spool_dirty_name(sort_list, x), spool_dirty_name(sort_list, y));
}

void spool_dirty_unique(SpoolDirtyList *l) {
        size_t k = 0;

        if (l->n < 2)
                return;
        sort_list = l;
        qsort(l->v, l->n, sizeof(*l->v), dirty_cmp);
        sort_list = NULL;
        for (size_t i = 0; i < l->n; i++)
                if (k == 0 || l->v[k - 1].wd != l->v[i].wd ||
                    strcmp(spool_dirty_name(l, &l->v[k - 1]), spool_dirty_name(l, &l->v[i])) != 0)
                        l->v[k++] = l->v[i];
                else
                        l->v[k - 1].appeared |= l->v[i].appeared;
        l->n = k;
}

static bool is_queue_name(const char *name) {
        static const char *const names[] = { "incoming", "active", "deferred", "maildrop" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(name, names[i]) == 0)
                        return true;
        return false;
}

int spool_follow_events(SpoolFollow *f, const void *buf, size_t size) {
        const char *p = buf, *end = p + size;

        while (p < end) {
                struct inotify_event ev;
                const char *name;
                size_t len;
                int d;

                if ((size_t) (end - p) < sizeof(ev)) {
                        spool_follow_invalidate(f, "truncated inotify event");
                        return -EBADMSG;
                }
                memcpy(&ev, p, sizeof(ev));
                if ((size_t) (end - p) - sizeof(ev) < ev.len) {
                        spool_follow_invalidate(f, "truncated inotify event");
                        return -EBADMSG;
                }
                name = p + sizeof(ev);
                len = ev.len ? strnlen(name, ev.len) : 0;
                p += sizeof(ev) + ev.len;

                if (ev.mask & IN_Q_OVERFLOW) {
                        spool_follow_invalidate(f, "inotify queue overflow");
                        continue;
                }
                if (ev.mask & IN_UNMOUNT) {
                        spool_follow_invalidate(f, "file system unmounted");
                        continue;
                }
                if (ev.wd == f->top_wd && f->top_wd >= 0) {
                        if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
                                f->top_wd = -1;
                                spool_follow_invalidate(f, "queue directory moved or removed");
                        } else if (len > 0 && is_queue_name(name))
                                spool_follow_invalidate(f, "a queue directory was created, moved or removed");
                        continue;
                }
                d = spool_index_find_dir(&f->idx, ev.wd);
                if (ev.mask & IN_IGNORED) {
                        if (d >= 0) {
                                if (f->idx.dirs[d].depth == 0)
                                        spool_follow_invalidate(f, "a queue directory went away");
                                drop_dir(&f->idx, (unsigned) d);
                        }
                        continue;
                }
                if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
                        /* IN_IGNORED follows a deletion; a moved directory took its messages elsewhere. */
                        if ((ev.mask & IN_MOVE_SELF) || (d >= 0 && f->idx.dirs[d].depth == 0))
                                spool_follow_invalidate(f, "a queue directory was moved or removed");
                        continue;
                }
                if (len == 0)
                        continue;
                if (ev.mask & IN_ISDIR) {
                        if (ev.mask & IN_MOVED_FROM)
                                spool_follow_invalidate(f, "a directory was moved out");
                        else if (ev.mask & (IN_CREATE | IN_MOVED_TO))
                                goto dirty;    /* read and followed by the next round */
                        continue;
                }
        dirty:
                if (f->dirty.n >= SPOOL_DIRTY_MAX) {
                        spool_follow_invalidate(f, "too many changes for one round");
                        continue;
                }
                if (dirty_add(&f->dirty, ev.wd, name, len, ev.mask & (IN_CREATE | IN_MOVED_TO)) < 0) {
                        spool_follow_invalidate(f, "out of memory");
                        return -ENOMEM;
                }
        }
        return 0;
}

static int entry_cmp(const void *a, const void *b) {
        const SpoolEntry *x = a, *y = b;

        return x->key < y->key ? -1 : x->key > y->key;
}

/* Reads one record at *P: 0 and *P moved past it, or -EBADMSG. */
static int record_next(const char **p, const char *end, SpoolRecord *rec, const char **name) {
        if ((size_t) (end - *p) < sizeof(*rec))
                return -EBADMSG;
        memcpy(rec, *p, sizeof(*rec));
        if ((size_t) (end - *p) - sizeof(*rec) < rec->name_len)
                return -EBADMSG;
        *name = *p + sizeof(*rec);
        *p += sizeof(*rec) + rec->name_len;
        return 0;
}

/* The directory of a message record's wd, with a one-entry cache. */
static int record_dir(const SpoolIndex *idx, int wd, int *cache_wd, int *cache_dir) {
        if (wd != *cache_wd || *cache_dir < 0 || (size_t) *cache_dir >= idx->n_dirs ||
            idx->dirs[*cache_dir].wd != wd) {
                *cache_dir = spool_index_find_dir(idx, wd);
                *cache_wd = wd;
        }
        return *cache_dir;
}

/* End of a batch for directory D: removed entries go, the tail is sorted
 * and merged, a repeated key is a collision, the oldest name is kept
 * where it is known (see spool_follow_apply()), the array fits. */
static int dir_finish(SpoolIndex *idx, SpoolDir *d) {
        uint32_t n = d->n, tail = d->tail, a, at_a;
        bool prev_ok = false;
        int r = 0;

        if (d->removed > 0) {
                uint32_t k = 0;

                for (uint32_t i = 0; i < tail; i++)
                        if (d->v[i].arrival_s != SPOOL_REMOVED)
                                d->v[k++] = d->v[i];
                memmove(d->v + k, d->v + tail, (size_t) (n - tail) * sizeof(SpoolEntry));
                n = k + (n - tail);
                tail = k;
        }
        if (n > tail) {
                qsort(d->v + tail, n - tail, sizeof(SpoolEntry), entry_cmp);
                if (tail > 0) {
                        uint32_t t = n - tail, i = tail, j = t, k = n;
                        SpoolEntry *tmp = malloc((size_t) t * sizeof(SpoolEntry));

                        if (tmp) {
                                /* Merged from the back: v[0..tail) and the tail's copy. */
                                memcpy(tmp, d->v + tail, (size_t) t * sizeof(SpoolEntry));
                                while (j > 0) {
                                        if (i > 0 && d->v[i - 1].key > tmp[j - 1].key)
                                                d->v[--k] = d->v[--i];
                                        else
                                                d->v[--k] = tmp[--j];
                                }
                                free(tmp);
                        } else
                                qsort(d->v, n, sizeof(SpoolEntry), entry_cmp);
                }
        }
        d->n = n;
        for (uint32_t i = 1; i < n; i++)
                if (d->v[i].key == d->v[i - 1].key) {
                        if (idx->collisions++ == 0)
                                (void) snprintf(idx->collision_dir, sizeof(idx->collision_dir), "%s", d->path);
                        break;
                }

        if (n == 0) {
                dir_forget_oldest(d);
                d->oldest_unknown = false;
                dir_trim(d);
                return 0;
        }
        /* The oldest is the smallest name among the entries of the earliest
         * second A. Its name is known when the previous oldest is still
         * there with A (every other entry of A either was there before,
         * with a larger name, or came in this batch, whose names are at
         * hand), or when every entry of A came in this batch. */
        a = dir_min_arrival(d, &at_a);
        if (!d->oldest_unknown && d->oldest_name && d->oldest_arrival_s == a) {
                int64_t i = find_key(d, n, d->oldest_key);

                prev_ok = i >= 0 && d->v[i].arrival_s == a;
        }
        if (prev_ok) {
                if (d->batch_at_min > 0 && d->batch_arrival_s == a &&
                    spool_older(a, d->batch_name, d->batch_name_len, a, d->oldest_name, strlen(d->oldest_name)))
                        r = dir_set_oldest(idx, d, d->batch_name, d->batch_name_len, a);
        } else if (d->batch_at_min == at_a && d->batch_arrival_s == a)
                r = dir_set_oldest(idx, d, d->batch_name, d->batch_name_len, a);
        else {
                dir_forget_oldest(d);
                d->oldest_unknown = true;
        }
        dir_trim(d);
        return r;
}

/* A name resolved by a listing (postfix_follow_names()): taken when it is
 * one of the entries of the earliest second and the listing matched all
 * of them (else something changed since: the name stays unknown). */
static int dir_take_name(SpoolIndex *idx, SpoolDir *d, const char *name, size_t len, uint32_t matched) {
        uint32_t a, at_a;
        int64_t i;

        if (d->n == 0 || !d->oldest_unknown)
                return 0;
        a = dir_min_arrival(d, &at_a);
        i = find_key(d, d->n, spool_name_key(idx, name, len));
        if (i < 0 || d->v[i].arrival_s != a || matched != at_a)
                return 0;
        return dir_set_oldest(idx, d, name, len, a);
}

/* The state of a batch, forgotten (after it, or when it failed: then the
 * table is invalidated, and the walk that follows starts afresh). */
static void batch_reset(SpoolIndex *idx) {
        for (size_t i = 0; i < idx->n_dirs; i++) {
                SpoolDir *e = &idx->dirs[i];

                e->touched = false;
                e->pending = e->removed = e->batch_at_min = 0;
                e->tail = e->n;
                e->batch_name = NULL;
        }
}

int spool_follow_apply(SpoolFollow *f, const void *buf, size_t size) {
        SpoolIndex *idx = &f->idx;
        const char *start = buf, *end = start + size, *p, *name = NULL;
        SpoolRecord rec = {};
        int cw = -1, cd = -1, d, r;

        /* Pass 1: directories; message records checked and counted. */
        for (p = start; p < end;) {
                if (record_next(&p, end, &rec, &name) < 0)
                        goto bad;
                switch (rec.type) {
                case SPOOL_RECORD_TOP:
                        f->top_wd = rec.wd;
                        break;
                case SPOOL_RECORD_DIR:
                        r = add_dir(idx, rec.wd, rec.queue, rec.depth, name, rec.name_len);
                        if (r == -ENOMEM)
                                goto nomem;
                        if (r < 0)
                                goto bad;
                        break;
                case SPOOL_RECORD_FAILED:
                        spool_follow_invalidate(f, "a watch could not be added");
                        break;
                case SPOOL_RECORD_COLLISION:
                        d = record_dir(idx, rec.wd, &cw, &cd);
                        if (d < 0)
                                goto bad;
                        if (idx->collisions++ == 0)
                                (void) snprintf(idx->collision_dir, sizeof(idx->collision_dir), "%s",
                                                idx->dirs[d].path);
                        break;
                case SPOOL_RECORD_MSG:
                case SPOOL_RECORD_GONE:
                case SPOOL_RECORD_NAME:
                        d = record_dir(idx, rec.wd, &cw, &cd);
                        if (d < 0 || rec.name_len == 0)
                                goto bad;
                        if (rec.type == SPOOL_RECORD_NAME)
                                break;
                        idx->dirs[d].touched = true;
                        if (rec.type == SPOOL_RECORD_MSG) {
                                if (rec.arrival_s > SPOOL_TIME_MAX || rec.due_s > SPOOL_TIME_MAX ||
                                    idx->dirs[d].pending == UINT32_MAX)
                                        goto bad;
                                idx->dirs[d].pending++;
                        }
                        break;
                default:
                        goto bad;
                }
        }
        for (size_t i = 0; i < idx->n_dirs; i++) {
                SpoolDir *e = &idx->dirs[i];

                if (e->pending > 0 && dir_reserve(e, (uint64_t) e->n + e->pending) < 0)
                        goto nomem;
                e->tail = e->n;
                e->batch_at_min = 0;
        }
        /* Pass 2: removals, marked (names are unique in a batch). */
        for (p = start; p < end;) {
                (void) record_next(&p, end, &rec, &name);
                if (rec.type == SPOOL_RECORD_GONE) {
                        SpoolDir *e = &idx->dirs[record_dir(idx, rec.wd, &cw, &cd)];
                        int64_t i = find_key(e, e->tail, spool_name_key(idx, name, rec.name_len));

                        if (i >= 0 && e->v[i].arrival_s != SPOOL_REMOVED) {
                                e->v[i].arrival_s = SPOOL_REMOVED;
                                e->removed++;
                        }
                }
        }
        /* Pass 3: new and changed messages. */
        for (p = start; p < end;) {
                SpoolDir *e;
                int64_t i;
                uint64_t key;

                (void) record_next(&p, end, &rec, &name);
                if (rec.type != SPOOL_RECORD_MSG)
                        continue;
                e = &idx->dirs[record_dir(idx, rec.wd, &cw, &cd)];
                key = spool_name_key(idx, name, rec.name_len);
                i = find_key(e, e->tail, key);
                if (i < 0) {
                        i = e->n++;    /* room reserved in pass 1 */
                        e->v[i].key = key;
                } else if (e->v[i].arrival_s == SPOOL_REMOVED)
                        e->removed--;
                e->v[i].arrival_s = rec.arrival_s;
                e->v[i].due_s = rec.due_s;
                if (e->batch_at_min == 0 || rec.arrival_s < e->batch_arrival_s) {
                        e->batch_arrival_s = rec.arrival_s;
                        e->batch_at_min = 1;
                        e->batch_name = name;
                        e->batch_name_len = rec.name_len;
                } else if (rec.arrival_s == e->batch_arrival_s) {
                        e->batch_at_min++;
                        if (spool_older(rec.arrival_s, name, rec.name_len, e->batch_arrival_s, e->batch_name,
                                        e->batch_name_len)) {
                                e->batch_name = name;
                                e->batch_name_len = rec.name_len;
                        }
                }
        }
        r = 0;
        idx->n_msgs = 0;
        for (size_t i = 0; i < idx->n_dirs; i++) {
                SpoolDir *e = &idx->dirs[i];

                if (e->touched && dir_finish(idx, e) < 0)
                        r = -ENOMEM;
                idx->n_msgs += e->n;
        }
        batch_reset(idx);
        if (r < 0)
                goto nomem;
        /* Pass 4: resolved names. */
        for (p = start; p < end;) {
                (void) record_next(&p, end, &rec, &name);
                if (rec.type == SPOOL_RECORD_NAME &&
                    dir_take_name(idx, &idx->dirs[record_dir(idx, rec.wd, &cw, &cd)], name, rec.name_len,
                                  rec.arrival_s) < 0)
                        goto nomem;
        }
        if (idx->collisions > 0) {
                char why[96];

                (void) snprintf(why, sizeof(why), "two names share a hash key in %s", idx->collision_dir);
                spool_follow_invalidate(f, why);
        }
        return 0;
bad:
        batch_reset(idx);
        spool_follow_invalidate(f, "malformed records from the reading child");
        return -EBADMSG;
nomem:
        batch_reset(idx);
        spool_follow_invalidate(f, "out of memory");
        return -ENOMEM;
}

size_t spool_index_memory(const SpoolIndex *idx) {
        size_t m = idx->n_dirs * sizeof(SpoolDir);

        for (size_t i = 0; i < idx->n_dirs; i++) {
                const SpoolDir *d = &idx->dirs[i];

                m += (size_t) d->alloc * sizeof(SpoolEntry);
                if (d->path)
                        m += strlen(d->path) + 1;
                if (d->oldest_name)
                        m += strlen(d->oldest_name) + 1;
        }
        return m;
}

void spool_follow_begin_full(SpoolFollow *f) {
        SpoolIndex *idx = &f->idx;

        for (size_t i = 0; i < idx->n_dirs; i++) {
                dir_free_entries(&idx->dirs[i]);
                dir_forget_oldest(&idx->dirs[i]);
                idx->dirs[i].oldest_unknown = false;
        }
        batch_reset(idx);
        idx->n_msgs = 0;
        if (idx->collisions > 0) {
                /* Another key: two names that share one now almost surely do not then. */
                idx->key[0]++;
                idx->collisions = 0;
        }
        spool_dirty_free(&f->dirty);
        f->need_full = false;
        f->why[0] = 0;
}

bool spool_follow_check(SpoolFollow *f) {
        for (size_t i = 0; i < f->dirty.n && !f->need_full; i++)
                if (spool_index_find_dir(&f->idx, f->dirty.v[i].wd) < 0)
                        spool_follow_invalidate(f, "a change in a directory not followed yet");
        return f->need_full;
}
