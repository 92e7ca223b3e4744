/* SPDX-License-Identifier: MIT */
/* Fixture trees for detection (watchdogd/detect.h reads the host's files
 * under a root directory): files, links and scripts under ROOT, made by
 * the test in its own temporary directory. Include after <cmocka.h>. */
#pragma once

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p of the directory part of ROOT/REL. */
static inline void fixture_mkdirs(const char *root, const char *rel) {
        char path[PATH_MAX];

        assert_true(snprintf(path, sizeof(path), "%s/%s", root, rel) < (int) sizeof(path));
        for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
                *p = '/';
        }
}

/* ROOT/REL (REL absolute, "/etc/x") with TEXT, mode MODE (0755 for a script). */
static inline void fixture_write(const char *root, const char *rel, const char *text, mode_t mode) {
        char path[PATH_MAX];
        FILE *f;

        fixture_mkdirs(root, rel + 1);
        assert_true(snprintf(path, sizeof(path), "%s%s", root, rel) < (int) sizeof(path));
        (void) unlink(path);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, mode), 0);
}

/* ROOT/REL as a symbolic link to TARGET (taken as is: relative or absolute). */
static inline void fixture_symlink(const char *root, const char *rel, const char *target) {
        char path[PATH_MAX];

        fixture_mkdirs(root, rel + 1);
        assert_true(snprintf(path, sizeof(path), "%s%s", root, rel) < (int) sizeof(path));
        (void) unlink(path);
        assert_int_equal(symlink(target, path), 0);
}

/* ROOT/REL removed, if there. */
static inline void fixture_remove(const char *root, const char *rel) {
        char path[PATH_MAX];

        assert_true(snprintf(path, sizeof(path), "%s%s", root, rel) < (int) sizeof(path));
        assert_true(unlink(path) == 0 || errno == ENOENT);
}

/* A dpkg status paragraph of an installed package providing mail-transport-agent. */
#define FIXTURE_DPKG_MTA(pkg) \
        "Package: " pkg "\nStatus: install ok installed\nPriority: extra\nVersion: 1\n" \
        "Provides: mail-transport-agent\nDescription: an MTA\n multi-line\n\n"
#define FIXTURE_DPKG_OTHER \
        "Package: libc6\nStatus: install ok installed\nProvides: libc6-x\nDescription: C\n\n"
