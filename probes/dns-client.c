/* SPDX-License-Identifier: MIT */
/* DNS lookups with a deadline through a given resolv.conf, on the loop.
 *
 * Why c-ares (libc-ares2, Debian 12: 1.18.1) and not our own code: the dns
 * and tcp probes must resolve through the resolv.conf the MTA reads (a
 * chrooted Postfix smtp(8) reads the copy under its queue directory), and
 * must never block the loop. glibc's res_query(3) and getaddrinfo(3) read
 * /etc/resolv.conf only, so with them we would have to parse the file and
 * send, retry and fall back to TCP ourselves. c-ares takes the file's path
 * (ARES_OPT_RESOLVCONF, since 1.15.0), reads nameserver, search, domain and
 * options from it as the stub resolver does, parses MX replies
 * (ares_parse_mx_reply(3)), and is non-blocking by design: its sockets are
 * handed to sd-event (ARES_OPT_SOCK_STATE_CB, ares_process_fd(3)) and its
 * retry timer is one sd-event timer (ares_timeout(3)). No threads, no
 * child processes. The probe's own deadline (probes/probe.c) bounds a run;
 * c-ares's per-try timeout and attempts come from the file's options as
 * for the MTA. */

#include <arpa/nameser.h>
#include <ares.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "conf-parser.h"
#include "dns-client.h"
#include "fileio.h"
#include "log.h"
#include "macros.h"
#include "mta.h"

#define DNS_SOCKETS_MAX 16   /* c-ares opens a UDP and maybe a TCP socket per server (at most 3) */

typedef struct DnsSocket {
        int fd;                       /* -1: free slot */
        sd_event_source *io;
} DnsSocket;

typedef enum DnsOp {
        DNS_OP_NONE,
        DNS_OP_QUERY,
        DNS_OP_ADDRESSES,
} DnsOp;

struct DnsClient {
        sd_event *event;
        ares_channel channel;
        bool have_channel;
        DnsSocket sockets[DNS_SOCKETS_MAX];
        sd_event_source *timer;       /* c-ares's next retry */
        sd_event_source *defer;       /* delivers a finished lookup from the loop */

        DnsOp op;
        bool finished;                /* c-ares answered; delivery pending */
        dns_query_fn query_cb;
        dns_addresses_fn addresses_cb;
        void *userdata;
        int status;
        unsigned char *abuf;
        int alen;
        struct ares_addrinfo *ai;
        bool destroying;              /* ares_destroy() runs: its callbacks are dropped */
};

static void dns_client_arm_timer(DnsClient *c);

static DnsSocket *dns_socket_find(DnsClient *c, int fd) {
        for (size_t i = 0; i < ELEMENTSOF(c->sockets); i++)
                if (c->sockets[i].fd == fd)
                        return &c->sockets[i];
        return NULL;
}

static int dns_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        DnsClient *c = userdata;
        ares_socket_t r = ARES_SOCKET_BAD, w = ARES_SOCKET_BAD;

        if (revents & (EPOLLIN | EPOLLERR | EPOLLHUP))
                r = fd;
        if (revents & EPOLLOUT)
                w = fd;
        ares_process_fd(c->channel, r, w);
        dns_client_arm_timer(c);
        return 0;
}

static int dns_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        DnsClient *c = userdata;

        ares_process_fd(c->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        dns_client_arm_timer(c);
        return 0;
}

/* c-ares opens, watches or closes one of its sockets (READABLE and
 * WRITABLE both 0: it is about to close it). */
static void dns_sock_state(void *data, ares_socket_t fd, int readable, int writable) {
        DnsClient *c = data;
        DnsSocket *s = dns_socket_find(c, fd);
        uint32_t events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
        int r;

        if (events == 0) {
                if (s) {
                        s->io = sd_event_source_disable_unref(s->io);
                        s->fd = -1;
                }
                return;
        }
        if (s) {
                r = sd_event_source_set_io_events(s->io, events);
                if (r < 0)
                        log_warning_errno(r, "dns: cannot watch socket %d: %m", fd);
                return;
        }
        s = dns_socket_find(c, -1);
        if (!s) {
                /* Not watched: the query on it ends by c-ares's timer. */
                log_warning("dns: more than %d sockets, not watching socket %d", DNS_SOCKETS_MAX, fd);
                return;
        }
        r = sd_event_add_io(c->event, &s->io, fd, events, dns_on_io, c);
        if (r < 0) {
                log_warning_errno(r, "dns: cannot watch socket %d: %m", fd);
                return;
        }
        s->fd = fd;
        (void) sd_event_source_set_description(s->io, "dns-socket");
}

/* One timer for c-ares's retries: the time to its next timeout, if any. */
static void dns_client_arm_timer(DnsClient *c) {
        struct timeval tv, *t;
        uint64_t usec;
        int r;

        if (!c->have_channel)
                return;
        t = ares_timeout(c->channel, NULL, &tv);
        if (!t) {
                (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
                return;
        }
        usec = (uint64_t) t->tv_sec * USEC_PER_SEC + (uint64_t) t->tv_usec;
        if (c->timer) {
                r = sd_event_source_set_time_relative(c->timer, usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time_relative(c->event, &c->timer, CLOCK_MONOTONIC, usec, USEC_PER_MSEC,
                                               dns_on_timer, c);
                if (r >= 0)
                        (void) sd_event_source_set_description(c->timer, "dns-retry");
        }
        if (r < 0)
                log_warning_errno(r, "dns: cannot arm the retry timer, the probe's deadline ends the lookup: %m");
}

static void dns_client_clear(DnsClient *c) {
        free(c->abuf);
        c->abuf = NULL;
        c->alen = 0;
        if (c->ai)
                ares_freeaddrinfo(c->ai);
        c->ai = NULL;
        c->op = DNS_OP_NONE;
        c->finished = false;
        c->query_cb = NULL;
        c->addresses_cb = NULL;
        c->userdata = NULL;
}

static int dns_on_defer(sd_event_source *s, void *userdata) {
        DnsClient *c = userdata;
        unsigned char *abuf;
        struct ares_addrinfo *ai;
        dns_query_fn qcb;
        dns_addresses_fn acb;
        void *u;
        int status, alen;
        DnsOp op;

        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        if (!c->finished)
                return 0;
        /* Taken out first: the callback may free C or start the next lookup. */
        op = c->op;
        qcb = c->query_cb;
        acb = c->addresses_cb;
        u = c->userdata;
        status = c->status;
        abuf = TAKE_PTR(c->abuf);
        alen = c->alen;
        ai = TAKE_PTR(c->ai);
        dns_client_clear(c);

        if (op == DNS_OP_QUERY && qcb)
                qcb(c, status, abuf, alen, u);
        else if (op == DNS_OP_ADDRESSES && acb)
                acb(c, status, ai, u);
        free(abuf);
        if (ai)
                ares_freeaddrinfo(ai);
        return 0;
}

static void dns_finish(DnsClient *c, int status) {
        int r;

        c->status = status;
        c->finished = true;
        if (c->defer)
                r = sd_event_source_set_enabled(c->defer, SD_EVENT_ONESHOT);
        else {
                r = sd_event_add_defer(c->event, &c->defer, dns_on_defer, c);
                if (r >= 0)
                        (void) sd_event_source_set_description(c->defer, "dns-done");
        }
        if (r < 0)
                log_warning_errno(r, "dns: cannot deliver an answer, the probe's deadline ends the lookup: %m");
}

static void dns_on_query(void *arg, int status, int timeouts, unsigned char *abuf, int alen) {
        DnsClient *c = arg;

        if (c->destroying || c->op != DNS_OP_QUERY || c->finished)
                return;
        if (abuf && alen > 0) {
                c->abuf = malloc((size_t) alen);
                if (c->abuf) {
                        memcpy(c->abuf, abuf, (size_t) alen);
                        c->alen = alen;
                }
        }
        dns_finish(c, status);
}

static void dns_on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res) {
        DnsClient *c = arg;

        if (c->destroying || c->op != DNS_OP_ADDRESSES || c->finished) {
                if (res)
                        ares_freeaddrinfo(res);
                return;
        }
        c->ai = res;
        dns_finish(c, status);
}

int dns_client_new(sd_event *e, const char *resolv_conf, uint16_t port, DnsClient **ret) {
        _cleanup_free_ char *path = NULL;
        struct ares_options o = {};
        struct stat st = {};
        DnsClient *c;
        int mask, fd, r;

        if (!e || !resolv_conf || !ret)
                return -EINVAL;
        /* c-ares falls back to 127.0.0.1 for a file it cannot open; the
         * probe says so instead. */
        fd = open(resolv_conf, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        /* c-ares reads it with a blocking fopen(): a FIFO would hang the loop */
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                int k = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;

                close(fd);
                return k;
        }
        close(fd);
        path = strdup(resolv_conf);
        if (!path)
                return -ENOMEM;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(c->sockets); i++)
                c->sockets[i].fd = -1;
        c->event = sd_event_ref(e);

        o.sock_state_cb = dns_sock_state;
        o.sock_state_cb_data = c;
        o.resolvconf_path = path;
        o.lookups = (char *) "fb";
        /* An answer with rcode SERVFAIL, NOTIMP or REFUSED ends the lookup
         * with that rcode. Without this flag c-ares 1.18 moves on to the
         * next server and, when none is left, reports ARES_ECONNREFUSED
         * (src/lib/ares_process.c: the rcode is not kept), so a SERVFAIL
         * would read "no name server reachable". The cost: a second name
         * server is not asked after the first one's SERVFAIL, which the
         * stub resolver would do; the probe then fails where the MTA may
         * still resolve, an outage (no restart), never a false stall. */
        o.flags = ARES_FLAG_NOCHECKRESP;
        mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_RESOLVCONF | ARES_OPT_LOOKUPS | ARES_OPT_FLAGS;
        if (port != 0) {
                o.udp_port = port;
                o.tcp_port = port;
                mask |= ARES_OPT_UDP_PORT | ARES_OPT_TCP_PORT;
        }
        r = ares_init_options(&c->channel, &o, mask);
        if (r != ARES_SUCCESS) {
                log_warning("dns: cannot start a resolver channel for %s: %s", resolv_conf, ares_strerror(r));
                dns_client_free(c);
                return r == ARES_ENOMEM ? -ENOMEM : -EIO;
        }
        c->have_channel = true;
        *ret = c;
        return 0;
}

DnsClient *dns_client_free(DnsClient *c) {
        if (!c)
                return NULL;
        if (c->have_channel) {
                c->destroying = true;
                ares_destroy(c->channel);  /* closes its sockets through dns_sock_state() */
                c->have_channel = false;
        }
        for (size_t i = 0; i < ELEMENTSOF(c->sockets); i++)
                c->sockets[i].io = sd_event_source_disable_unref(c->sockets[i].io);
        dns_client_clear(c);
        sd_event_source_disable_unref(c->timer);
        sd_event_source_disable_unref(c->defer);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

int dns_client_query(DnsClient *c, const char *name, int type, dns_query_fn cb, void *userdata) {
        if (!c || !name || !cb)
                return -EINVAL;
        if (c->op != DNS_OP_NONE)
                return -EBUSY;
        c->op = DNS_OP_QUERY;
        c->query_cb = cb;
        c->userdata = userdata;
        ares_query(c->channel, name, ns_c_in, type, dns_on_query, c);
        dns_client_arm_timer(c);
        return 0;
}

int dns_client_addresses(DnsClient *c, const char *name, uint16_t port, dns_addresses_fn cb, void *userdata) {
        struct ares_addrinfo_hints hints = {
                .ai_family = AF_UNSPEC,
                .ai_socktype = SOCK_STREAM,
                .ai_protocol = IPPROTO_TCP,
                /* no reordering by trial connects (RFC 6724 sorting): the
                 * probe tries each address itself */
                .ai_flags = ARES_AI_NOSORT | ARES_AI_NUMERICSERV,
        };
        char service[8];

        if (!c || !name || !cb)
                return -EINVAL;
        if (c->op != DNS_OP_NONE)
                return -EBUSY;
        (void) snprintf(service, sizeof(service), "%u", port);
        c->op = DNS_OP_ADDRESSES;
        c->addresses_cb = cb;
        c->userdata = userdata;
        ares_getaddrinfo(c->channel, name, service, &hints, dns_on_addrinfo, c);
        dns_client_arm_timer(c);
        return 0;
}

ProbeOutcome dns_status_outcome(int status) {
        switch (status) {
        case ARES_SUCCESS:
                return PROBE_OUTCOME_OK;
        case ARES_ETIMEOUT:
                return PROBE_OUTCOME_TIMEOUT;
        case ARES_ENODATA:
        case ARES_ENOTFOUND:
        case ARES_ESERVFAIL:
        case ARES_EREFUSED:
        case ARES_EFORMERR:
        case ARES_ENOTIMP:
        case ARES_EBADRESP:
        case ARES_EBADNAME:
        case ARES_ECONNREFUSED:
        case ARES_ENONAME:
                return PROBE_OUTCOME_DNS_FAILURE;
        default:
                return PROBE_OUTCOME_LOCAL_ERROR;
        }
}

const char *dns_status_name(int status) {
        switch (status) {
        case ARES_SUCCESS:
                return "NOERROR";
        case ARES_ENODATA:
                return "NODATA";
        case ARES_ENOTFOUND:
                return "NXDOMAIN";
        case ARES_ESERVFAIL:
                return "SERVFAIL";
        case ARES_EREFUSED:
                return "REFUSED";
        case ARES_EFORMERR:
                return "FORMERR";
        case ARES_ENOTIMP:
                return "NOTIMP";
        case ARES_ETIMEOUT:
                return "no answer (timeout)";
        case ARES_ECONNREFUSED:
                return "no name server reachable";
        default:
                return ares_strerror(status);
        }
}

const char *dns_type_name(int type) {
        switch (type) {
        case ns_t_mx:
                return "MX";
        case ns_t_a:
                return "A";
        case ns_t_aaaa:
                return "AAAA";
        default:
                return "?";
        }
}

int dns_resolv_conf_resolve(const char *value, const MtaProfile *prof, const void *mta_settings,
                            char *buf, size_t size) {
        int r;

        if (value && strcmp(value, "auto") != 0) {
                if (strlen(value) >= size)
                        return -ENAMETOOLONG;
                strcpy(buf, value);
                return 0;
        }
        if (prof && prof->resolv_conf) {
                r = prof->resolv_conf(mta_settings, buf, size);
                if (r < 0)
                        return r;
                if (r > 0)
                        return 0;
        }
        if (size <= strlen(DNS_SYSTEM_RESOLV_CONF))
                return -ENAMETOOLONG;
        strcpy(buf, DNS_SYSTEM_RESOLV_CONF);
        return 0;
}

/* What of a resolv.conf(5) decides where and how names are looked up: the
 * nameserver lines in order, the last search or domain line (each replaces
 * the other, resolv.conf(5)), and the options, as "; "-joined text. */
typedef struct ResolvSummary {
        char nameservers[256];
        char search[256];
        char options[256];
} ResolvSummary;

static void resolv_append(char *buf, size_t size, const char *sep, const char *s, size_t n) {
        size_t len = strlen(buf);

        if (len > 0 && len + strlen(sep) < size) {
                strcpy(buf + len, sep);
                len += strlen(sep);
        }
        if (len + n >= size)
                n = len < size - 1 ? size - 1 - len : 0;
        memcpy(buf + len, s, n);
        buf[len + n] = 0;
}

static void resolv_summarize(const char *text, ResolvSummary *ret) {
        const char *line = text;

        *ret = (ResolvSummary) {};
        while (line && *line) {
                const char *end = strchr(line, '\n');
                size_t len = end ? (size_t) (end - line) : strlen(line);
                const char *word = line, *rest;
                size_t wlen, rlen;

                line = end ? end + 1 : NULL;
                while (len > 0 && (*word == ' ' || *word == '\t'))
                        word++, len--;
                if (len == 0 || *word == '#' || *word == ';')
                        continue;
                for (wlen = 0; wlen < len && word[wlen] != ' ' && word[wlen] != '\t'; wlen++)
                        ;
                rest = word + wlen;
                rlen = len - wlen;
                while (rlen > 0 && (*rest == ' ' || *rest == '\t'))
                        rest++, rlen--;
                while (rlen > 0 && (rest[rlen - 1] == ' ' || rest[rlen - 1] == '\t' || rest[rlen - 1] == '\r'))
                        rlen--;
                if (rlen == 0)
                        continue;
                if (wlen == 10 && strncmp(word, "nameserver", 10) == 0)
                        resolv_append(ret->nameservers, sizeof(ret->nameservers), " ", rest, rlen);
                else if ((wlen == 6 && strncmp(word, "search", 6) == 0) ||
                         (wlen == 6 && strncmp(word, "domain", 6) == 0)) {
                        ret->search[0] = 0;
                        resolv_append(ret->search, sizeof(ret->search), " ", rest, rlen);
                } else if (wlen == 7 && strncmp(word, "options", 7) == 0)
                        resolv_append(ret->options, sizeof(ret->options), " ", rest, rlen);
        }
}

/* "nameserver 192.0.2.53; search example.net" of the parts that differ. */
static void resolv_describe(const ResolvSummary *s, const ResolvSummary *other, char *buf, size_t size) {
        buf[0] = 0;
        if (strcmp(s->nameservers, other->nameservers) != 0) {
                const char *v = s->nameservers[0] ? s->nameservers : "none";
                resolv_append(buf, size, "; ", "nameserver ", 11);
                resolv_append(buf, size, "", v, strlen(v));
        }
        if (strcmp(s->search, other->search) != 0) {
                const char *v = s->search[0] ? s->search : "none";
                resolv_append(buf, size, "; ", "search ", 7);
                resolv_append(buf, size, "", v, strlen(v));
        }
        if (strcmp(s->options, other->options) != 0) {
                const char *v = s->options[0] ? s->options : "none";
                resolv_append(buf, size, "; ", "options ", 8);
                resolv_append(buf, size, "", v, strlen(v));
        }
}

int dns_resolv_conf_compare(const char *path, const char *system, char *buf, size_t size) {
        _cleanup_free_ char *mine = NULL, *sys = NULL;
        ResolvSummary a, b;
        struct stat st;
        char x[384], y[384];
        size_t n;
        int r;

        if (size > 0)
                buf[0] = 0;
        if (!system)
                system = DNS_SYSTEM_RESOLV_CONF;
        if (strcmp(path, system) == 0)
                return 0;
        /* a FIFO would wait for a writer at load: c-ares reads only regular files here too */
        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        r = read_file_bounded(path, 64 * 1024, &mine, &n);
        if (r < 0)
                return r;
        r = read_file_bounded(system, 64 * 1024, &sys, &n);
        if (r < 0 && r != -ENOENT)
                return r;
        resolv_summarize(mine, &a);
        resolv_summarize(sys ?: "", &b);
        if (strcmp(a.nameservers, b.nameservers) == 0 && strcmp(a.search, b.search) == 0 &&
            strcmp(a.options, b.options) == 0)
                return 0;
        resolv_describe(&a, &b, x, sizeof(x));
        resolv_describe(&b, &a, y, sizeof(y));
        if ((size_t) snprintf(buf, size, "%s (%s), not %s (%s)", path, x, system, y) >= size && size > 4)
                memcpy(buf + size - 4, "...", 4);   /* cut, and says so */
        return 1;
}

/* The key's table row points at the struct, config_print_string() reads resolv_conf there. */
_Static_assert(offsetof(DnsResolverSettings, resolv_conf) == 0, "resolv_conf must come first");

int config_parse_resolv_conf(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data) {
        DnsResolverSettings *s = data;
        int r;

        if (strcmp(value, "auto") != 0)
                r = config_parse_path(ctx, item, value, &s->resolv_conf);
        else {
                free(s->resolv_conf);
                s->resolv_conf = strdup(value);
                r = s->resolv_conf ? 0 : config_oom(ctx);
        }
        if (r >= 0)
                s->line = ctx->line;
        return r;
}

int dns_resolver_settings_init(DnsResolverSettings *s) {
        *s = (DnsResolverSettings) {};
        s->resolv_conf = strdup("auto");
        return s->resolv_conf ? 0 : -ENOMEM;
}

void dns_resolver_settings_done(DnsResolverSettings *s) {
        free(s->resolv_conf);
        free(s->path);
        free(s->advice);
        free(s->system);
        *s = (DnsResolverSettings) {};
}

const char *dns_resolver_settings_file(const DnsResolverSettings *s) {
        if (s->path)
                return s->path;
        if (s->resolv_conf && s->resolv_conf[0] == '/')
                return s->resolv_conf;
        return DNS_SYSTEM_RESOLV_CONF;
}

int dns_resolver_settings_finish(ConfigContext *ctx, unsigned section_line, DnsResolverSettings *s,
                                 const MtaProfile *prof, const void *mta_settings) {
        bool is_auto = !s->resolv_conf || strcmp(s->resolv_conf, "auto") == 0;
        unsigned line = s->line > 0 ? s->line : section_line;
        char path[4096], diff[PROBE_REASON_MAX * 2];
        int r;

        r = dns_resolv_conf_resolve(s->resolv_conf, prof, mta_settings, path, sizeof(path));
        if (r == -ENOMEM)
                return config_oom(ctx);
        if (r < 0)
                return config_error(ctx, line, "resolv_conf",
                                    "cannot tell which resolv.conf MTA type %s reads: %s",
                                    prof ? prof->type : "?", strerror(-r));
        free(s->path);
        s->path = strdup(path);
        if (!s->path)
                return config_oom(ctx);

        r = dns_resolv_conf_compare(path, NULL, diff, sizeof(diff));
        if (r == -ENOMEM)
                return config_oom(ctx);
        if (r < 0 && !is_auto)
                return config_error(ctx, line, "resolv_conf", "cannot read %s: %s", path,
                                    r == -EINVAL ? "not a regular file" : strerror(-r));
        free(s->advice);
        s->advice = NULL;
        if (r > 0 && asprintf(&s->advice, "resolv_conf: %s %s%s", is_auto ? "the MTA resolves names through" :
                              "names are resolved through", diff, is_auto ? "; so does this probe" : "") < 0) {
                s->advice = NULL;
                return config_oom(ctx);
        }
        return 0;
}

void dns_resolv_conf_note(const char *path, const char *system, char *buf, size_t size) {
        char diff[PROBE_REASON_MAX * 2];

        if (size > 0)
                buf[0] = 0;
        if (dns_resolv_conf_compare(path, system, diff, sizeof(diff)) > 0)
                (void) snprintf(buf, size, "%s, which differs from %s", path, system ?: DNS_SYSTEM_RESOLV_CONF);
}
