/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "macros.h"

/* NULL-terminated lists of strings (argv-like) and small string tests. */

#define WHITESPACE " \t\n\r\f\v"

/* Frees L and its strings. Accepts NULL; returns NULL. */
char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);

/* Splits S on whitespace into a new NULL-terminated list (no quoting: the
 * words of an argv run without a shell). Returns 0, -ENOMEM. */
int strv_split(const char *s, char ***ret);

/* Appends S to the list *L (NULL: an empty one), taking S over; S is freed
 * when it cannot be appended. Returns 0, -ENOMEM (S NULL counts as one). */
int strv_push(char ***l, char *s);

/* A copy of the NULL-terminated list L (NULL: an empty list) into *RET.
 * Returns 0, -ENOMEM. */
int strv_copy(const char *const *l, char ***ret);

/* Number of strings in L (NULL: 0). */
size_t strv_length(char *const *l);

/* Whether S holds a control character (iscntrl(3)). */
bool string_has_cc(const char *s);

/* Whether S equals one of the strings of the NULL-terminated LIST. */
bool string_in(const char *s, const char *const *list);

/* strcmp() == 0 that accepts NULL (two NULLs are equal). */
bool streq_ptr(const char *a, const char *b);
