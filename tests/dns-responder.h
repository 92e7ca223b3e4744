/* SPDX-License-Identifier: MIT */
/* A small authoritative DNS responder for the tests: UDP on 127.0.0.1, a
 * port of its own, in a thread, answering from a table (RFC 1035 4.1), and
 * a resolv.conf in a temporary directory that names it. c-ares takes the
 * port from the probe's test-only setting (DnsResolverSettings.port):
 * resolv.conf(5) has no port. Nothing leaves the machine. Include after
 * <cmocka.h>. */
#pragma once

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests.h"

/* One record; or, with RCODE set or SILENT, what a query of NAME and TYPE
 * (0: any type) gets instead of records. */
typedef struct DnsTestRecord {
        const char *name;         /* without the final dot */
        int type;                 /* ns_t_mx, ns_t_a, ns_t_aaaa; 0: any (rules only) */
        unsigned preference;      /* MX */
        const char *data;         /* MX: the exchange ("" for the null MX), A/AAAA: the address */
        int rcode;                /* ns_r_nxdomain, ns_r_servfail, ...: answered so, no records */
        bool silent;              /* never answered */
} DnsTestRecord;

#define DNS_MX(n, pref, host) { .name = (n), .type = ns_t_mx, .preference = (pref), .data = (host) }
#define DNS_A(n, addr)        { .name = (n), .type = ns_t_a, .data = (addr) }
#define DNS_AAAA(n, addr)     { .name = (n), .type = ns_t_aaaa, .data = (addr) }
#define DNS_RCODE(n, rc)      { .name = (n), .rcode = (rc) }
#define DNS_SILENT(n)         { .name = (n), .silent = true }

/* How long the responder thread lives at most, whatever the test does. */
#define DNS_RESPONDER_MAX_USEC (60 * USEC_PER_SEC)

typedef struct DnsResponder {
        const DnsTestRecord *records;     /* terminated by a NULL name */
        int fd;
        uint16_t port;
        pthread_t thread;
        atomic_bool stop;
        atomic_uint queries;              /* queries received */
        char dir[64];
        char resolv_conf[96];
} DnsResponder;

static inline size_t dns_test_put_name(uint8_t *p, size_t size, const char *name) {
        size_t n = 0;

        while (*name) {
                const char *dot = strchr(name, '.');
                size_t len = dot ? (size_t) (dot - name) : strlen(name);

                assert_true(len > 0 && len < 64 && n + 1 + len < size);
                p[n++] = (uint8_t) len;
                memcpy(p + n, name, len);
                n += len;
                name += len + (dot ? 1 : 0);
        }
        assert_true(n < size);
        p[n++] = 0;
        return n;
}

/* Reads the question's name (no compression in queries) into NAME; returns
 * the offset after QTYPE/QCLASS, 0 if malformed. */
static inline size_t dns_test_question(const uint8_t *q, size_t n, char *name, size_t size, int *ret_type) {
        size_t i = 12, out = 0;

        while (i < n && q[i] != 0) {
                size_t len = q[i++];

                if (len >= 64 || i + len > n || out + len + 2 > size)
                        return 0;
                if (out > 0)
                        name[out++] = '.';
                memcpy(name + out, q + i, len);
                out += len;
                i += len;
        }
        name[out] = 0;
        if (i + 5 > n)
                return 0;
        *ret_type = (q[i + 1] << 8) | q[i + 2];
        return i + 5;
}

static inline void dns_test_answer(DnsResponder *d, const uint8_t *q, size_t n, const struct sockaddr *from,
                                   socklen_t fromlen) {
        uint8_t r[1024];
        char name[256];
        int type = 0, rcode = ns_r_noerror;
        size_t end = dns_test_question(q, n, name, sizeof(name), &type), len;
        unsigned ancount = 0;
        bool known = false;

        if (end == 0 || end > sizeof(r) / 2)
                return;
        for (const DnsTestRecord *x = d->records; x && x->name; x++)
                if (strcasecmp(x->name, name) == 0 && (x->type == 0 || x->type == type) && (x->rcode || x->silent)) {
                        if (x->silent)
                                return;
                        rcode = x->rcode;
                        known = true;
                }
        memcpy(r, q, end);
        len = end;
        if (rcode == ns_r_noerror)
                for (const DnsTestRecord *x = d->records; x && x->name; x++) {
                        uint8_t rdata[300];
                        size_t rdlen = 0;

                        if (strcasecmp(x->name, name) != 0 || x->rcode || x->silent)
                                continue;
                        known = true;
                        if (x->type != type)
                                continue;
                        if (type == ns_t_mx) {
                                rdata[0] = (uint8_t) (x->preference >> 8);
                                rdata[1] = (uint8_t) x->preference;
                                rdlen = 2 + dns_test_put_name(rdata + 2, sizeof(rdata) - 2, x->data);
                        } else if (type == ns_t_a) {
                                assert_int_equal(inet_pton(AF_INET, x->data, rdata), 1);
                                rdlen = 4;
                        } else if (type == ns_t_aaaa) {
                                assert_int_equal(inet_pton(AF_INET6, x->data, rdata), 1);
                                rdlen = 16;
                        }
                        assert_true(len + 12 + rdlen < sizeof(r));
                        r[len++] = 0xc0;                 /* the name: a pointer to the question's */
                        r[len++] = 12;
                        r[len++] = (uint8_t) (type >> 8);
                        r[len++] = (uint8_t) type;
                        r[len++] = 0;                    /* class IN */
                        r[len++] = ns_c_in;
                        r[len++] = 0;                    /* TTL 60 */
                        r[len++] = 0;
                        r[len++] = 0;
                        r[len++] = 60;
                        r[len++] = (uint8_t) (rdlen >> 8);
                        r[len++] = (uint8_t) rdlen;
                        memcpy(r + len, rdata, rdlen);
                        len += rdlen;
                        ancount++;
                }
        if (!known)
                rcode = ns_r_nxdomain;
        r[2] = (uint8_t) (0x80 | (q[2] & 0x79) | 0x04);  /* QR, the opcode and RD asked, AA */
        r[3] = (uint8_t) (0x80 | rcode);                  /* RA, the rcode */
        r[4] = 0;                                         /* QDCOUNT 1 */
        r[5] = 1;
        r[6] = (uint8_t) (ancount >> 8);
        r[7] = (uint8_t) ancount;
        memset(r + 8, 0, 4);                              /* NSCOUNT, ARCOUNT 0 */
        (void) sendto(d->fd, r, len, 0, from, fromlen);
}

static inline void *dns_responder_main(void *arg) {
        DnsResponder *d = arg;
        uint64_t start = now_usec();
        struct pollfd pfd = { .fd = d->fd, .events = POLLIN };

        while (!atomic_load(&d->stop) && now_usec() - start < DNS_RESPONDER_MAX_USEC) {
                uint8_t q[512];
                struct sockaddr_storage from;
                socklen_t fromlen = sizeof(from);
                ssize_t n;

                if (poll(&pfd, 1, 20) != 1)
                        continue;
                n = recvfrom(d->fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *) &from, &fromlen);
                if (n < 12)
                        continue;
                atomic_fetch_add(&d->queries, 1);
                dns_test_answer(d, q, (size_t) n, (struct sockaddr *) &from, fromlen);
        }
        return NULL;
}

/* Starts D serving RECORDS, and writes D->resolv_conf naming it (with
 * EXTRA lines added, may be NULL). */
static inline void dns_responder_start(DnsResponder *d, const DnsTestRecord *records, const char *extra) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        FILE *f;

        *d = (DnsResponder) { .records = records };
        d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(d->fd >= 0);
        assert_int_equal(bind(d->fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(d->fd, (struct sockaddr *) &sa, &len), 0);
        d->port = ntohs(sa.sin_port);

        strcpy(d->dir, "/tmp/test-dns-XXXXXX");
        assert_non_null(mkdtemp(d->dir));
        (void) snprintf(d->resolv_conf, sizeof(d->resolv_conf), "%s/resolv.conf", d->dir);
        f = fopen(d->resolv_conf, "we");
        assert_non_null(f);
        fprintf(f, "nameserver 127.0.0.1\n%s", extra ?: "");
        assert_int_equal(fclose(f), 0);
        assert_int_equal(pthread_create(&d->thread, NULL, dns_responder_main, d), 0);
}

static inline void dns_responder_stop(DnsResponder *d) {
        atomic_store(&d->stop, true);
        assert_int_equal(pthread_join(d->thread, NULL), 0);
        close(d->fd);
        (void) unlink(d->resolv_conf);
        (void) rmdir(d->dir);
}
