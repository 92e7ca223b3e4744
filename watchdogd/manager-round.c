/* SPDX-License-Identifier: MIT */
/* The probe round: the probes of the MTA profile, one round every
 * interval, their results combined into the Observation the detector
 * judges. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manager-internal.h"
#include "journal.h"
#include "logfile.h"
#include "mta.h"
#include "unit.h"

size_t n_reach_slots(const Manager *m) {
        return m->n_reach;
}

ProbeSlot *mta_slot(Manager *m, int which) {
        return &m->slots[m->n_reach + which];
}

void probe_set_done(ProbeSet *ps) {
        for (size_t i = 0; i < ps->n_slots; i++)
                probe_free(ps->slots[i].probe);
        free(ps->slots);
        free((void *) ps->probed_hosts); /* the strings belong to the config */
        *ps = (ProbeSet) {};
}

static int probe_set_add(Manager *m, ProbeSet *ps, const struct probe_ops *ops, const char *name,
                         uint64_t timeout_usec, const void *settings) {
        ProbeCommon common = { .name = name, .event = m->event, .timeout_usec = timeout_usec };
        int r;

        r = probe_new(ops, &common, settings, &ps->slots[ps->n_slots].probe);
        if (r < 0)
                return log_error_errno(r, "Cannot set up probe %s: %m", name);
        ps->n_slots++;
        return 0;
}

/* The probes of CONFIG: its reachability probes, then the MTA's queue,
 * activity and unit probes as its profile (probes/mta.h) says. On error
 * nothing is left allocated. */
int probe_set_build(Manager *m, const Config *config, ProbeSet *ret) {
        _cleanup_(probe_set_done) ProbeSet ps = {};
        const MtaProfile *prof = config->profile;
        /* The MTA's own probes each get most of one interval. */
        uint64_t mta_timeout = config->interval_usec * 3 / 4;
        size_t n_hosts = 0;
        int r;

        if (!prof || !prof->queue_ops || prof->queue_ops->kind != PROBE_KIND_QUEUE)
                return log_error_errno(-EINVAL, "No queue probe for MTA type %s", config->mta_type);

        ps.slots = calloc(config->n_probes + _SLOT_MTA_MAX, sizeof(ProbeSlot));
        ps.probed_hosts = calloc(config->n_probes + 1, sizeof(char *));
        if (!ps.slots || !ps.probed_hosts)
                return log_error_errno(-ENOMEM, "Out of memory");

        for (size_t i = 0; i < config->n_probes; i++) {
                const ProbeConfig *pc = &config->probes[i];

                if (!pc->ops || pc->ops->kind != PROBE_KIND_REACHABILITY)
                        return log_error_errno(-EINVAL, "%s:%u: [probe:%s] type: not a reachability probe",
                                               config->path, pc->line, pc->name);
                r = probe_set_add(m, &ps, pc->ops, pc->name, pc->timeout_usec, pc->settings);
                if (r < 0)
                        return r;
                /* The host the MTA's connection errors are compared with. */
                const char *host = pc->ops->settings_host ? pc->ops->settings_host(pc->settings) : NULL;
                if (host)
                        ps.probed_hosts[n_hosts++] = host;
                ps.n_reach++;
        }

        r = probe_set_add(m, &ps, prof->queue_ops, "queue", mta_timeout, config->mta_settings);
        if (r < 0)
                return r;

        /* --once looks back over stall_after and leaves the daemon's position alone. */
        uint64_t since = m->options.once ? now_realtime(m) - MIN_OF(now_realtime(m), config->stall_after_usec) : 0;
        ActivitySource source = mta_activity_source(prof, config->mta_settings);
        const ActivityRules *rules = mta_activity_rules(prof, config->mta_settings);
        const char *log_file = source == ACTIVITY_SOURCE_LOGFILE && prof->log_file ?
                               prof->log_file(config->mta_settings) : NULL;

        if (log_file) {
                LogfileSettings ls = {
                        .path = log_file,
                        .rules = rules,
                        .activity_pattern = config->activity_pattern,
                        .error_pattern = config->error_pattern,
                        .probed_hosts = (const char *const *) ps.probed_hosts,
                        .state_dir = m->options.once ? NULL : config->state_dir,
                        .since_usec = since,
                };
                r = probe_set_add(m, &ps, &probe_logfile_ops, "activity", mta_timeout, &ls);
                if (r < 0)
                        return r;
        }

        /* The journal: of the unit, or by the MTA's syslog identifiers
         * (also a log file source whose MTA logs to syslog). */
        JournalSettings as = {
                .unit = config->unit,
                .syslog_identifiers = source != ACTIVITY_SOURCE_JOURNAL_UNIT ?
                                      mta_syslog_identifiers(prof, config->mta_settings) : NULL,
                .rules = rules,
                .activity_pattern = config->activity_pattern,
                .error_pattern = config->error_pattern,
                .probed_hosts = (const char *const *) ps.probed_hosts,
                .state_dir = m->options.once ? NULL : config->state_dir,
                .since_usec = since,
        };
        if (!log_file) {
                r = probe_set_add(m, &ps, &probe_journal_ops, "activity", mta_timeout, &as);
                if (r < 0)
                        return r;
        }

        UnitSettings us = {
                .unit = config->unit,
                .bus = m->bus,
                .pid_file = config->pid_file,
                .daemon_exe = prof->daemon_exe,
        };
        r = probe_set_add(m, &ps, &probe_unit_ops, "unit", mta_timeout, &us);
        if (r < 0)
                return r;

        *ret = ps;
        ps = (ProbeSet) {};
        return 0;
}

void manager_take_probes(Manager *m, ProbeSet *ps) {
        ProbeSet old = {
                .slots = m->slots,
                .n_slots = m->n_slots,
                .n_reach = m->n_reach,
                .probed_hosts = m->probed_hosts,
        };

        probe_set_done(&old);
        m->slots = ps->slots;
        m->n_slots = ps->n_slots;
        m->n_reach = ps->n_reach;
        m->probed_hosts = ps->probed_hosts;
        m->pending = 0; /* a round in progress ended with the old probes */
        m->have_round = false;
        *ps = (ProbeSet) {};
}

static ProbeStatus combine_reachability(const Manager *m) {
        size_t n = n_reach_slots(m), ok = 0;

        if (n == 0)
                return PROBE_OK; /* nothing to probe: the network counts as up */

        for (size_t i = 0; i < n; i++) {
                if (m->slots[i].result.status == PROBE_FAIL)
                        return PROBE_FAIL;
                if (m->slots[i].result.status == PROBE_OK)
                        ok++;
        }
        return ok == n ? PROBE_OK : PROBE_UNKNOWN;
}

static void manager_evaluate(Manager *m) {
        ProbeSlot *qs = mta_slot(m, SLOT_QUEUE), *as = mta_slot(m, SLOT_ACTIVITY), *us = mta_slot(m, SLOT_UNIT);
        char age[FORMAT_DURATION_MAX];
        Observation obs = {
                .reach = combine_reachability(m),
                .queue_status = qs->result.status,
                .activity_status = as->result.status,
                .unit_status = us->result.status,
        };
        DetectorOutput out;

        if (obs.queue_status == PROBE_OK)
                obs.queue = qs->result.queue;
        if (obs.activity_status == PROBE_OK) {
                obs.activity = as->result.activity;
                obs.samples = as->result.samples;
        }
        if (obs.unit_status == PROBE_OK)
                obs.unit = us->result.unit;

        log_debug("%s: round: reachability %s, queue %s, activity %s (%s), unit %s (%s)", m->config->unit,
                  probe_status_to_string(obs.reach), probe_status_to_string(obs.queue_status),
                  probe_status_to_string(obs.activity_status), as->result.reason,
                  probe_status_to_string(obs.unit_status), us->result.reason);
        if (obs.queue_status == PROBE_OK)
                log_debug("%s: queue: backlog %u (incoming %u, active %u, deferred %u, maildrop %u), frozen %u, "
                          "overdue %u (schedule: %s), oldest %s %s",
                          m->config->unit, obs.queue.backlog, obs.queue.incoming, obs.queue.active,
                          obs.queue.deferred, obs.queue.maildrop, obs.queue.frozen, obs.queue.overdue,
                          obs.queue.schedule_source[0] ? obs.queue.schedule_source : "none",
                          obs.queue.oldest_id[0] ? obs.queue.oldest_id : "-",
                          format_duration(age, sizeof(age), obs.queue.oldest_age_usec / USEC_PER_SEC * USEC_PER_SEC));

        m->last_obs = obs;
        m->have_round = true;
        m->last_round_usec = now_realtime(m);
        if (m->options.once) {
                manager_print_once(m, &obs);
                (void) sd_event_exit(m->event, 0);
                return;
        }
        detector_step(&m->detector, &m->params, &obs, now_monotonic(m), &out);
        handle_output(m, &out);
}

static void on_probe_done(Probe *p, const ProbeResult *r, void *userdata) {
        Manager *m = userdata;
        ProbeSlot *slot = NULL;

        for (size_t i = 0; i < m->n_slots; i++)
                if (m->slots[i].probe == p)
                        slot = &m->slots[i];
        if (!slot)
                return;

        if (slot->ignore_next) {
                slot->ignore_next = false;
                return;
        }
        if (slot->done)
                return;

        /* Act on changes only: a probe's status change is worth a line at
         * info or warning; every result is logged at debug by probe.c.
         * --once prints every result on stdout (manager-once.c), so its
         * stderr does not repeat them. */
        if (!m->options.once && (!slot->have_last || slot->last_status != r->status))
                log_full(r->status == PROBE_OK ? LOG_INFO : LOG_WARNING, "probe %s: %s: %s",
                         p->name, probe_status_to_string(r->status), r->reason);
        slot->last_status = r->status;
        slot->have_last = true;

        slot->result = *r;
        slot->done = true;
        if (m->pending > 0 && --m->pending == 0)
                manager_evaluate(m);
}

int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r;

        if (m->pending > 0) {
                /* A probe outlived the round (its deadline is later than the
                 * interval): what is missing counts as unknown. */
                for (size_t i = 0; i < m->n_slots; i++)
                        if (!m->slots[i].done) {
                                m->slots[i].result = (ProbeResult) { .status = PROBE_UNKNOWN };
                                (void) snprintf(m->slots[i].result.reason, sizeof(m->slots[i].result.reason),
                                                "still running at the next round");
                                m->slots[i].done = true;
                        }
                m->pending = 0;
                manager_evaluate(m);
        }

        m->round_started_usec = usec;
        m->pending = m->n_slots;
        for (size_t i = 0; i < m->n_slots; i++) {
                ProbeSlot *slot = &m->slots[i];

                slot->done = false;
                slot->ignore_next = slot->probe->running;
        }
        for (size_t i = 0; i < m->n_slots; i++) {
                ProbeSlot *slot = &m->slots[i];

                r = probe_start(slot->probe, on_probe_done, m);
                if (r < 0) {
                        slot->result = (ProbeResult) { .status = PROBE_UNKNOWN };
                        (void) snprintf(slot->result.reason, sizeof(slot->result.reason),
                                        "cannot start: %s", strerror(-r));
                        slot->done = true;
                        slot->ignore_next = false;
                        if (--m->pending == 0)
                                manager_evaluate(m);
                }
        }

        r = sd_event_source_set_time(s, now_monotonic(m) + m->config->interval_usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (r < 0)
                return log_error_errno(r, "Cannot re-arm the probe timer: %m");
        return 0;
}
