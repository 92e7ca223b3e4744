/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer's entry points (declared here for -Wmissing-prototypes). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test; unlike assert() it stays in
 * release builds, and the abort is what libFuzzer reports as a crash. */
#define FUZZ_CHECK(expr)                                                                  \
        do {                                                                              \
                if (!(expr)) {                                                            \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                          \
                }                                                                         \
        } while (0)
