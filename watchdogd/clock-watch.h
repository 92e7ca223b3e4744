/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

/* Notices when the realtime clock is set (stepped), on the event loop: a
 * timerfd on CLOCK_REALTIME armed with TFD_TIMER_ABSTIME |
 * TFD_TIMER_CANCEL_ON_SET at the end of time, whose read(2) fails with
 * ECANCELED once the clock was set (timerfd_create(2)). Slewing (adjtime,
 * NTP's frequency corrections) is not a step and is not reported; a resume
 * from suspend, which moves CLOCK_REALTIME against CLOCK_MONOTONIC, is. */

typedef struct ClockWatch ClockWatch;

/* Called once per step noticed. STEP_USEC: how far CLOCK_REALTIME moved
 * against CLOCK_MONOTONIC since the watch was armed last, in microseconds
 * (negative: set back). The watch is re-armed before the call. */
typedef void (*clock_step_handler_t)(int64_t step_usec, void *userdata);

/* Watches for steps on E, calling CB with USERDATA. Returns 0 and *RET, or
 * a negative errno of timerfd_create(2), timerfd_settime(2) or
 * sd_event_add_io(3) (not logged). */
int clock_watch_new(sd_event *e, clock_step_handler_t cb, void *userdata, ClockWatch **ret);

/* Stops watching and frees CW; NULL is fine. Returns NULL. */
ClockWatch *clock_watch_free(ClockWatch *cw);

/* CLOCK_REALTIME minus CLOCK_MONOTONIC now, in microseconds: what a step
 * changes and nothing else does (clock_gettime(2)). */
int64_t clock_realtime_offset_usec(void);
