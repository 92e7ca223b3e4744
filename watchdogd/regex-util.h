/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/* Refuse patterns whose compiled form would be larger than this many parts. */
#define REGEX_PARTS_MAX 10000U
#define REGEX_NEST_MAX 32

/* How many parts the regex compiler builds for the ERE P (regex(7)), roughly: glibc's
 * regcomp() copies a repeated atom for "+" (twice) and for "{m,n}" (max(m,n)+1 times),
 * so stacked or nested repetitions multiply ("a++++...", "((a{99}){99}){99}") and can
 * take gigabytes. Returns the estimate (saturating), or UINT64_MAX when groups nest
 * deeper than REGEX_NEST_MAX. Syntax errors are left to regcomp(). */
uint64_t regex_estimate_parts(const char *p);
