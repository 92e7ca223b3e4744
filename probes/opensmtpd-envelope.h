/* SPDX-License-Identifier: MIT */
#pragma once

/* OpenSMTPD's queue envelopes, read for the generic profile's
 * schedule_from = opensmtpd-envelope (README "The generic profile"). An
 * envelope is one file per recipient, queue/<bucket>/<msgid>/<evpid>
 * under /var/spool/smtpd (OpenSMTPD's queue_fs.c), of "field: value"
 * lines (envelope.c envelope_dump_buffer(), version 3 since 6.x, the same
 * in 7.x). Its next delivery attempt is kept only in the scheduler's
 * memory, and smtpctl(8) "show queue" answers root alone (control.c
 * refuses IMSG_CTL_LIST_ENVELOPES to any other euid), so it is computed
 * here from the file with the scheduler's own rule (scheduler_ramqueue.c
 * scheduler_backoff(), scheduler_next()). Pure: tests and the fuzzer call
 * it. */
#include <stddef.h>
#include <stdint.h>

/* The envelope's delivery type ("type:"): the scheduler's step. */
typedef enum OpensmtpdDelivery {
        OPENSMTPD_DELIVERY_MDA,            /* "mda": local delivery */
        OPENSMTPD_DELIVERY_MTA,            /* "mta": relayed to another host */
        OPENSMTPD_DELIVERY_BOUNCE,         /* "bounce": a report to the sender */
        _OPENSMTPD_DELIVERY_MAX,
} OpensmtpdDelivery;

/* scheduler_ramqueue.c: BACKOFF_TRANSFER (mta) and BACKOFF_DELIVERY (mda,
 * bounce), seconds. */
#define OPENSMTPD_BACKOFF_TRANSFER_SEC 400
#define OPENSMTPD_BACKOFF_DELIVERY_SEC 10

/* The scheduler reads its clock just after the envelope file was
 * rewritten (queue.c, the tempfail: the file first, then the scheduler's
 * update): a due time within this many seconds after the file's mtime is
 * taken as the next one, so that the answer is never earlier than the
 * scheduler's. */
#define OPENSMTPD_UPDATE_MARGIN_SEC 60

/* What the schedule needs of an envelope. */
typedef struct OpensmtpdEnvelope {
        OpensmtpdDelivery type;
        uint64_t ctime_sec;                /* "ctime:": when the message was queued, epoch seconds */
        uint32_t retry;                    /* "retry:": failed attempts so far */
} OpensmtpdEnvelope;

/* Parses the first SIZE bytes of an envelope file (BUF need not be
 * NUL-terminated; a line cut at SIZE is ignored). Needs "version: 3",
 * "type:" (mta, mda or bounce), "ctime:" (at most 2^40) and "retry:" (at
 * most 2^32 - 1), each once, as envelope.c writes them. Returns 0 and
 * fills RET, or -EBADMSG: not such an envelope (a compressed or encrypted
 * queue, smtpd.conf(5) "queue compression"/"queue encryption", another
 * version, a file cut short). */
int opensmtpd_envelope_parse(const char *buf, size_t size, OpensmtpdEnvelope *ret);

/* When OpenSMTPD tries envelope E next, epoch seconds, given WRITTEN_SEC,
 * the mtime of its file (rewritten at every failed attempt, queue.c). The
 * scheduler's rule: never tried (retry 0): at ctime (scheduler_ram_insert()
 * with step 0); else at ctime + B * k^2 (B 400 s for mta, 10 s otherwise)
 * for the least k >= retry that lies after its clock at the failure
 * (scheduler_ram_update() → scheduler_next()), taken here as WRITTEN_SEC +
 * OPENSMTPD_UPDATE_MARGIN_SEC. After a restart of smtpd the scheduler
 * starts again from ctime + B * retry^2 (scheduler_ram_insert()), which is
 * never later than this answer: the answer may be later than the
 * scheduler's time, never earlier. UINT64_MAX for a retry count too large
 * to compute (never due). */
uint64_t opensmtpd_envelope_next_try(const OpensmtpdEnvelope *e, uint64_t written_sec);
