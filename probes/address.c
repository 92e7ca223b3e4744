/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"

int probe_address_parse_literal(const char *host, uint16_t port, ProbeAddress *ret) {
        char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 4], *scope;
        size_t n = strlen(host);

        if (n >= sizeof(buf))
                return -EINVAL;
        if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
                memcpy(buf, host + 1, n - 2);
                buf[n - 2] = 0;
        } else
                memcpy(buf, host, n + 1);

        *ret = (ProbeAddress) {};
        if (inet_pton(AF_INET, buf, &ret->in.sin_addr) == 1) {
                ret->in.sin_family = AF_INET;
                ret->in.sin_port = htons(port);
                ret->len = sizeof(ret->in);
                return 0;
        }

        scope = strchr(buf, '%');
        if (scope)
                *scope++ = 0;
        if (inet_pton(AF_INET6, buf, &ret->in6.sin6_addr) != 1)
                return -EINVAL;
        if (scope) {
                char *end;
                unsigned long idx = strtoul(scope, &end, 10);

                if (!*scope || *end)
                        idx = if_nametoindex(scope);
                if (idx == 0 || idx > UINT32_MAX)
                        return -EINVAL;
                ret->in6.sin6_scope_id = (uint32_t) idx;
        }
        ret->in6.sin6_family = AF_INET6;
        ret->in6.sin6_port = htons(port);
        ret->len = sizeof(ret->in6);
        return 0;
}

void probe_address_format(const ProbeAddress *a, char *buf, size_t size) {
        char ip[INET6_ADDRSTRLEN] = "?";

        if (a->sa.sa_family == AF_INET) {
                (void) inet_ntop(AF_INET, &a->in.sin_addr, ip, sizeof(ip));
                (void) snprintf(buf, size, "%s:%u", ip, ntohs(a->in.sin_port));
        } else {
                (void) inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof(ip));
                (void) snprintf(buf, size, "[%s]:%u", ip, ntohs(a->in6.sin6_port));
        }
}
