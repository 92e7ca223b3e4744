/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "dns-client.h"
#include "probe.h"

#define TCP_DEFAULT_PORT 25

/* [probe:NAME] type = tcp: a TCP connection is accepted within the probe's
 * deadline, by HOST, or by one of the MX hosts of a domain (mx_of), tried
 * in preference order (RFC 5321 5.1). See probes/tcp.c. */
extern const struct probe_ops probe_tcp_ops;

/* A key that names a target, with the line it was set on (for the error
 * when both or neither are set). */
typedef struct TcpTarget {
        char *value;              /* NULL: not set */
        unsigned line;
} TcpTarget;

/* Its settings: the section's keys besides type and timeout. Exactly one
 * of host and mx_of. */
typedef struct TcpSettings {
        TcpTarget host;           /* host name or address literal ("192.0.2.1", "[2001:db8::1]") */
        TcpTarget mx_of;          /* a mail domain: connect to its MX hosts */
        uint16_t port;            /* TCP port, default 25 */
        DnsResolverSettings resolver;  /* resolv_conf, and what load made of it */
} TcpSettings;
