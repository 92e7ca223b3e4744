/* SPDX-License-Identifier: MIT */
/* Reachability of the DNS as the MTA sees it: one lookup of a name, with a
 * deadline, through the resolv.conf the MTA's delivery agent reads
 * (resolv_conf = auto; MtaProfile.resolv_conf). With no relay, an MTA
 * delivers to MX hosts (RFC 5321 5.1): if it cannot resolve them, nothing
 * leaves, however well the link works.
 *
 * OK when at least one record of the type comes back; FAIL with outcome
 * dns-failure on NXDOMAIN, NODATA (no record of the type), SERVFAIL and
 * other error rcodes, on a null MX (RFC 7505: the domain accepts no mail,
 * no use as a canary), and when no name server can be reached; FAIL with
 * outcome timeout when no answer comes by the deadline (probes/probe.c).
 *
 * The lookups use c-ares (libc-ares2), a library new to the stack, for a
 * reason: the probe must read the MTA's resolv.conf, which need not be
 * /etc/resolv.conf, and glibc's res_query(3) and getaddrinfo(3) read
 * /etc/resolv.conf only; the alternative, libresolv in a child with the
 * name servers patched into its state, means parsing resolv.conf and
 * handling IPv6 servers ourselves. c-ares reads a given resolv.conf
 * (ARES_OPT_RESOLVCONF, 1.15 and later; Debian 12 has 1.18.1), parses MX
 * replies, and runs non-blocking on our loop. Details in
 * probes/dns-client.c. */

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf-parser.h"
#include "detect.h"
#include "dns.h"
#include "log.h"
#include "macros.h"
#include "probe.h"

typedef struct DnsState {
        char *name;
        int type;                 /* ns_t_mx, ns_t_a, ns_t_aaaa */
        bool address;             /* record = address: A, then AAAA when A has none */
        char *resolv_conf;        /* the file the lookups read */
        char *system;             /* tests: the file compared with; NULL: /etc/resolv.conf */
        uint16_t port;
        DnsClient *client;        /* the run's */
} DnsState;

static void dns_cancel(Probe *p) {
        DnsState *st = p->state;

        st->client = dns_client_free(st->client);
}

static void dns_done(Probe *p) {
        DnsState *st = p->state;

        dns_cancel(p);
        free(st->name);
        free(st->resolv_conf);
        free(st->system);
}

/* Completes a failed run: "MX example.org: NXDOMAIN", with a note on the
 * resolv.conf read where it differs from the system's now. */
static void dns_fail(Probe *p, int type, ProbeOutcome outcome, const char *what) {
        DnsState *st = p->state;
        char note[PROBE_REASON_MAX];

        st->client = dns_client_free(st->client);
        dns_resolv_conf_note(st->resolv_conf, st->system, note, sizeof(note));
        probe_complete(p, outcome == PROBE_OUTCOME_LOCAL_ERROR ? PROBE_UNKNOWN : PROBE_FAIL, outcome, NULL,
                       "%s %s: %s%s%s%s", dns_type_name(type), st->name, what,
                       note[0] ? " (through " : "", note, note[0] ? ")" : "");
}

/* The number of records of TYPE in ABUF, or an ARES_E* code (< 0 never
 * comes from c-ares: its codes are positive) in *RET_STATUS. A null MX
 * (RFC 7505 3: one MX "0 .") sets *RET_NULL_MX. */
static unsigned dns_count(int type, const unsigned char *abuf, int alen, int *ret_status, bool *ret_null_mx) {
        unsigned n = 0;
        int r;

        *ret_null_mx = false;
        if (type == ns_t_mx) {
                struct ares_mx_reply *mx = NULL;

                r = ares_parse_mx_reply(abuf, alen, &mx);
                for (struct ares_mx_reply *m = mx; r == ARES_SUCCESS && m; m = m->next) {
                        n++;
                        if (!m->host[0] || strcmp(m->host, ".") == 0)
                                *ret_null_mx = true;
                }
                if (mx)
                        ares_free_data(mx);
        } else if (type == ns_t_a) {
                struct ares_addrttl a[32];
                int k = ELEMENTSOF(a);

                r = ares_parse_a_reply(abuf, alen, NULL, a, &k);
                if (r == ARES_SUCCESS)
                        n = (unsigned) k;
        } else {
                struct ares_addr6ttl a[32];
                int k = ELEMENTSOF(a);

                r = ares_parse_aaaa_reply(abuf, alen, NULL, a, &k);
                if (r == ARES_SUCCESS)
                        n = (unsigned) k;
        }
        *ret_status = r == ARES_SUCCESS && n == 0 ? ARES_ENODATA : r;
        return n;
}

static void dns_on_answer(DnsClient *c, int status, const unsigned char *abuf, int alen, void *userdata);

static int dns_query(Probe *p, int type) {
        DnsState *st = p->state;

        return dns_client_query(st->client, st->name, type, dns_on_answer, p);
}

static void dns_on_answer(DnsClient *c, int status, const unsigned char *abuf, int alen, void *userdata) {
        Probe *p = userdata;
        DnsState *st = p->state;
        int type = st->address && st->type == ns_t_aaaa ? ns_t_aaaa : st->type;
        bool null_mx = false;
        unsigned n = 0;

        if (status == ARES_SUCCESS)
                n = dns_count(type, abuf, alen, &status, &null_mx);

        /* record = address: no A record, try AAAA */
        if (st->address && type == ns_t_a && status == ARES_ENODATA) {
                st->type = ns_t_aaaa;
                if (dns_query(p, ns_t_aaaa) < 0)
                        dns_fail(p, ns_t_aaaa, PROBE_OUTCOME_LOCAL_ERROR, "cannot start the lookup");
                return;
        }
        if (status != ARES_SUCCESS) {
                char what[PROBE_REASON_MAX];

                (void) snprintf(what, sizeof(what), "%s%s", dns_status_name(status),
                                st->address ? " (no A or AAAA record)" : "");
                dns_fail(p, type, dns_status_outcome(status), status == ARES_ENODATA ? what : dns_status_name(status));
                return;
        }
        if (null_mx) {
                dns_fail(p, type, PROBE_OUTCOME_DNS_FAILURE, "null MX (RFC 7505): the domain accepts no mail");
                return;
        }
        st->client = dns_client_free(st->client);
        probe_complete(p, PROBE_OK, PROBE_OUTCOME_OK, NULL, "%s %s: %u record%s", dns_type_name(type), st->name,
                       n, n == 1 ? "" : "s");
}

static int dns_start(Probe *p) {
        DnsState *st = p->state;
        int r;

        dns_cancel(p);
        if (st->address)
                st->type = ns_t_a;
        r = dns_client_new(p->event, st->resolv_conf, st->port, &st->client);
        if (r == -ENOMEM || r == -EIO)
                return log_warning_errno(r, "probe %s: cannot start a lookup: %m", p->name);
        if (r < 0) {
                probe_complete(p, PROBE_UNKNOWN, probe_outcome_from_errno(r), NULL, "cannot read %s: %s",
                               st->resolv_conf, strerror(-r));
                return 0;
        }
        r = dns_query(p, st->type);
        if (r < 0) {
                st->client = dns_client_free(st->client);
                return log_warning_errno(r, "probe %s: cannot start a lookup: %m", p->name);
        }
        return 0;
}

static int dns_record_type(const char *record, bool *ret_address) {
        *ret_address = false;
        if (!record || strcmp(record, "mx") == 0)
                return ns_t_mx;
        if (strcmp(record, "a") == 0)
                return ns_t_a;
        if (strcmp(record, "aaaa") == 0)
                return ns_t_aaaa;
        if (strcmp(record, "address") == 0) {
                *ret_address = true;
                return ns_t_a;
        }
        return -EINVAL;
}

static int dns_init(Probe *p, const void *settings) {
        const DnsSettings *s = settings;
        DnsState *st = p->state;
        int type;

        if (!s || !s->name || !s->name[0]) {
                log_error("probe %s: dns needs a name", p->name);
                return -EINVAL;
        }
        type = dns_record_type(s->record, &st->address);
        if (type < 0) {
                log_error("probe %s: dns: unknown record type \"%s\"", p->name, s->record);
                return -EINVAL;
        }
        st->type = type;
        st->port = s->resolver.port;
        st->name = strdup(s->name);
        st->resolv_conf = strdup(dns_resolver_settings_file(&s->resolver));
        if (!st->name || !st->resolv_conf)
                return -ENOMEM;
        if (s->resolver.system && !(st->system = strdup(s->resolver.system)))
                return -ENOMEM;
        return 0;
}

static void dns_settings_init(void *settings) {
        DnsSettings *s = settings;

        *s = (DnsSettings) {};
        /* strdup() failing leaves them NULL: the defaults ("mx", "auto") apply all the same */
        s->record = strdup("mx");
        (void) dns_resolver_settings_init(&s->resolver);
}

static void dns_settings_done(void *settings) {
        DnsSettings *s = settings;

        free(s->name);
        free(s->record);
        dns_resolver_settings_done(&s->resolver);
        *s = (DnsSettings) {};
}

static const char *dns_settings_host(const void *settings) {
        return NULL;  /* no peer of the MTA's is probed */
}

static int dns_settings_finish(ConfigContext *ctx, unsigned section_line, void *settings,
                               const struct MtaProfile *prof, const void *mta_settings) {
        DnsSettings *s = settings;

        return dns_resolver_settings_finish(ctx, section_line, &s->resolver, prof, mta_settings);
}

static const char *dns_settings_advice(const void *settings) {
        return ((const DnsSettings *) settings)->resolver.advice;
}

static int config_parse_dns_record(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        static const char *const records[] = { "mx", "a", "aaaa", "address", NULL };

        return config_parse_choice(ctx, item, value, data, records);
}

/* name: a domain name (an address would be looked up as a name and fail
 * every run, an outage that never ends). */
static int config_parse_dns_name(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        unsigned char b[16];

        if (!detect_host_valid(value) || inet_pton(AF_INET, value, b) == 1 || inet_pton(AF_INET6, value, b) == 1)
                return config_error(ctx, ctx->line, item->key, "\"%s\" is not a domain name", value);
        return config_parse_string(ctx, item, value, data);
}

/* The keys of [probe:NAME] with type = dns, besides type and timeout. */
static const ConfigItem dns_probe_items[] = {
        { "name", config_parse_dns_name, config_print_string, offsetof(DnsSettings, name), 0, true, NULL },
        { "record", config_parse_dns_record, config_print_string, offsetof(DnsSettings, record), 0, false, NULL },
        { "resolv_conf", config_parse_resolv_conf, config_print_string, offsetof(DnsSettings, resolver), 0, false, NULL },
        {},
};

const struct probe_ops probe_dns_ops = {
        .type = "dns",
        .kind = PROBE_KIND_REACHABILITY,
        .state_size = sizeof(DnsState),
        .settings_size = sizeof(DnsSettings),
        .config_items = dns_probe_items,
        .settings_init = dns_settings_init,
        .settings_done = dns_settings_done,
        .settings_host = dns_settings_host,
        .settings_finish = dns_settings_finish,
        .settings_advice = dns_settings_advice,
        .init = dns_init,
        .start = dns_start,
        .cancel = dns_cancel,
        .done = dns_done,
};
