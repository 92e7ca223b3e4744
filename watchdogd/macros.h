/* SPDX-License-Identifier: MIT */
/* Small helpers in the manner of systemd's internal macros: cleanup
 * attributes, TAKE_PTR, time constants. Free functions accept NULL. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define MIN_OF(a, b)                                  \
        ({                                         \
                __typeof__(a) _a_ = (a);           \
                __typeof__(b) _b_ = (b);           \
                _a_ < _b_ ? _a_ : _b_;             \
        })

#define MAX_OF(a, b)                                  \
        ({                                         \
                __typeof__(a) _a_ = (a);           \
                __typeof__(b) _b_ = (b);           \
                _a_ > _b_ ? _a_ : _b_;             \
        })

#define USEC_PER_SEC  ((uint64_t) 1000000ULL)
#define USEC_PER_MSEC ((uint64_t) 1000ULL)
#define USEC_INFINITY ((uint64_t) UINT64_MAX)

#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _cleanup_(f) __attribute__((cleanup(f)))

/* Returns the pointer and sets the variable to NULL, handing ownership on. */
#define TAKE_PTR(p)                        \
        ({                                 \
                __typeof__(p) _p_ = (p);   \
                (p) = NULL;                \
                _p_;                       \
        })

/* Returns the fd and sets the variable to -EBADF. */
#define TAKE_FD(fd)                        \
        ({                                 \
                int _fd_ = (fd);           \
                (fd) = -EBADF;             \
                _fd_;                      \
        })

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                (void) close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Declares TYPE_freep() for use with _cleanup_(), calling FUNC if non-NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)  \
        static inline void func##p(type *p) {    \
                if (*p)                          \
                        func(*p);                \
        }

static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}
