/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Webhook signing as in the Standard Webhooks specification
 * (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md,
 * "Signature scheme"): the signed content is "<webhook-id>.<webhook-timestamp>.<body>",
 * the signature HMAC-SHA256 with the secret's key, sent base64-encoded as
 * "webhook-signature: v1,<base64>". Secrets are written "whsec_<base64 of the key>". */

/* Decodes a secret in the "whsec_<base64>" form (surrounding whitespace
 * allowed). Returns 0 and a malloc'd key in *ret (*ret_size bytes),
 * -EBADMSG if S is not of that form or the key is empty, -ENOMEM. */
int webhook_secret_parse(const char *s, uint8_t **ret, size_t *ret_size);

/* Reads a secret from the file at PATH, which must be a regular file that
 * others (neither owner nor group) can access. Returns 0 and the key as
 * webhook_secret_parse(), -EPERM when others may read it, -EFBIG when it is
 * implausibly large, -EBADMSG, -ENOMEM or the errno of open/read. Logs
 * nothing; the secret is never part of an error. */
int webhook_secret_read_file(const char *path, uint8_t **ret, size_t *ret_size);

/* "v1,<base64 of HMAC-SHA256(key, id "." timestamp "." body)>", malloc'd;
 * TIMESTAMP is in Unix seconds. Returns NULL on ENOMEM or a libcrypto error. */
char *webhook_sign(const uint8_t *key, size_t key_size, const char *id, uint64_t timestamp,
                   const char *body, size_t body_size);
