/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Detection of the host's MTA for [mta] type = auto, and of the relay it
 * sends through for the derived reachability probes (README "Detection";
 * sources: the Debian packages, checked on Debian 12). Every file is read
 * under ROOT ("/" on a host; a fixture tree in tests), every value keeps
 * where it came from. Runs at configuration load only: it blocks (at most
 * DETECT_COMMAND_TIMEOUT_USEC for `postconf`). */

#define DETECT_COMMAND_TIMEOUT_USEC (2 * 1000000ULL)
#define DETECT_RELAYS_MAX 8          /* relays kept of a list; the first is probed */
#define DETECT_HOST_MAX 256          /* a host name of RFC 1035's 255 octets and a NUL */
#define DETECT_SOURCE_MAX 160
#define DETECT_VALUE_MAX 256
#define DETECT_DEFAULT_CANARY_DOMAIN "gmail.com"

/* One value and where it came from: a file ("/etc/exim4/update-exim4.conf.conf:12"),
 * a command ("postconf -h relayhost"), or "default". Empty value: not known. */
typedef struct DetectValue {
        char value[DETECT_VALUE_MAX];
        char source[DETECT_SOURCE_MAX];
} DetectValue;

typedef struct DetectRelay {
        char host[DETECT_HOST_MAX];  /* name or address, IPv6 without brackets */
        uint16_t port;
} DetectRelay;

typedef enum DetectRelayState {
        DETECT_RELAY_UNKNOWN,        /* the MTA's configuration could not be read (reason in relay.source) */
        DETECT_RELAY_NONE,           /* the MTA delivers to MX hosts itself */
        DETECT_RELAY_FOUND,          /* relays[0..n_relays) */
} DetectRelayState;

typedef struct Detection {
        char mta[16];                /* "postfix", "exim", "sendmail", "nullmailer", "opensmtpd" */
        const char *type;            /* its [mta] type: postfix, exim, sendmail, generic */
        const char *preset;          /* generic: the shipped example's text (its [mta] keys
                                      * apply where the file sets none); else NULL */
        const char *preset_name;     /* "mta-watchdog-nullmailer.ini" */
        DetectValue package;         /* "postfix" from "/var/lib/dpkg/status:LINE" */
        char sendmail[DETECT_VALUE_MAX]; /* what /usr/sbin/sendmail is, for messages */
        DetectValue unit, queue_directory, queue_interval;  /* "" where the profile decides */
        DetectValue relay;           /* "192.0.2.2:25" (a list: "a:25 b:587"), "none", or ""
                                      * with the reason in source (DETECT_RELAY_UNKNOWN) */
        DetectRelayState relay_state;
        DetectRelay relays[DETECT_RELAYS_MAX];
        size_t n_relays;
} Detection;

/* Which MTA runs here: the package that provides mail-transport-agent in
 * ROOT/var/lib/dpkg/status ("Status: WANT ok installed": install, hold or
 * deinstall; Debian Policy 7.5: at most one), cross-checked with ROOT/usr/sbin/sendmail (symbolic
 * links followed inside ROOT; its owner from ROOT/var/lib/dpkg/info/
 * *.list). Fills D's mta, type, preset, package and sendmail. Returns 0;
 * -ENOPKG with ERROR naming what was found when it cannot be watched (an
 * MTA without a profile or preset, none installed, dpkg and the binary
 * disagreeing); -ENOMEM; another negative errno with ERROR when dpkg's
 * status cannot be read. */
int detect_mta(const char *root, Detection *d, char *error, size_t error_size);

/* The relay(s) D's MTA sends through, from its own configuration under
 * ROOT: Postfix `postconf -h relayhost` (ROOT/usr/sbin/postconf, run with
 * a DETECT_COMMAND_TIMEOUT_USEC cap), Exim ROOT/etc/exim4/update-exim4.conf.conf,
 * Sendmail the DS line of ROOT/etc/mail/sendmail.cf, nullmailer
 * ROOT/etc/nullmailer/remotes, OpenSMTPD "relay host" of ROOT/etc/smtpd.conf;
 * also the unit, queue directory and queue interval where they are read
 * here (D->unit... left empty where the profile computes them). D->mta
 * must be set. Returns 0 with relay_state FOUND or NONE; 0 with
 * DETECT_RELAY_UNKNOWN and the reason in relay.source when the
 * configuration cannot be read (not installed, not readable, postconf
 * failed); -EINVAL with ERROR naming file, line and the value when it
 * cannot be parsed; -ENOMEM. */
int detect_relay(const char *root, Detection *d, char *error, size_t error_size);

/* Relay syntax, each into RET (at most MAX entries, *N_RET set). Return
 * 0, or -EINVAL with ERROR describing the element (no file: the caller
 * adds it). An empty list is 0 with *N_RET = 0 (direct delivery). */
/* Postfix relayhost (postconf(5)): "[host]:port", "[host]", "host:port",
 * "host", "[ipv6:2001:db8::1]:587", separated by commas or blanks; ports
 * by number or by name (smtp, submission, submissions and their
 * aliases in Debian's /etc/services: mail, smtps, ssmtp, urd). */
int detect_parse_postfix_relays(const char *s, DetectRelay *ret, size_t max, size_t *n_ret,
                                char *error, size_t error_size);
/* Exim dc_smarthost (debconf exim4/dc_smarthost, update-exim4.conf(8)):
 * hosts separated by ':' or ';', a port after "::", the colons of an IPv6
 * address doubled ("2001::db8::::1", "[2001::db8::::1]::587"). */
int detect_parse_exim_relays(const char *s, DetectRelay *ret, size_t max, size_t *n_ret,
                             char *error, size_t error_size);
/* Sendmail's DS value (cf/README SMART_HOST): "", "[host]", "host",
 * "mailer:[host]" (relay:, esmtp:, smtp:...), "[IPv6:2001:db8::1]"; port 25. */
int detect_parse_sendmail_relay(const char *s, DetectRelay *ret, size_t max, size_t *n_ret,
                                char *error, size_t error_size);
/* One line of nullmailer's remotes (nullmailer-send(8)): "host protocol
 * [--port=N] [--ssl] ..."; smtp 25 (465 with --ssl), qmqp 628. */
int detect_parse_nullmailer_remote(const char *s, DetectRelay *ret, size_t max, size_t *n_ret,
                                   char *error, size_t error_size);
/* [mta] relay = HOST, HOST:PORT, [HOST]:PORT, [IPv6]:PORT (port 25 when
 * not given): one relay. */
int detect_parse_relay_setting(const char *s, DetectRelay *ret, char *error, size_t error_size);

/* "host:port", "[v6]:port" into BUF. Returns BUF. */
const char *detect_relay_format(const DetectRelay *r, char *buf, size_t size);

/* The reachability probes derived when the file has no [probe:NAME]
 * (README "Detection"): a relay → [probe:relay] type smtp, host, port;
 * none → [probe:canary-mx] type dns, name, record = mx, and
 * [probe:canary-smtp] type tcp, mx_of, port = 25. */
#define DETECT_PROBE_KEYS_MAX 3
typedef struct DetectProbe {
        const char *name;
        const char *type;
        struct {
                const char *key;
                char value[DETECT_HOST_MAX];
        } keys[DETECT_PROBE_KEYS_MAX];
        size_t n_keys;
} DetectProbe;

/* Fills RET (room for 2) with the probes for RELAY (NULL: none, the
 * canary probes for CANARY_DOMAIN). Returns how many. */
size_t detect_probe_plan(const DetectRelay *relay, const char *canary_domain, DetectProbe ret[static 2]);

/* The built-in presets: "nullmailer" and "opensmtpd" give the text of the
 * shipped etc/mta-watchdog-NAME.ini (built in at compile time) and its
 * file name in *RET_NAME; NULL for others. */
const char *detect_preset(const char *mta, const char **ret_name);

/* Whether S is a host name (letters, digits, '-', '.', '_', at most 253
 * characters, no empty label) or an IP address literal. */
bool detect_host_valid(const char *s);
