/* SPDX-License-Identifier: MIT */
#pragma once

#include "dns-client.h"
#include "probe.h"

/* [probe:NAME] type = dns: a name resolves, through the resolv.conf the
 * MTA uses, within the probe's deadline. OK when at least one record of
 * the type comes back. See probes/dns.c. */
extern const struct probe_ops probe_dns_ops;

/* Its settings: the section's keys besides type and timeout. */
typedef struct DnsSettings {
        char *name;               /* the name to look up, required */
        char *record;             /* "mx" (default), "a", "aaaa", "address" (A or AAAA) */
        DnsResolverSettings resolver;  /* resolv_conf, and what load made of it */
} DnsSettings;
