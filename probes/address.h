/* SPDX-License-Identifier: MIT */
#pragma once

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A socket address of the reachability probes (probes/smtp.c, probes/tcp.c). */
typedef struct ProbeAddress {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        };
        socklen_t len;          /* of in or in6 */
} ProbeAddress;

/* Parses an address literal, "192.0.2.1", "2001:db8::1", "[2001:db8::1]",
 * "fe80::1%eth0" (a scope by name or number, RFC 4007 11.2), with PORT
 * (host order) into *RET. Returns 0, or -EINVAL when HOST is not such a
 * literal. Never blocks (if_nametoindex() is an ioctl). */
int probe_address_parse_literal(const char *host, uint16_t port, ProbeAddress *ret);

/* Writes "192.0.2.1:25" or "[2001:db8::1]:25" into BUF (SIZE bytes, cut
 * if too small). */
void probe_address_format(const ProbeAddress *a, char *buf, size_t size);
