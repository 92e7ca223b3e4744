/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <stdbool.h>

#include "caps.h"
#include "macros.h"

/* capget(2)/capset(2) have no glibc wrapper; version 3 uses two 32-bit words. */
static int caps_get(struct __user_cap_data_struct data[static 2]) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };

        return syscall(SYS_capget, &h, data) < 0 ? negative_errno() : 0;
}

static int caps_set(struct __user_cap_data_struct data[static 2]) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };

        return syscall(SYS_capset, &h, data) < 0 ? negative_errno() : 0;
}

int caps_confine(void) {
        struct __user_cap_data_struct data[2];
        int r;

        if (geteuid() == 0)
                return 0;
        /* EINVAL: a kernel without ambient capabilities (before 4.3): nothing to clear. */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return negative_errno();
        r = caps_get(data);
        if (r < 0)
                return r;
        if (data[0].effective == 0 && data[1].effective == 0)
                return 0;
        data[0].effective = data[1].effective = 0;
        return caps_set(data);
}

int caps_raise_read_search(void) {
        struct __user_cap_data_struct data[2];
        const unsigned bit = CAP_DAC_READ_SEARCH; /* 2: in the first word */
        int r;

        if (geteuid() == 0)
                return 1;
        r = caps_get(data);
        if (r < 0)
                return r;
        if (!(data[0].permitted & (1U << bit)))
                return 0;
        if (data[0].effective & (1U << bit))
                return 1;
        data[0].effective |= 1U << bit;
        r = caps_set(data);
        return r < 0 ? r : 1;
}

int caps_can_kill(void) {
        struct __user_cap_data_struct data[2];
        int r;

        if (geteuid() == 0)
                return 1;
        r = caps_get(data);
        if (r < 0)
                return r;
        return !!(data[0].permitted & (1U << CAP_KILL));
}

/* kill(2) (PIDFD < 0) or pidfd_send_signal(2) with CAP_KILL effective for
 * the call alone. */
static int caps_signal(pid_t pid, int pidfd, int sig) {
        struct __user_cap_data_struct data[2];
        const unsigned bit = CAP_KILL; /* 5: in the first word */
        bool raised = false;
        int r, k;

        if (geteuid() != 0) {
                r = caps_get(data);
                if (r < 0)
                        return r;
                if ((data[0].permitted & (1U << bit)) && !(data[0].effective & (1U << bit))) {
                        data[0].effective |= 1U << bit;
                        r = caps_set(data);
                        if (r < 0)
                                return r;
                        raised = true;
                }
        }
        if (pidfd >= 0)
                k = syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? negative_errno() : 0;
        else
                k = kill(pid, sig) < 0 ? negative_errno() : 0;
        if (raised) {
                data[0].effective &= ~(1U << bit);
                r = caps_set(data);
                if (r < 0)
                        return r;
        }
        return k;
}

int caps_kill(pid_t pid, int sig) {
        return caps_signal(pid, -EBADF, sig);
}

int caps_kill_pidfd(int pidfd, int sig) {
        if (pidfd < 0)
                return -EBADF;
        return caps_signal(0, pidfd, sig);
}
