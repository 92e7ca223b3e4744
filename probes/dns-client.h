/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "probe.h"

/* DNS lookups on the sd-event loop through a given resolv.conf(5), with
 * c-ares (libc-ares2; probes/dns-client.c says why). One client serves one
 * probe run and does one lookup at a time; its callback always comes from
 * the loop, never from inside a c-ares call or the function that started
 * the lookup, so it may free the client. */

typedef struct DnsClient DnsClient;
struct MtaProfile;
typedef struct ConfigContext ConfigContext;
typedef struct ConfigItem ConfigItem;

#define DNS_SYSTEM_RESOLV_CONF "/etc/resolv.conf"

/* A query's answer: STATUS is ARES_SUCCESS or an ARES_E* code (ares.h);
 * ABUF/ALEN the reply as received (NULL/0 when none), valid during the
 * callback only. */
typedef void (*dns_query_fn)(DnsClient *c, int status, const unsigned char *abuf, int alen, void *userdata);
/* An address lookup's answer: STATUS as above; AI the addresses (a
 * struct ares_addrinfo *, NULL when none), valid during the callback only. */
typedef void (*dns_addresses_fn)(DnsClient *c, int status, const void *ai, void *userdata);

/* Creates a client on loop E that reads its name servers, search list and
 * options from RESOLV_CONF (an absolute path) as c-ares does (ares_init_options(3),
 * ARES_OPT_RESOLVCONF). PORT: the name servers' port, 0 for 53; only the
 * unit tests set another (resolv.conf(5) has no port). Returns 0, -ENOENT
 * or another negative errno when RESOLV_CONF cannot be read (-EISDIR,
 * -EINVAL: not a regular file), -ENOMEM, -EIO when c-ares cannot start a
 * channel. */
int dns_client_new(sd_event *e, const char *resolv_conf, uint16_t port, DnsClient **ret);

/* Cancels what runs (no callback follows) and frees. Accepts NULL. */
DnsClient *dns_client_free(DnsClient *c);

/* Queries NAME (as given, no search list) for records of TYPE (ns_t_mx,
 * ns_t_a, ns_t_aaaa; arpa/nameser.h), class IN. Returns 0 (CB follows
 * exactly once) or -EBUSY when a lookup is running. */
int dns_client_query(DnsClient *c, const char *name, int type, dns_query_fn cb, void *userdata);

/* The IPv4 and IPv6 addresses of NAME (ares_getaddrinfo(3): /etc/hosts,
 * then DNS as the resolv.conf says), with PORT set in each. Returns 0 (CB
 * follows exactly once) or -EBUSY. */
int dns_client_addresses(DnsClient *c, const char *name, uint16_t port, dns_addresses_fn cb, void *userdata);

/* What a failed lookup's STATUS means for a reachability probe:
 * PROBE_OUTCOME_TIMEOUT (no name server answered in time),
 * PROBE_OUTCOME_DNS_FAILURE (an answer without records, an error rcode, no
 * name server reachable), PROBE_OUTCOME_LOCAL_ERROR (out of memory, ...). */
ProbeOutcome dns_status_outcome(int status);

/* A short name for STATUS: the rcode where the name server sent one
 * ("NXDOMAIN", "NODATA", "SERVFAIL", "REFUSED", "FORMERR", "NOTIMP"),
 * else c-ares's words ("timeout", "no name server reachable", ...). */
const char *dns_status_name(int status);

/* "MX", "A", "AAAA" for TYPE; "?" otherwise. */
const char *dns_type_name(int type);

/* The resolv.conf a probe's resolv_conf VALUE means: an absolute path as
 * given; "auto" (or NULL): the one the MTA's delivery agent reads
 * (MtaProfile.resolv_conf, e.g. a chrooted Postfix smtp(8)'s copy under
 * its queue directory), or /etc/resolv.conf when PROF has none or says it
 * is the system's. Writes the path to BUF. Returns 0, -ENAMETOOLONG, or
 * the negative errno of the MTA's hook (its configuration unreadable). */
int dns_resolv_conf_resolve(const char *value, const struct MtaProfile *prof, const void *mta_settings,
                            char *buf, size_t size);

/* Compares the name servers, search list (search/domain) and options of
 * the resolv.conf PATH with /etc/resolv.conf: writes "PATH (nameserver
 * 192.0.2.53; search example.net), not /etc/resolv.conf (...)" with the
 * lines that differ, and returns 1; returns 0 when they agree
 * (or PATH is /etc/resolv.conf), a negative errno when PATH cannot be
 * read (-EINVAL: not a regular file, never opened). SYSTEM: the file to compare with, NULL for /etc/resolv.conf
 * (tests give another). */
int dns_resolv_conf_compare(const char *path, const char *system, char *buf, size_t size);

/* The resolver part of the dns and tcp probes' settings. */
typedef struct DnsResolverSettings {
        char *resolv_conf;        /* [probe:NAME] resolv_conf: "auto" (default) or an absolute path;
                                   * first: the key's table row points here */
        unsigned line;            /* where resolv_conf was set, 0: not set (for errors) */
        char *path;               /* the file it means, set at load (dns_resolver_settings_finish());
                                   * NULL: resolv_conf if absolute, else /etc/resolv.conf */
        char *advice;             /* "resolv_conf: the MTA resolves names through ..." when that
                                   * file differs from /etc/resolv.conf at load, for
                                   * config_advice(); NULL: it does not */
        uint16_t port;            /* unit tests only, no ini key: the name servers' port
                                   * (resolv.conf(5) has none); 0: 53 */
        char *system;             /* unit tests only, no ini key: the file a failed run compares
                                   * the one it read with; NULL: /etc/resolv.conf */
} DnsResolverSettings;

/* ConfigParser of resolv_conf: "auto" or an absolute path, into the
 * DnsResolverSettings at DATA (resolv_conf and line). */
int config_parse_resolv_conf(ConfigContext *ctx, const ConfigItem *item, const char *value, void *data);

/* Defaults (resolv_conf = auto); frees. Init returns 0 or -ENOMEM. */
int dns_resolver_settings_init(DnsResolverSettings *s);
void dns_resolver_settings_done(DnsResolverSettings *s);

/* At load: resolves resolv_conf against the MTA (dns_resolv_conf_resolve()),
 * checks that the file can be read (an explicit path: an error; auto: the
 * run reports it), and gives advice when it differs from /etc/resolv.conf. Errors
 * through config_error(CTX, line, "resolv_conf", ...) with the key's line, or
 * SECTION_LINE when the key is not set. Returns 0,
 * -EINVAL, -ENOMEM. */
int dns_resolver_settings_finish(ConfigContext *ctx, unsigned section_line, DnsResolverSettings *s,
                                 const struct MtaProfile *prof, const void *mta_settings);

/* The file a run reads: path, else resolv_conf if absolute, else
 * /etc/resolv.conf. */
const char *dns_resolver_settings_file(const DnsResolverSettings *s);

/* For the reason of a failed run: "PATH, which differs from SYSTEM" when
 * the resolv.conf PATH the run read differs now (dns_resolv_conf_compare())
 * from SYSTEM (NULL: /etc/resolv.conf): a copy that went stale since the
 * MTA started shows so. Writes "" otherwise. */
void dns_resolv_conf_note(const char *path, const char *system, char *buf, size_t size);
