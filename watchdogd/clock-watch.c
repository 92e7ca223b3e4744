/* SPDX-License-Identifier: MIT */
/* The realtime clock's steps, from a cancel-on-set timerfd (clock-watch.h).
 * The same device as systemd's sd-event time-change source and timesyncd,
 * which Debian 12's libsystemd does not offer as public API. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock-watch.h"
#include "log.h"
#include "macros.h"

struct ClockWatch {
        sd_event_source *source;     /* owns the timerfd */
        int fd;
        int64_t offset_usec;         /* clock_realtime_offset_usec() when last armed */
        clock_step_handler_t cb;
        void *userdata;
};

int64_t clock_realtime_offset_usec(void) {
        struct timespec r, m;

        (void) clock_gettime(CLOCK_REALTIME, &r);
        (void) clock_gettime(CLOCK_MONOTONIC, &m);
        return ((int64_t) r.tv_sec - (int64_t) m.tv_sec) * (int64_t) USEC_PER_SEC +
               ((int64_t) r.tv_nsec - (int64_t) m.tv_nsec) / 1000;
}

/* The timer itself never expires: only the cancellation matters. The
 * offset is taken after arming, so that a step in between is not lost
 * (the next read fails) nor counted twice (it is in the offset). */
static int clock_watch_arm(ClockWatch *cw) {
        /* The end of time_t, as systemd's sd-event does for its own
         * time-change source; the kernel caps it at its own end of time. */
        const struct itimerspec its = {
                .it_value.tv_sec = (time_t) (((uintmax_t) 1 << (sizeof(time_t) * 8 - 1)) - 1),
        };

        if (timerfd_settime(cw->fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) < 0)
                return negative_errno();
        cw->offset_usec = clock_realtime_offset_usec();
        return 0;
}

static int on_clock_fd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ClockWatch *cw = userdata;
        uint64_t expirations;
        int64_t before = cw->offset_usec;
        int r;

        if (read(fd, &expirations, sizeof(expirations)) >= 0 || errno == EAGAIN || errno == EINTR)
                return 0;  /* not a step: woken for nothing */
        if (errno != ECANCELED) {
                log_warning_errno(errno, "Cannot read the clock-change timer, clock steps go unnoticed: %m");
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }

        r = clock_watch_arm(cw);
        if (r < 0) {
                log_warning_errno(r, "Cannot re-arm the clock-change timer, later clock steps go unnoticed: %m");
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        }
        cw->cb(r < 0 ? clock_realtime_offset_usec() - before : cw->offset_usec - before, cw->userdata);
        return 0;
}

int clock_watch_new(sd_event *e, clock_step_handler_t cb, void *userdata, ClockWatch **ret) {
        ClockWatch *cw;
        int r;

        cw = calloc(1, sizeof(*cw));
        if (!cw)
                return -ENOMEM;
        cw->cb = cb;
        cw->userdata = userdata;
        cw->fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
        if (cw->fd < 0) {
                r = negative_errno();
                free(cw);
                return r;
        }
        r = clock_watch_arm(cw);
        if (r >= 0)
                r = sd_event_add_io(e, &cw->source, cw->fd, EPOLLIN, on_clock_fd, cw);
        if (r < 0) {
                (void) close(cw->fd);
                free(cw);
                return r;
        }
        (void) sd_event_source_set_io_fd_own(cw->source, true);
        (void) sd_event_source_set_description(cw->source, "clock-change");
        *ret = cw;
        return 0;
}

ClockWatch *clock_watch_free(ClockWatch *cw) {
        if (!cw)
                return NULL;
        /* The source owns the fd: unref closes it. */
        (void) sd_event_source_disable_unref(cw->source);
        free(cw);
        return NULL;
}
