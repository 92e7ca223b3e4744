/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "regex-util.h"


static uint64_t parts_mul(uint64_t a, uint64_t b) {
        return a > 0 && b > UINT64_MAX / 1024 / a ? UINT64_MAX / 1024 : a * b;
}

uint64_t regex_estimate_parts(const char *p) {
        struct { uint64_t total, last; } st[REGEX_NEST_MAX + 1] = {};
        unsigned depth = 0;

        for (; *p; p++) {
                uint64_t atom = 1;

                switch (*p) {
                case '(':
                        if (++depth > REGEX_NEST_MAX)
                                return UINT64_MAX;
                        st[depth].total = st[depth].last = 0;
                        continue;
                case ')':
                        if (depth == 0)
                                break;  /* a literal ")" */
                        atom = MAX_OF(st[depth].total + st[depth].last, (uint64_t) 1);
                        depth--;
                        break;
                case '|':
                        st[depth].total += st[depth].last;
                        st[depth].last = 0;
                        continue;
                case '*':
                case '?':
                        continue;
                case '+':
                        st[depth].last = parts_mul(st[depth].last, 2);
                        continue;
                case '{': {
                        char *end;
                        unsigned long m = strtoul(p + 1, &end, 10), n = m;

                        if (end == p + 1)
                                break;  /* not an interval: a literal "{" */
                        if (*end == ',')
                                n = end[1] == '}' ? m + 1 : strtoul(end + 1, &end, 10);
                        st[depth].last = parts_mul(st[depth].last, (uint64_t) MAX_OF(m, n) + 1);
                        p = strchrnul(p, '}');
                        if (!*p)
                                p--;
                        continue;
                }
                case '\\':
                        if (p[1])
                                p++;
                        break;
                case '[':
                        /* a bracket expression: "]" first (after "^") is a member */
                        p++;
                        if (*p == '^')
                                p++;
                        if (*p == ']')
                                p++;
                        for (; *p && *p != ']'; p++)
                                if (*p == '[' && (p[1] == ':' || p[1] == '=' || p[1] == '.')) {
                                        const char *close = strstr(p + 2, (char[]) { p[1], ']', 0 });
                                        p = close ? close + 1 : p + 1;
                                }
                        if (!*p)
                                p--;
                        break;
                default:
                        break;
                }
                st[depth].total += st[depth].last;
                st[depth].last = atom;
                if (st[depth].total > UINT64_MAX / 2)
                        return UINT64_MAX;
        }
        /* Groups left open: regcomp() rejects them, but only after building what
         * came before the end, so they count as closed here. */
        for (; depth > 0; depth--) {
                uint64_t atom = MAX_OF(st[depth].total + st[depth].last, (uint64_t) 1);

                st[depth - 1].total += st[depth - 1].last;
                st[depth - 1].last = atom;
        }
        return st[0].total + st[0].last;
}

