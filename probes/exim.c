/* SPDX-License-Identifier: MIT */
/* Exim 4. Its log rules are in probes/exim-log.c. */

#include "exim.h"
