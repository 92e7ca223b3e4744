/* SPDX-License-Identifier: MIT */
/* A fake org.freedesktop.systemd1 for the tests of the unit probe and of
 * unit_restart(): the manager and one unit, served on one end of a
 * socketpair connection (no bus broker, no PID 1). What it answers is
 * chosen by the switches in FakeSystemd, set once the harness is up and
 * before the first call; the counters say what it was asked. The real
 * manager is covered by the e2e tests. Include after <cmocka.h>. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

typedef enum FakeJobMode {
        FAKE_JOB_SIGNAL_AFTER_REPLY,   /* the usual order: JobRemoved 50ms after the reply */
        FAKE_JOB_SIGNAL_BEFORE_REPLY,  /* the race the code must survive */
        FAKE_JOB_NEVER_ENDS,
} FakeJobMode;

typedef struct FakeSystemd {
        /* The unit and its properties (Get and GetAll). */
        const char *unit;
        const char *active_state, *sub_state, *result;
        uint32_t main_pid;
        uint32_t restart_main_pid;   /* MainPID once restarted; 0: the restart keeps it */
        bool is_service;             /* has the Service interface */
        bool service_empty;          /* old systemd: GetAll of a missing interface gives {} */

        /* Unit GetAll replies that are wrong. */
        bool active_state_wrong_type;  /* ActiveState as a number */
        bool no_sub_state;             /* SubState missing */

        /* Errors and silences. */
        bool deny_unit;              /* Unit properties: AccessDenied */
        bool deny_service;           /* Service properties: AccessDenied */
        bool hold_unit;              /* Unit GetAll kept in held, for fake_systemd_reply_unit() */
        bool deny_restart;           /* RestartUnit: AccessDenied */
        bool deny_kill;              /* KillUnit: AccessDenied */
        bool already_subscribed;     /* Subscribe: AlreadySubscribed */
        bool hang_status;            /* properties after RestartUnit: never answered */

        /* Jobs and processes. */
        FakeJobMode job_mode;
        uint64_t job_delay_usec;     /* FAKE_JOB_SIGNAL_AFTER_REPLY: the job takes this long (0: 50ms) */
        bool job_silent;             /* jobs end without a JobRemoved signal (a lost signal) */
        uint64_t timeout_start_usec, timeout_stop_usec; /* Service properties, default 90s each */
        /* A job of the unit pending when the test begins (the unit's Job
         * property names it): another client's, or one of ours from before.
         * It ends PENDING_JOB_USEC after the first read of Job, with
         * PENDING_JOB_RESULT (0: never). */
        uint32_t pending_job_id;     /* 0: none */
        const char *pending_job;
        uint64_t pending_job_usec;
        const char *pending_job_result;
        bool list_processes;         /* answer GetUnitProcesses (Debian's postfix@-: MainPID 0) */
        bool survivor;               /* one old process outlives the restart */

        /* What happened. */
        unsigned n_unit_calls, n_service_calls, n_restart_calls;
        unsigned n_kill_calls;           /* KillUnit */
        char kill_who[16];               /* the last KillUnit's "who" */
        int kill_signal;                 /* and its signal */
        bool killed_before_restart;      /* a KillUnit came before RestartUnit */
        unsigned n_job_reads;            /* Get of the unit's Job property */
        unsigned n_restart_while_pending;/* RestartUnit while a job of the unit was pending */
        bool restarted;
        sd_bus_message *held;        /* hold_unit: the call not answered yet */

        sd_bus *bus;
        sd_bus_slot *fallback;
        sd_event_source *job_timer;
        sd_event_source *pending_timer;
} FakeSystemd;

#define FAKE_JOB_PATH "/org/freedesktop/systemd1/job/42"   /* the job RestartUnit queues */

/* The fake and the connection to it, on one event loop. */
typedef struct Harness {
        sd_event *event;
        sd_bus *client;              /* for the code under test */
        FakeSystemd fake;
} Harness;

/* Sets up the loop, the connection and the fake for UNIT: a service,
 * active/running/success, whose MainPID is this process. */
void harness_init(Harness *h, const char *unit);
void harness_done(Harness *h);

/* The same as a cmocka setup and teardown: a Harness for "postfix.service"
 * in STATE. */
int harness_setup(void **state);
int harness_teardown(void **state);

/* Answers M, a Unit GetAll (a held one, say), as the switches say now. */
int fake_systemd_reply_unit(FakeSystemd *f, sd_bus_message *m);
