/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <string.h>

#include "text.h"

bool text_next_line(const char *buf, size_t size, size_t *pos, const char **ret, size_t *ret_len) {
        const char *nl;

        if (*pos >= size)
                return false;
        nl = memchr(buf + *pos, '\n', size - *pos);
        if (!nl)
                return false;
        *ret = buf + *pos;
        *ret_len = (size_t) (nl - *ret);
        *pos = (size_t) (nl - buf) + 1;
        return true;
}

bool text_parse_u64(const char *s, size_t n, uint64_t *ret) {
        uint64_t v = 0;

        if (n == 0 || n > 19)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char) s[i]))
                        return false;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        *ret = v;
        return true;
}

const char *text_shell_value(const char *line, size_t len, const char *var, size_t *ret_len) {
        size_t k = strlen(var);
        const char *v, *e;

        while (len > 0 && (*line == ' ' || *line == '\t')) {
                line++;
                len--;
        }
        if (len <= k || strncmp(line, var, k) != 0 || line[k] != '=')
                return NULL;
        v = line + k + 1;
        e = line + len;
        if (v < e && (*v == '\'' || *v == '"')) {
                const char *q = memchr(v + 1, *v, (size_t) (e - v - 1));

                if (!q)
                        return NULL;
                *ret_len = (size_t) (q - v - 1);
                return v + 1;
        }
        e = v;
        while (e < line + len && !strchr(" \t;#", *e))
                e++;
        *ret_len = (size_t) (e - v);
        return v;
}
