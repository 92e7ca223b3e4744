/* SPDX-License-Identifier: MIT */
/* A D-Bus connection pair on a socketpair for tests that stand in for
 * org.freedesktop.systemd1: SERVER answers with the test's fake, CLIENT is
 * what the code under test uses. Both are attached to E. */
#pragma once

#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>
#include <time.h>

static inline void bus_pair_open(sd_event *e, sd_bus **server, sd_bus **client) {
        int pair[2];
        sd_id128_t id;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair), 0);
        assert_int_equal(sd_id128_randomize(&id), 0);

        assert_int_equal(sd_bus_new(server), 0);
        assert_int_equal(sd_bus_set_fd(*server, pair[0], pair[0]), 0);
        assert_int_equal(sd_bus_set_server(*server, 1, id), 0);
        assert_int_equal(sd_bus_set_anonymous(*server, 1), 0);
        assert_int_equal(sd_bus_start(*server), 0);
        assert_int_equal(sd_bus_attach_event(*server, e, 0), 0);

        assert_int_equal(sd_bus_new(client), 0);
        assert_int_equal(sd_bus_set_fd(*client, pair[1], pair[1]), 0);
        assert_int_equal(sd_bus_set_anonymous(*client, 1), 0);
        assert_int_equal(sd_bus_start(*client), 0);
        assert_int_equal(sd_bus_attach_event(*client, e, 0), 0);
}

/* CLOCK_MONOTONIC in microseconds. */
static inline uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}
