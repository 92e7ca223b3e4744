/* SPDX-License-Identifier: MIT */
/* Reachability of an SMTP server: resolve, connect, wait for the greeting.
 *
 * OK on a 220 greeting; FAIL when the peer refuses, the network has no
 * route, the greeting is not 220, the connection ends before it, or the
 * name does not resolve; UNKNOWN on local errors (and, through probe.c, on
 * the deadline).
 *
 * Name resolution must not block the loop. libsystemd does not export
 * sd-resolve (it is internal to systemd), so names are resolved with
 * getaddrinfo() in a child process started by exec_fn(): it honours
 * nsswitch.conf and /etc/hosts like the MTA does, needs no threads, and a
 * resolver that hangs is simply killed when the run is cancelled.
 * Address literals (also "[v6]" and "fe80::1%eth0") skip the child. */

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf-parser.h"
#include "exec.h"
#include "log.h"
#include "macros.h"
#include "address.h"
#include "probe.h"
#include "smtp.h"

#define SMTP_ADDRESSES_MAX 16
#define SMTP_LINE_MAX 1024      /* RFC 5321 allows 512 per reply line */
#define SMTP_GREETING_LINES_MAX 100
#define SMTP_PEER_MAX (INET6_ADDRSTRLEN + IF_NAMESIZE + 16)


typedef struct SmtpState {
        char *host;
        uint16_t port;
        bool literal;
        ProbeAddress literal_address;

        /* one run */
        ExecRun *resolve;
        ProbeAddress addresses[SMTP_ADDRESSES_MAX];
        size_t n_addresses, next;
        int fd;
        sd_event_source *io;
        bool connected;
        char peer[SMTP_PEER_MAX];
        char buf[SMTP_LINE_MAX];
        size_t len;
        unsigned lines;               /* greeting lines seen this run */
        char last_error[PROBE_REASON_MAX];
        int last_errno;          /* the errno of last_error */
} SmtpState;

/* Copies at most 100 bytes of a line from the network, printable only. */
static void smtp_sanitize(const char *s, size_t n, char *buf, size_t size) {
        size_t i;

        if (n > 100)
                n = 100;
        if (n > size - 1)
                n = size - 1;
        for (i = 0; i < n; i++)
                buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
        buf[i] = 0;
}

static void smtp_close(SmtpState *st) {
        st->io = sd_event_source_disable_unref(st->io);
        closep(&st->fd);
        st->fd = -EBADF;
        st->connected = false;
        st->len = 0;
        st->lines = 0;
}

static void smtp_cancel(Probe *p) {
        SmtpState *st = p->state;

        st->resolve = exec_cancel(st->resolve);
        smtp_close(st);
}

static void smtp_done(Probe *p) {
        SmtpState *st = p->state;

        smtp_cancel(p);
        free(st->host);
}

static int smtp_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

/* Tries the addresses in turn; a connect error moves on to the next, and
 * only when all failed does the run FAIL, with the last error. */
static void smtp_connect_next(Probe *p) {
        SmtpState *st = p->state;
        int r;

        while (st->next < st->n_addresses) {
                const ProbeAddress *a = &st->addresses[st->next++];

                probe_address_format(a, st->peer, sizeof(st->peer));
                st->fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
                if (st->fd < 0) {
                        st->fd = -EBADF;
                        if (errno == EAFNOSUPPORT) {
                                st->last_errno = errno;
                                (void) snprintf(st->last_error, sizeof(st->last_error),
                                                "connect to %s: %s", st->peer, strerror(errno));
                                continue;
                        }
                        probe_complete(p, PROBE_UNKNOWN, PROBE_OUTCOME_LOCAL_ERROR, NULL, "socket: %s", strerror(errno));
                        return;
                }

                if (connect(st->fd, &a->sa, a->len) < 0) {
                        if (errno != EINPROGRESS) {
                                st->last_errno = errno;
                                (void) snprintf(st->last_error, sizeof(st->last_error),
                                                "connect to %s: %s", st->peer, strerror(errno));
                                smtp_close(st);
                                continue;
                        }
                } else
                        st->connected = true;

                r = sd_event_add_io(p->event, &st->io, st->fd, st->connected ? EPOLLIN : EPOLLOUT,
                                    smtp_on_io, p);
                if (r < 0) {
                        smtp_close(st);
                        probe_complete(p, PROBE_UNKNOWN, PROBE_OUTCOME_LOCAL_ERROR, NULL, "watch socket: %s", strerror(-r));
                        return;
                }
                (void) sd_event_source_set_description(st->io, "probe-smtp");
                return;
        }

        probe_complete(p, PROBE_FAIL, st->last_error[0] ? probe_outcome_from_errno(st->last_errno) : PROBE_OUTCOME_UNREACHABLE,
                       NULL, "%s", st->last_error[0] ? st->last_error : "no address to connect to");
}

/* Handles one reply line (CRLF stripped). Returns true when the run ended. */
static bool smtp_greeting_line(Probe *p, const char *line, size_t n) {
        SmtpState *st = p->state;
        char clean[128];

        smtp_sanitize(line, n, clean, sizeof(clean));
        if (n < 3 || line[0] < '0' || line[0] > '9' || line[1] < '0' || line[1] > '9' ||
            line[2] < '0' || line[2] > '9' || (n > 3 && line[3] != ' ' && line[3] != '-')) {
                smtp_close(st);
                probe_complete(p, PROBE_FAIL, PROBE_OUTCOME_PROTOCOL_ERROR, NULL, "malformed greeting \"%s\" from %s", clean, st->peer);
                return true;
        }
        if (n > 3 && line[3] == '-')
                return false;  /* continuation of a multi-line reply */

        if (memcmp(line, "220", 3) != 0) {
                smtp_close(st);
                probe_complete(p, PROBE_FAIL, PROBE_OUTCOME_GREETING_REJECTED, NULL, "greeting %s", clean);
                return true;
        }

        /* Polite but best-effort: never wait for the 221. */
        (void) send(st->fd, "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT);
        smtp_close(st);
        probe_complete(p, PROBE_OK, PROBE_OUTCOME_OK, NULL, "connected to %s, 220 greeting", st->peer);
        return true;
}

static int smtp_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Probe *p = userdata;
        SmtpState *st = p->state;

        if (!st->connected) {
                int err = 0;
                socklen_t l = sizeof(err);

                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                        err = errno;
                if (err == 0 && !(revents & EPOLLOUT))
                        err = ECONNRESET;
                if (err != 0) {
                        st->last_errno = err;
                        (void) snprintf(st->last_error, sizeof(st->last_error),
                                        "connect to %s: %s", st->peer, strerror(err));
                        smtp_close(st);
                        smtp_connect_next(p);
                        return 0;
                }
                st->connected = true;
                (void) sd_event_source_set_io_events(s, EPOLLIN);
                return 0;
        }

        /* One read per wake-up: a peer that streams data must not keep the
         * loop here, and a greeting of more than SMTP_GREETING_LINES_MAX
         * lines is not a greeting (RFC 5321 4.2 allows multi-line replies,
         * real ones have a few lines). */
        {
                ssize_t n = recv(fd, st->buf + st->len, sizeof(st->buf) - st->len, 0);
                char *nl;

                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                return 0;
                        st->last_errno = errno;
                        (void) snprintf(st->last_error, sizeof(st->last_error),
                                        "read from %s: %s", st->peer, strerror(errno));
                        smtp_close(st);
                        probe_complete(p, PROBE_FAIL, probe_outcome_from_errno(st->last_errno), NULL, "%s", st->last_error);
                        return 0;
                }
                if (n == 0) {
                        smtp_close(st);
                        probe_complete(p, PROBE_FAIL, PROBE_OUTCOME_PROTOCOL_ERROR, NULL, "%s closed the connection before the greeting", st->peer);
                        return 0;
                }
                st->len += (size_t) n;

                while ((nl = memchr(st->buf, '\n', st->len))) {
                        size_t consumed = (size_t) (nl - st->buf) + 1;
                        size_t linelen = consumed - 1;

                        if (linelen > 0 && st->buf[linelen - 1] == '\r')
                                linelen--;
                        if (smtp_greeting_line(p, st->buf, linelen))
                                return 0;
                        if (++st->lines >= SMTP_GREETING_LINES_MAX) {
                                smtp_close(st);
                                probe_complete(p, PROBE_FAIL, PROBE_OUTCOME_PROTOCOL_ERROR, NULL, "greeting from %s longer than %u lines",
                                               st->peer, SMTP_GREETING_LINES_MAX);
                                return 0;
                        }
                        memmove(st->buf, st->buf + consumed, st->len - consumed);
                        st->len -= consumed;
                }
                if (st->len == sizeof(st->buf)) {
                        smtp_close(st);
                        probe_complete(p, PROBE_FAIL, PROBE_OUTCOME_PROTOCOL_ERROR, NULL, "greeting line from %s too long", st->peer);
                        return 0;
                }
        }
        return 0;
}

/* The name did not resolve (as opposed to a local failure to try). */
static bool gai_error_is_resolution(int r) {
        switch (r) {
        case EAI_NONAME:
        case EAI_AGAIN:
        case EAI_FAIL:
        case EAI_NODATA:
        case EAI_ADDRFAMILY:
                return true;
        default:
                return false;
        }
}

/* In the resolver child. Writes "address LITERAL\n" lines, or one
 * "fail MESSAGE\n" (the name does not resolve: the reachability answer) or
 * "unknown MESSAGE\n" (a local problem). */
static int smtp_resolve_child(int out_fd, void *arg) {
        const char *host = arg;
        struct addrinfo hints = {
                .ai_family = AF_UNSPEC,
                .ai_socktype = SOCK_STREAM,
                .ai_protocol = IPPROTO_TCP,
        };
        struct addrinfo *res = NULL;
        int r;

        r = getaddrinfo(host, NULL, &hints, &res);
        if (r != 0) {
                bool dns = gai_error_is_resolution(r);

                (void) dprintf(out_fd, "%s %s\n", dns ? "fail" : "unknown",
                               r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
                return 0;
        }
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                char buf[NI_MAXHOST];

                if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, sizeof(buf), NULL, 0, NI_NUMERICHOST) == 0)
                        (void) dprintf(out_fd, "address %s\n", buf);
        }
        freeaddrinfo(res);
        return 0;
}

static void smtp_on_resolved(ExecRun *run, int status, const char *output, size_t size, void *userdata) {
        Probe *p = userdata;
        SmtpState *st = p->state;
        const char *line = output;

        st->resolve = NULL;  /* freed by exec after we return */

        if (status != 0) {
                probe_complete(p, PROBE_UNKNOWN, PROBE_OUTCOME_LOCAL_ERROR, NULL, "resolver for %s ended with status %d", st->host, status);
                return;
        }

        while (line < output + size) {
                const char *nl = memchr(line, '\n', (size_t) (output + size - line));
                size_t n = nl ? (size_t) (nl - line) : (size_t) (output + size - line);
                char buf[NI_MAXHOST + 16];

                if (n >= sizeof(buf))
                        n = sizeof(buf) - 1;
                memcpy(buf, line, n);
                buf[n] = 0;
                line += n + 1;

                if (strncmp(buf, "address ", 8) == 0) {
                        ProbeAddress a;
                        bool dup = false;

                        if (st->n_addresses >= SMTP_ADDRESSES_MAX ||
                            probe_address_parse_literal(buf + 8, st->port, &a) < 0)
                                continue;
                        /* getaddrinfo() repeats an address per socket type;
                         * connect to each only once. */
                        for (size_t i = 0; i < st->n_addresses; i++)
                                if (st->addresses[i].len == a.len && memcmp(&st->addresses[i], &a, a.len) == 0)
                                        dup = true;
                        if (!dup)
                                st->addresses[st->n_addresses++] = a;
                } else if (strncmp(buf, "fail ", 5) == 0) {
                        probe_complete(p, PROBE_FAIL, PROBE_OUTCOME_DNS_FAILURE, NULL, "name resolution failed: %s: %s", st->host, buf + 5);
                        return;
                } else if (strncmp(buf, "unknown ", 8) == 0) {
                        probe_complete(p, PROBE_UNKNOWN, PROBE_OUTCOME_DNS_FAILURE, NULL, "name resolution failed: %s: %s", st->host, buf + 8);
                        return;
                }
        }

        if (st->n_addresses == 0) {
                probe_complete(p, PROBE_FAIL, PROBE_OUTCOME_DNS_FAILURE, NULL, "name resolution failed: %s: no usable address", st->host);
                return;
        }
        smtp_connect_next(p);
}

static int smtp_start(Probe *p) {
        SmtpState *st = p->state;
        int r;

        smtp_cancel(p);
        st->n_addresses = st->next = 0;
        st->last_error[0] = 0;
        st->last_errno = 0;
        st->peer[0] = 0;

        if (st->literal) {
                st->addresses[0] = st->literal_address;
                st->n_addresses = 1;
                smtp_connect_next(p);
                return 0;
        }

        /* No deadline of its own: the probe's deadline cancels it. */
        r = exec_fn(p->event, smtp_resolve_child, st->host, USEC_INFINITY, smtp_on_resolved, p, &st->resolve);
        if (r < 0)
                return log_warning_errno(r, "probe %s: cannot start resolver for %s: %m", p->name, st->host);
        return 0;
}

static int smtp_init(Probe *p, const void *settings) {
        const SmtpSettings *s = settings;
        SmtpState *st = p->state;

        st->fd = -EBADF;
        if (!s || !s->host || !s->host[0]) {
                log_error("probe %s: smtp needs a host", p->name);
                return -EINVAL;
        }
        st->host = strdup(s->host);
        if (!st->host)
                return -ENOMEM;
        st->port = s->port != 0 ? s->port : SMTP_DEFAULT_PORT;
        st->literal = probe_address_parse_literal(st->host, st->port, &st->literal_address) >= 0;
        return 0;
}

static void smtp_settings_init(void *settings) {
        *(SmtpSettings *) settings = (SmtpSettings) { .port = SMTP_DEFAULT_PORT };
}

static void smtp_settings_done(void *settings) {
        SmtpSettings *s = settings;

        free(s->host);
        s->host = NULL;
}

static const char *smtp_settings_host(const void *settings) {
        return ((const SmtpSettings *) settings)->host;
}

/* The keys of [probe:NAME] with type = smtp, besides type and timeout. */
static const ConfigItem smtp_probe_items[] = {
        CONFIG_ITEM_REQUIRED("host", word, string, SmtpSettings, host, 0),
        CONFIG_ITEM("port", port, port, SmtpSettings, port, 1),
        {},
};

const struct probe_ops probe_smtp_ops = {
        .type = "smtp",
        .kind = PROBE_KIND_REACHABILITY,
        .state_size = sizeof(SmtpState),
        .settings_size = sizeof(SmtpSettings),
        .config_items = smtp_probe_items,
        .settings_init = smtp_settings_init,
        .settings_done = smtp_settings_done,
        .settings_host = smtp_settings_host,
        .init = smtp_init,
        .start = smtp_start,
        .cancel = smtp_cancel,
        .done = smtp_done,
};
