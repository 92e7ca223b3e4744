/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macros.h"
#include "sign.h"

#define SECRET_PREFIX "whsec_"
#define SECRET_FILE_MAX 4096

/* Wipes S before freeing it: key material should not linger on the heap. */
static void erase_and_free(char *s, size_t n) {
        if (!s)
                return;
        explicit_bzero(s, n);
        free(s);
}

int webhook_secret_parse(const char *s, uint8_t **ret, size_t *ret_size) {
        size_t len, pad = 0;
        uint8_t *key;
        int n;

        if (!s || !ret || !ret_size)
                return -EINVAL;

        s += strspn(s, " \t\r\n");
        if (strncmp(s, SECRET_PREFIX, strlen(SECRET_PREFIX)) != 0)
                return -EBADMSG;
        s += strlen(SECRET_PREFIX);

        len = strcspn(s, " \t\r\n");
        if (s[len + strspn(s + len, " \t\r\n")] != '\0')
                return -EBADMSG;
        if (len == 0 || len % 4 != 0 || len > INT32_MAX)
                return -EBADMSG;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == '=') {
                        if (i < len - 2)
                                return -EBADMSG;
                        pad++;
                } else if (pad > 0 || !(isalnum(c) || c == '+' || c == '/'))
                        return -EBADMSG;
        }

        key = malloc(len / 4 * 3 + 1);
        if (!key)
                return -ENOMEM;
        /* EVP_DecodeBlock() counts padding as zero bytes; take them off. */
        n = EVP_DecodeBlock(key, (const unsigned char *) s, (int) len);
        if (n < 0 || (size_t) n < pad || (size_t) n - pad == 0) {
                erase_and_free((char *) key, len / 4 * 3 + 1);
                return -EBADMSG;
        }

        *ret = key;
        *ret_size = (size_t) n - pad;
        return 0;
}

int webhook_secret_read_file(const char *path, uint8_t **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        char *buf;
        size_t len = 0;
        int r;

        /* O_NONBLOCK: a FIFO named here must not hang the config load (it is refused below). */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (st.st_mode & S_IRWXO)
                return -EPERM;
        if (st.st_size > SECRET_FILE_MAX)
                return -EFBIG;

        buf = calloc(1, SECRET_FILE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf + len, SECRET_FILE_MAX - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        erase_and_free(buf, SECRET_FILE_MAX + 1);
                        return r;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len >= SECRET_FILE_MAX) {
                        erase_and_free(buf, SECRET_FILE_MAX + 1);
                        return -EFBIG;
                }
        }

        r = webhook_secret_parse(buf, ret, ret_size);
        erase_and_free(buf, SECRET_FILE_MAX + 1);
        return r;
}

char *webhook_sign(const uint8_t *key, size_t key_size, const char *id, uint64_t timestamp,
                   const char *body, size_t body_size) {
        _cleanup_free_ char *content = NULL;
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned mac_len = 0;
        char ts[24], *sig;
        size_t n;

        if (!key || key_size == 0 || key_size > INT32_MAX || !id || !body)
                return NULL;

        (void) snprintf(ts, sizeof ts, "%" PRIu64, timestamp);
        n = strlen(id) + 1 + strlen(ts) + 1 + body_size;
        content = malloc(n + 1);
        if (!content)
                return NULL;
        (void) snprintf(content, n + 1, "%s.%s.", id, ts);
        memcpy(content + strlen(id) + 1 + strlen(ts) + 1, body, body_size);

        if (!HMAC(EVP_sha256(), key, (int) key_size, (const unsigned char *) content, n, mac, &mac_len))
                return NULL;

        sig = malloc(3 + 4 * ((mac_len + 2) / 3) + 1);
        if (!sig)
                return NULL;
        memcpy(sig, "v1,", 3);
        (void) EVP_EncodeBlock((unsigned char *) sig + 3, mac, (int) mac_len);
        return sig;
}
