/* SPDX-License-Identifier: MIT */
#pragma once

#include "exim-log.h"
