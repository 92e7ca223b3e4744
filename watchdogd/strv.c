/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

char **strv_free(char **l) {
        if (!l)
                return NULL;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
        return NULL;
}

int strv_push(char ***l, char *s) {
        size_t n = strv_length(*l);
        char **t;

        if (!s)
                return -ENOMEM;
        t = reallocarray(*l, n + 2, sizeof(char *));
        if (!t) {
                free(s);
                return -ENOMEM;
        }
        t[n] = s;
        t[n + 1] = NULL;
        *l = t;
        return 0;
}

int strv_copy(const char *const *l, char ***ret) {
        _cleanup_(strv_freep) char **c = calloc(1, sizeof(char *));

        if (!c)
                return -ENOMEM;
        for (const char *const *i = l; i && *i; i++)
                if (strv_push(&c, strdup(*i)) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

int strv_split(const char *s, char ***ret) {
        _cleanup_(strv_freep) char **l = NULL;

        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;

        for (;;) {
                size_t len;

                s += strspn(s, WHITESPACE);
                if (*s == '\0')
                        break;
                len = strcspn(s, WHITESPACE);

                if (strv_push(&l, strndup(s, len)) < 0)
                        return -ENOMEM;
                s += len;
        }

        *ret = TAKE_PTR(l);
        return 0;
}

bool string_has_cc(const char *s) {
        for (; *s; s++)
                if (iscntrl((unsigned char) *s))
                        return true;
        return false;
}

bool string_in(const char *s, const char *const *list) {
        for (; *list; list++)
                if (strcmp(s, *list) == 0)
                        return true;
        return false;
}

size_t strv_length(char *const *l) {
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

bool streq_ptr(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}
