/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Small readers of the MTAs' text files (spool headers, qf files, host
 * status files, shell-style defaults files), on buffers: no I/O. */

/* The line at *POS of BUF (SIZE bytes) without its '\n': true, *RET and
 * *RET_LEN set and *POS moved past it; false at the end or for a last line
 * without '\n' (a file cut short: not read). */
bool text_next_line(const char *buf, size_t size, size_t *pos, const char **ret, size_t *ret_len);

/* N decimal digits at S (1 to 19, nothing else): true and the value in *RET. */
bool text_parse_u64(const char *s, size_t n, uint64_t *ret);

/* The value of VAR in a shell assignment line (LINE, LEN bytes: `VAR=value`,
 * `VAR='value'`, `VAR="value"`, as /etc/default/exim4 and
 * /etc/mail/sendmail.conf write them; an unquoted value ends at a blank,
 * ';' or '#'): a pointer into LINE and its length in *RET_LEN, or NULL when
 * the line does not assign VAR or a quote is not closed. */
const char *text_shell_value(const char *line, size_t len, const char *var, size_t *ret_len);
