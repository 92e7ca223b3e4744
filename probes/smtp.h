/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "probe.h"

#define SMTP_DEFAULT_PORT 25

/* [probe:NAME] type = smtp: reachability of an SMTP server, judged by its
 * greeting (RFC 5321 4.2, 3.1): OK on 220. See probes/smtp.c. */
extern const struct probe_ops probe_smtp_ops;

/* Its settings: the section's keys besides type and timeout. */
typedef struct SmtpSettings {
        char *host;               /* host name or address literal ("192.0.2.1", "[2001:db8::1]"), required */
        uint16_t port;            /* TCP port, default 25 */
} SmtpSettings;
