/* SPDX-License-Identifier: MIT */
/* The table behind incremental queue tracking; see spool-index.h and the
 * comment "Incremental tracking" in probes/postfix.c. */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "macros.h"
#include "spool-index.h"

void spool_follow_init(SpoolFollow *f) {
        *f = (SpoolFollow) { .top_wd = -1, .need_full = true };
        (void) snprintf(f->why, sizeof(f->why), "start");
}

static const char *msg_name(const SpoolMsg *m) {
        return m->name_len > SPOOL_NAME_INLINE ? m->n.long_name : m->n.inline_name;
}

void spool_index_clear(SpoolIndex *idx) {
        for (size_t i = 0; i < idx->n_msgs; i++)
                if (idx->msgs[i].name_len > SPOOL_NAME_INLINE)
                        free(idx->msgs[i].n.long_name);
        for (size_t i = 0; i < idx->n_dirs; i++)
                free(idx->dirs[i].path);
        free(idx->dirs);
        free(idx->msgs);
        free(idx->buckets);
        *idx = (SpoolIndex) {};
}

void spool_dirty_clear(SpoolDirtyList *l) {
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

/* FNV-1a over the directory index and the name. */
static uint32_t msg_hash(unsigned dir, const char *name, size_t len) {
        uint32_t h = 2166136261u;

        h = (h ^ (dir & 0xff)) * 16777619u;
        h = (h ^ (dir >> 8)) * 16777619u;
        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char) name[i]) * 16777619u;
        return h;
}

static uint32_t *bucket_of(const SpoolIndex *idx, const SpoolMsg *m) {
        return &idx->buckets[msg_hash(m->dir, msg_name(m), m->name_len) & (idx->n_buckets - 1)];
}

/* The link that points at message I (its bucket or its predecessor's next). */
static uint32_t *link_to(const SpoolIndex *idx, size_t i) {
        uint32_t *l = bucket_of(idx, &idx->msgs[i]);

        while (*l != i + 1)
                l = &idx->msgs[*l - 1].next;
        return l;
}

static int rehash(SpoolIndex *idx, size_t n_buckets) {
        uint32_t *b = calloc(n_buckets, sizeof(*b));

        if (!b)
                return -ENOMEM;
        free(idx->buckets);
        idx->buckets = b;
        idx->n_buckets = n_buckets;
        for (size_t i = 0; i < idx->n_msgs; i++) {
                uint32_t *l = bucket_of(idx, &idx->msgs[i]);

                idx->msgs[i].next = *l;
                *l = (uint32_t) (i + 1);
        }
        return 0;
}

static SpoolMsg *find_msg(const SpoolIndex *idx, unsigned dir, const char *name, size_t len) {
        uint32_t i;

        if (idx->n_buckets == 0)
                return NULL;
        for (i = idx->buckets[msg_hash(dir, name, len) & (idx->n_buckets - 1)]; i; i = idx->msgs[i - 1].next) {
                SpoolMsg *m = &idx->msgs[i - 1];

                if (m->dir == dir && m->name_len == len && memcmp(msg_name(m), name, len) == 0)
                        return m;
        }
        return NULL;
}

int spool_index_put(SpoolIndex *idx, unsigned dir, const char *name, size_t len,
                    uint64_t arrival_usec, uint64_t due_usec) {
        SpoolMsg *m;
        int r;

        if (len == 0 || len > 255 || dir >= idx->n_dirs || idx->n_msgs >= UINT32_MAX - 1)
                return -EINVAL;
        m = find_msg(idx, dir, name, len);
        if (m) {
                m->arrival_usec = arrival_usec;
                m->due_usec = due_usec;
                return 0;
        }
        if (idx->n_msgs == idx->n_msgs_alloc) {
                size_t n = idx->n_msgs_alloc ? idx->n_msgs_alloc * 2 : 64;
                SpoolMsg *v = realloc(idx->msgs, n * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                idx->msgs = v;
                idx->n_msgs_alloc = n;
        }
        m = &idx->msgs[idx->n_msgs];
        *m = (SpoolMsg) {
                .arrival_usec = arrival_usec,
                .due_usec = due_usec,
                .dir = (uint16_t) dir,
                .name_len = (uint8_t) len,
        };
        if (len > SPOOL_NAME_INLINE) {
                m->n.long_name = strndup(name, len);
                if (!m->n.long_name)
                        return -ENOMEM;
        } else
                memcpy(m->n.inline_name, name, len);
        idx->n_msgs++;
        if (idx->n_msgs > idx->n_buckets) {
                r = rehash(idx, idx->n_buckets ? idx->n_buckets * 2 : 64);
                if (r < 0) {
                        idx->n_msgs--;
                        if (len > SPOOL_NAME_INLINE)
                                free(m->n.long_name);
                        return r;
                }
        } else {
                uint32_t *l = bucket_of(idx, m);

                m->next = *l;
                *l = (uint32_t) idx->n_msgs;
        }
        return 0;
}

/* Unlinks message I and moves the last one into its slot. */
static void remove_at(SpoolIndex *idx, size_t i) {
        size_t last = idx->n_msgs - 1;

        *link_to(idx, i) = idx->msgs[i].next;
        if (idx->msgs[i].name_len > SPOOL_NAME_INLINE)
                free(idx->msgs[i].n.long_name);
        if (i != last) {
                *link_to(idx, last) = (uint32_t) (i + 1);
                idx->msgs[i] = idx->msgs[last];
        }
        idx->n_msgs--;
}

void spool_index_remove(SpoolIndex *idx, unsigned dir, const char *name, size_t len) {
        SpoolMsg *m = find_msg(idx, dir, name, len);

        if (m)
                remove_at(idx, (size_t) (m - idx->msgs));
}

static int add_dir(SpoolIndex *idx, int wd, unsigned queue, unsigned depth, const char *path, size_t len) {
        int i = spool_index_find_dir(idx, wd);
        char *p;

        if (wd < 0 || queue >= _SPOOL_QUEUE_MAX)
                return -EINVAL;
        p = strndup(path, len);
        if (!p)
                return -ENOMEM;
        if (i < 0) {
                for (size_t k = 0; k < idx->n_dirs; k++)
                        if (idx->dirs[k].wd < 0) {
                                i = (int) k;
                                break;
                        }
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
                idx->dirs[i].path = NULL;
        }
        free(idx->dirs[i].path);
        idx->dirs[i] = (SpoolDir) { .wd = wd, .queue = (uint8_t) queue, .depth = (uint8_t) depth, .path = p };
        return i;
}

/* The directory is gone (or no longer watched): it and its messages. */
static void drop_dir(SpoolIndex *idx, unsigned dir) {
        for (size_t i = idx->n_msgs; i > 0; i--)
                if (idx->msgs[i - 1].dir == dir)
                        remove_at(idx, i - 1);
        free(idx->dirs[dir].path);
        idx->dirs[dir] = (SpoolDir) { .wd = -1 };
}

/* As scan_set_oldest_id() in postfix.c: [0-9A-Za-z] kept, anything else '_'. */
static void set_oldest_id(QueueStats *q, const SpoolMsg *m) {
        const char *name = msg_name(m);
        size_t i;

        for (i = 0; i < QUEUE_ID_MAX - 1 && i < m->name_len; i++)
                q->oldest_id[i] = isalnum((unsigned char) name[i]) ? name[i] : '_';
        q->oldest_id[i] = 0;
}

/* Orders names as strcmp() orders the NUL-terminated names. */
static int name_cmp(const SpoolMsg *a, const SpoolMsg *b) {
        size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
        int c = memcmp(msg_name(a), msg_name(b), n);

        if (c != 0)
                return c;
        return (int) a->name_len - (int) b->name_len;
}

void spool_index_stats(const SpoolIndex *idx, uint64_t now_usec, uint64_t slack_usec, QueueStats *ret) {
        QueueStats q = { .schedule_known = true, .schedule_source = "file-times", .slack_usec = slack_usec };
        unsigned *count[_SPOOL_QUEUE_MAX] = { &q.incoming, &q.active, &q.deferred, &q.maildrop };
        const SpoolMsg *oldest = NULL;

        for (size_t i = 0; i < idx->n_msgs; i++) {
                const SpoolMsg *m = &idx->msgs[i];

                (*count[idx->dirs[m->dir].queue])++;
                if (now_usec > m->due_usec) {
                        uint64_t late = now_usec - m->due_usec;

                        if (late > slack_usec) {
                                q.overdue++;
                                if (late > q.most_overdue_usec)
                                        q.most_overdue_usec = late;
                        }
                }
                if (!oldest || m->arrival_usec < oldest->arrival_usec ||
                    (m->arrival_usec == oldest->arrival_usec && name_cmp(m, oldest) < 0))
                        oldest = m;
        }
        q.backlog = q.incoming + q.active + q.deferred + q.maildrop;
        if (oldest) {
                set_oldest_id(&q, oldest);
                if (oldest->arrival_usec < now_usec)
                        q.oldest_age_usec = now_usec - oldest->arrival_usec;
        }
        *ret = q;
}

static int dirty_add(SpoolDirtyList *l, int wd, const char *name, size_t len) {
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
        l->v[l->n++] = (SpoolDirty) { .wd = wd, .name_off = (uint32_t) l->names_size, .name_len = (uint8_t) len };
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
                if (dirty_add(&f->dirty, ev.wd, name, len) < 0) {
                        spool_follow_invalidate(f, "out of memory");
                        return -ENOMEM;
                }
        }
        return 0;
}

int spool_follow_apply(SpoolFollow *f, const void *buf, size_t size) {
        const char *p = buf, *end = p + size;
        int r;

        while (p < end) {
                SpoolRecord rec;
                const char *name;
                int d;

                if ((size_t) (end - p) < sizeof(rec))
                        goto bad;
                memcpy(&rec, p, sizeof(rec));
                if ((size_t) (end - p) - sizeof(rec) < rec.name_len)
                        goto bad;
                name = p + sizeof(rec);
                p += sizeof(rec) + rec.name_len;

                switch (rec.type) {
                case SPOOL_RECORD_TOP:
                        f->top_wd = rec.wd;
                        break;
                case SPOOL_RECORD_DIR:
                        r = add_dir(&f->idx, rec.wd, rec.queue, rec.depth, name, rec.name_len);
                        if (r == -ENOMEM)
                                goto nomem;
                        if (r < 0)
                                goto bad;
                        break;
                case SPOOL_RECORD_FAILED:
                        spool_follow_invalidate(f, "a watch could not be added");
                        break;
                case SPOOL_RECORD_MSG:
                case SPOOL_RECORD_GONE:
                        d = spool_index_find_dir(&f->idx, rec.wd);
                        if (d < 0 || rec.name_len == 0)
                                goto bad;
                        if (rec.type == SPOOL_RECORD_GONE) {
                                spool_index_remove(&f->idx, (unsigned) d, name, rec.name_len);
                                break;
                        }
                        r = spool_index_put(&f->idx, (unsigned) d, name, rec.name_len, rec.arrival_usec,
                                            rec.due_usec);
                        if (r == -ENOMEM)
                                goto nomem;
                        if (r < 0)
                                goto bad;
                        break;
                default:
                        goto bad;
                }
        }
        return 0;
bad:
        spool_follow_invalidate(f, "malformed records from the reading child");
        return -EBADMSG;
nomem:
        spool_follow_invalidate(f, "out of memory");
        return -ENOMEM;
}

size_t spool_index_memory(const SpoolIndex *idx) {
        return idx->n_msgs_alloc * sizeof(SpoolMsg) + idx->n_buckets * sizeof(uint32_t) +
               idx->n_dirs * sizeof(SpoolDir);
}

void spool_follow_begin_full(SpoolFollow *f) {
        SpoolIndex *idx = &f->idx;

        for (size_t i = 0; i < idx->n_msgs; i++)
                if (idx->msgs[i].name_len > SPOOL_NAME_INLINE)
                        free(idx->msgs[i].n.long_name);
        free(idx->msgs);
        free(idx->buckets);
        idx->msgs = NULL;
        idx->buckets = NULL;
        idx->n_msgs = idx->n_msgs_alloc = idx->n_buckets = 0;
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
