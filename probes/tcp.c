/* SPDX-License-Identifier: MIT */
/* Reachability of a TCP service: a connection accepted within the deadline,
 * closed at once (nothing is sent). With mx_of = DOMAIN it is the MTA's
 * own first step of a direct delivery (RFC 5321 5.1): look up the MX
 * records of DOMAIN, order them by preference, resolve each exchange to
 * its addresses and connect to them in turn; the first connection
 * accepted is success. No MX record (NODATA) means the domain itself is
 * the exchange (the "implicit MX"); a null MX (RFC 7505, "0 .") says the
 * domain takes no mail: a failure, with that reason.
 *
 * Names are resolved through the resolv.conf the MTA reads (resolv_conf =
 * auto), with c-ares on the loop (probes/dns-client.c). Outcomes: a lookup
 * that fails is dns-failure; a connect that fails is what
 * probe_outcome_from_errno() makes of its errno (refused, unreachable,
 * ...); when every exchange failed, the last failure is the run's; no
 * connection by the deadline is a timeout (probes/probe.c). */

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "address.h"
#include "conf-parser.h"
#include "detect.h"
#include "log.h"
#include "macros.h"
#include "probe.h"
#include "tcp.h"

#define TCP_EXCHANGES_MAX 16
#define TCP_ADDRESSES_MAX 16
#define TCP_PEER_MAX 160   /* "host[address]:port", a long host name cut */


typedef struct TcpExchange {
        char *host;
        unsigned preference;
} TcpExchange;

typedef struct TcpState {
        char *host;               /* host =, or NULL */
        char *mx_of;              /* mx_of =, or NULL */
        uint16_t port;
        bool literal;             /* host is an address literal */
        ProbeAddress literal_address;
        char *resolv_conf;
        char *system;             /* tests: the file compared with; NULL: /etc/resolv.conf */
        uint16_t dns_port;

        /* one run */
        DnsClient *client;
        TcpExchange exchanges[TCP_EXCHANGES_MAX];
        size_t n_exchanges, next_exchange;
        bool implicit_mx;         /* no MX record: the domain is its own exchange */
        const char *current;      /* the name whose addresses are tried */
        unsigned current_preference;
        ProbeAddress addresses[TCP_ADDRESSES_MAX];
        size_t n_addresses, next_address;
        int fd;
        sd_event_source *io;
        char peer[TCP_PEER_MAX];
        char last_error[PROBE_REASON_MAX];
        ProbeOutcome last_outcome;
} TcpState;

/* "mx.example.org[192.0.2.1]:25", "mx.example.org[2001:db8::1]:25", as
 * Postfix names a peer in its logs */
static void tcp_format_named(const char *host, const ProbeAddress *a, char *buf, size_t size) {
        char ip[INET6_ADDRSTRLEN] = "?";

        if (a->sa.sa_family == AF_INET)
                (void) inet_ntop(AF_INET, &a->in.sin_addr, ip, sizeof(ip));
        else
                (void) inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof(ip));
        (void) snprintf(buf, size, "%s[%s]:%u", host, ip,
                        ntohs(a->sa.sa_family == AF_INET ? a->in.sin_port : a->in6.sin6_port));
}

static void tcp_close(TcpState *st) {
        st->io = sd_event_source_disable_unref(st->io);
        closep(&st->fd);
        st->fd = -EBADF;
}

static void tcp_clear_exchanges(TcpState *st) {
        for (size_t i = 0; i < st->n_exchanges; i++)
                free(st->exchanges[i].host);
        st->n_exchanges = st->next_exchange = 0;
        st->current = NULL;
}

static void tcp_cancel(Probe *p) {
        TcpState *st = p->state;

        st->client = dns_client_free(st->client);
        tcp_close(st);
        tcp_clear_exchanges(st);
}

static void tcp_done(Probe *p) {
        TcpState *st = p->state;

        tcp_cancel(p);
        free(st->host);
        free(st->mx_of);
        free(st->resolv_conf);
        free(st->system);
}

/* Ends the run: every path goes through here or probe_complete(OK). */
static void tcp_fail(Probe *p, ProbeOutcome outcome, const char *fmt, ...) _printf_(3, 4);
static void tcp_fail(Probe *p, ProbeOutcome outcome, const char *fmt, ...) {
        TcpState *st = p->state;
        char what[PROBE_REASON_MAX], note[PROBE_REASON_MAX] = "";
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        tcp_cancel(p);
        /* the MTA's resolv.conf matters where a name was looked up */
        if (outcome == PROBE_OUTCOME_DNS_FAILURE && st->resolv_conf)
                dns_resolv_conf_note(st->resolv_conf, st->system, note, sizeof(note));
        if (note[0])
                probe_complete(p, PROBE_FAIL, outcome, NULL, "%s (through %s)", what, note);
        else
                probe_complete(p, outcome == PROBE_OUTCOME_LOCAL_ERROR ? PROBE_UNKNOWN : PROBE_FAIL, outcome, NULL,
                               "%s", what);
}

/* Every exchange (or the one host) failed: the last failure is the run's. */
static void tcp_fail_last(Probe *p) {
        TcpState *st = p->state;

        if (st->mx_of)
                tcp_fail(p, st->last_outcome, "no MX host of %s accepted a connection: %s", st->mx_of,
                         st->last_error[0] ? st->last_error : "no address to connect to");
        else
                tcp_fail(p, st->last_error[0] ? st->last_outcome : PROBE_OUTCOME_UNREACHABLE, "%s",
                         st->last_error[0] ? st->last_error : "no address to connect to");
}

static void tcp_next_exchange(Probe *p);
static int tcp_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static void tcp_connect_error(TcpState *st, int err) {
        st->last_outcome = probe_outcome_from_errno(err);
        (void) snprintf(st->last_error, sizeof(st->last_error), "connect to %s: %s", st->peer, strerror(err));
}

/* Tries the addresses of the current host in turn; when all failed, the
 * next exchange, or the end. */
static void tcp_connect_next(Probe *p) {
        TcpState *st = p->state;
        int r;

        while (st->next_address < st->n_addresses) {
                const ProbeAddress *a = &st->addresses[st->next_address++];
                bool connected = false;

                if (st->mx_of)
                        tcp_format_named(st->current, a, st->peer, sizeof(st->peer));
                else
                        probe_address_format(a, st->peer, sizeof(st->peer));
                st->fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
                if (st->fd < 0) {
                        st->fd = -EBADF;
                        if (errno == EAFNOSUPPORT) {
                                tcp_connect_error(st, errno);
                                continue;
                        }
                        tcp_fail(p, PROBE_OUTCOME_LOCAL_ERROR, "socket: %s", strerror(errno));
                        return;
                }
                if (connect(st->fd, &a->sa, a->len) < 0) {
                        if (errno != EINPROGRESS) {
                                tcp_connect_error(st, errno);
                                tcp_close(st);
                                continue;
                        }
                } else
                        connected = true;

                r = sd_event_add_io(p->event, &st->io, st->fd, EPOLLOUT, tcp_on_io, p);
                if (r < 0) {
                        tcp_fail(p, PROBE_OUTCOME_LOCAL_ERROR, "watch socket: %s", strerror(-r));
                        return;
                }
                (void) sd_event_source_set_description(st->io, "probe-tcp");
                (void) connected;  /* an immediate connect still reports through EPOLLOUT */
                return;
        }
        if (st->mx_of)
                tcp_next_exchange(p);
        else
                tcp_fail_last(p);
}

static int tcp_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Probe *p = userdata;
        TcpState *st = p->state;
        socklen_t l = sizeof(int);
        int err = 0;

        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                err = errno;
        if (err == 0 && !(revents & EPOLLOUT))
                err = ECONNRESET;
        if (err != 0) {
                tcp_connect_error(st, err);
                tcp_close(st);
                tcp_connect_next(p);
                return 0;
        }
        tcp_cancel(p);
        if (st->implicit_mx)
                probe_complete(p, PROBE_OK, PROBE_OUTCOME_OK, NULL, "connected to %s, no MX: the domain itself", st->peer);
        else if (st->mx_of)
                probe_complete(p, PROBE_OK, PROBE_OUTCOME_OK, NULL, "connected to %s, MX %u of %s", st->peer,
                               st->current_preference, st->mx_of);
        else
                probe_complete(p, PROBE_OK, PROBE_OUTCOME_OK, NULL, "connected to %s", st->peer);
        return 0;
}

static void tcp_on_addresses(DnsClient *c, int status, const void *res, void *userdata) {
        Probe *p = userdata;
        TcpState *st = p->state;
        const struct ares_addrinfo *ai = res;

        st->n_addresses = st->next_address = 0;
        if (status != ARES_SUCCESS) {
                st->last_outcome = dns_status_outcome(status);
                (void) snprintf(st->last_error, sizeof(st->last_error), "%s: %s", st->current,
                                dns_status_name(status));
                if (st->mx_of)
                        tcp_next_exchange(p);
                else
                        tcp_fail(p, st->last_outcome, "%s", st->last_error);
                return;
        }
        for (const struct ares_addrinfo_node *n = ai ? ai->nodes : NULL; n; n = n->ai_next) {
                ProbeAddress *a = &st->addresses[st->n_addresses];
                bool dup = false;

                if (st->n_addresses >= TCP_ADDRESSES_MAX)
                        break;
                if ((n->ai_family != AF_INET && n->ai_family != AF_INET6) || n->ai_addrlen > sizeof(a->in6))
                        continue;
                *a = (ProbeAddress) {};
                memcpy(&a->sa, n->ai_addr, n->ai_addrlen);
                a->len = n->ai_addrlen;
                if (a->sa.sa_family == AF_INET)
                        a->in.sin_port = htons(st->port);
                else
                        a->in6.sin6_port = htons(st->port);
                for (size_t i = 0; i < st->n_addresses; i++)
                        if (st->addresses[i].len == a->len && memcmp(&st->addresses[i], a, a->len) == 0)
                                dup = true;
                if (!dup)
                        st->n_addresses++;
        }
        tcp_connect_next(p);
}

static void tcp_resolve(Probe *p, const char *name) {
        TcpState *st = p->state;
        int r;

        st->current = name;
        r = dns_client_addresses(st->client, name, st->port, tcp_on_addresses, p);
        if (r < 0)
                tcp_fail(p, PROBE_OUTCOME_LOCAL_ERROR, "cannot look up %s: %s", name, strerror(-r));
}

static void tcp_next_exchange(Probe *p) {
        TcpState *st = p->state;
        const TcpExchange *x;

        if (st->next_exchange >= st->n_exchanges) {
                tcp_fail_last(p);
                return;
        }
        x = &st->exchanges[st->next_exchange++];
        st->current_preference = x->preference;
        tcp_resolve(p, x->host);
}

static void tcp_on_mx(DnsClient *c, int status, const unsigned char *abuf, int alen, void *userdata) {
        Probe *p = userdata;
        TcpState *st = p->state;
        struct ares_mx_reply *mx = NULL;

        if (status == ARES_SUCCESS)
                status = ares_parse_mx_reply(abuf, alen, &mx);
        if (status == ARES_SUCCESS && !mx)
                status = ARES_ENODATA;
        if (status == ARES_ENODATA) {
                /* RFC 5321 5.1: no MX, the domain is its own exchange */
                st->exchanges[0] = (TcpExchange) { .host = strdup(st->mx_of), .preference = 0 };
                if (!st->exchanges[0].host) {
                        tcp_fail(p, PROBE_OUTCOME_LOCAL_ERROR, "out of memory");
                        return;
                }
                st->n_exchanges = 1;
                st->implicit_mx = true;
                tcp_next_exchange(p);
                return;
        }
        if (status != ARES_SUCCESS) {
                tcp_fail(p, dns_status_outcome(status), "MX %s: %s", st->mx_of, dns_status_name(status));
                return;
        }
        for (struct ares_mx_reply *m = mx; m; m = m->next) {
                size_t i;

                if (!m->host[0] || strcmp(m->host, ".") == 0) {
                        ares_free_data(mx);
                        tcp_fail(p, PROBE_OUTCOME_DNS_FAILURE, "MX %s: null MX (RFC 7505): the domain accepts no mail",
                                 st->mx_of);
                        return;
                }
                /* full: the best TCP_EXCHANGES_MAX are kept, whatever the answer's order */
                if (st->n_exchanges >= TCP_EXCHANGES_MAX) {
                        if (st->exchanges[TCP_EXCHANGES_MAX - 1].preference <= m->priority)
                                continue;
                        free(st->exchanges[--st->n_exchanges].host);
                }
                /* by preference, the answer's order among equals */
                for (i = st->n_exchanges; i > 0 && st->exchanges[i - 1].preference > m->priority; i--)
                        st->exchanges[i] = st->exchanges[i - 1];
                st->exchanges[i] = (TcpExchange) { .host = strdup(m->host), .preference = m->priority };
                st->n_exchanges++;
                if (!st->exchanges[i].host) {
                        ares_free_data(mx);
                        tcp_fail(p, PROBE_OUTCOME_LOCAL_ERROR, "out of memory");
                        return;
                }
        }
        ares_free_data(mx);
        tcp_next_exchange(p);
}

static int tcp_start(Probe *p) {
        TcpState *st = p->state;
        int r;

        tcp_cancel(p);
        st->n_addresses = st->next_address = 0;
        st->implicit_mx = false;
        st->last_error[0] = 0;
        st->last_outcome = PROBE_OUTCOME_UNREACHABLE;
        st->peer[0] = 0;

        if (st->literal) {
                st->addresses[0] = st->literal_address;
                st->n_addresses = 1;
                st->current = st->host;
                tcp_connect_next(p);
                return 0;
        }
        r = dns_client_new(p->event, st->resolv_conf, st->dns_port, &st->client);
        if (r == -ENOMEM || r == -EIO)
                return log_warning_errno(r, "probe %s: cannot start a lookup: %m", p->name);
        if (r < 0) {
                probe_complete(p, PROBE_UNKNOWN, probe_outcome_from_errno(r), NULL, "cannot read %s: %s",
                               st->resolv_conf, strerror(-r));
                return 0;
        }
        if (st->host) {
                tcp_resolve(p, st->host);
                return 0;
        }
        r = dns_client_query(st->client, st->mx_of, ns_t_mx, tcp_on_mx, p);
        if (r < 0) {
                st->client = dns_client_free(st->client);
                return log_warning_errno(r, "probe %s: cannot start a lookup: %m", p->name);
        }
        return 0;
}

static int tcp_init(Probe *p, const void *settings) {
        const TcpSettings *s = settings;
        TcpState *st = p->state;
        bool host, mx;

        st->fd = -EBADF;
        host = s && s->host.value && s->host.value[0];
        mx = s && s->mx_of.value && s->mx_of.value[0];
        if (host == mx) {
                log_error("probe %s: tcp needs exactly one of host and mx_of", p->name);
                return -EINVAL;
        }
        st->port = s->port != 0 ? s->port : TCP_DEFAULT_PORT;
        st->dns_port = s->resolver.port;
        if (host) {
                st->host = strdup(s->host.value);
                if (!st->host)
                        return -ENOMEM;
                st->literal = probe_address_parse_literal(st->host, st->port, &st->literal_address) >= 0;
        } else if (!(st->mx_of = strdup(s->mx_of.value)))
                return -ENOMEM;
        st->resolv_conf = strdup(dns_resolver_settings_file(&s->resolver));
        if (!st->resolv_conf)
                return -ENOMEM;
        if (s->resolver.system && !(st->system = strdup(s->resolver.system)))
                return -ENOMEM;
        return 0;
}

static void tcp_settings_init(void *settings) {
        TcpSettings *s = settings;

        *s = (TcpSettings) { .port = TCP_DEFAULT_PORT };
        /* strdup() failing leaves it NULL: "auto" applies all the same */
        (void) dns_resolver_settings_init(&s->resolver);
}

static void tcp_settings_done(void *settings) {
        TcpSettings *s = settings;

        free(s->host.value);
        free(s->mx_of.value);
        dns_resolver_settings_done(&s->resolver);
        *s = (TcpSettings) {};
}

static const char *tcp_settings_host(const void *settings) {
        return ((const TcpSettings *) settings)->host.value;
}

static int tcp_settings_finish(ConfigContext *ctx, unsigned section_line, void *settings,
                               const struct MtaProfile *prof, const void *mta_settings) {
        TcpSettings *s = settings;

        if (s->host.value && s->mx_of.value)
                return config_error(ctx, s->mx_of.line, "mx_of", "host is set too (line %u): set one of host and mx_of",
                                    s->host.line);
        if (!s->host.value && !s->mx_of.value) {
                /* one that was rejected has its error already */
                if (config_key_failed(ctx, ctx->section, "host") || config_key_failed(ctx, ctx->section, "mx_of"))
                        return 0;
                return config_error(ctx, section_line, "host", "missing: set host or mx_of");
        }
        /* an address literal needs no resolver */
        if (s->host.value) {
                ProbeAddress a;

                if (probe_address_parse_literal(s->host.value, s->port, &a) >= 0)
                        return 0;
        }
        return dns_resolver_settings_finish(ctx, section_line, &s->resolver, prof, mta_settings);
}

static const char *tcp_settings_advice(const void *settings) {
        return ((const TcpSettings *) settings)->resolver.advice;
}

/* host and mx_of: a word, and its line */
/* host: a name, an address, or "[IPv6]" (the port is the key port); mx_of:
 * a domain name. What is neither would fail every run as a lookup, an
 * outage that never ends. */
static int config_parse_tcp_target(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        TcpTarget *t = data;
        ProbeAddress a;
        unsigned char b[16];
        int r;

        if (strcmp(item->key, "host") == 0 ? !detect_host_valid(value) && probe_address_parse_literal(value, 25, &a) < 0 :
            !detect_host_valid(value) || inet_pton(AF_INET, value, b) == 1 || inet_pton(AF_INET6, value, b) == 1)
                return config_error(ctx, ctx->line, item->key, "\"%s\" is not a %s", value,
                                    strcmp(item->key, "host") == 0 ? "host name or address (the port is the key "
                                    "port; an IPv6 address alone or in brackets)" : "domain name");
        r = config_parse_word(ctx, item, value, &t->value);
        if (r >= 0)
                t->line = ctx->line;
        return r;
}

/* The keys of [probe:NAME] with type = tcp, besides type and timeout. */
static const ConfigItem tcp_probe_items[] = {
        { "host", config_parse_tcp_target, config_print_string, offsetof(TcpSettings, host.value), 0, false, NULL },
        { "mx_of", config_parse_tcp_target, config_print_string, offsetof(TcpSettings, mx_of.value), 0, false, NULL },
        CONFIG_ITEM("port", port, port, TcpSettings, port, 1),
        { "resolv_conf", config_parse_resolv_conf, config_print_string, offsetof(TcpSettings, resolver), 0, false, NULL },
        {},
};

const struct probe_ops probe_tcp_ops = {
        .type = "tcp",
        .kind = PROBE_KIND_REACHABILITY,
        .state_size = sizeof(TcpState),
        .settings_size = sizeof(TcpSettings),
        .config_items = tcp_probe_items,
        .settings_init = tcp_settings_init,
        .settings_done = tcp_settings_done,
        .settings_host = tcp_settings_host,
        .settings_finish = tcp_settings_finish,
        .settings_advice = tcp_settings_advice,
        .init = tcp_init,
        .start = tcp_start,
        .cancel = tcp_cancel,
        .done = tcp_done,
};
