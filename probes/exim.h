/* SPDX-License-Identifier: MIT */
#pragma once

#include "activity.h"

/* Exim's main log lines (Exim's specification, chapter "Log files"):
 * "=>", "->" sent, "**" bounced, "==" with "defer (N) H=" deferred after
 * talking to the host, "H=host [addr] Connection refused" a connection
 * error. See probes/exim.c. */
extern const ActivityRules exim_activity_rules;
