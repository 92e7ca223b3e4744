/* SPDX-License-Identifier: MIT */
/* The dns probe against a DNS responder on 127.0.0.1 (tests/dns-responder.h),
 * through a resolv.conf in a temporary directory; its keys through
 * config_load(); the resolv.conf the MTA reads (resolv_conf = auto). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf-parser.h"
#include "config.h"
#include "dns-responder.h"
#include "dns.h"
#include "macros.h"
#include "mta.h"
#include "postfix.h"
#include "probe-harness.h"
#include "probe.h"
#include "tcp.h"
#include "tests.h"

static const DnsTestRecord zone[] = {
        DNS_MX("canary.test", 10, "mx1.canary.test"),
        DNS_MX("canary.test", 20, "mx2.canary.test"),
        DNS_A("mx1.canary.test", "127.0.0.1"),
        DNS_A("mx2.canary.test", "127.0.0.2"),
        DNS_AAAA("v6only.test", "::1"),
        DNS_MX("nullmx.test", 0, ""),
        DNS_RCODE("broken.test", ns_r_servfail),
        DNS_RCODE("refusing.test", ns_r_refused),
        DNS_SILENT("silent.test"),
        {},
};

static DnsResponder responder;

static int setup(void **state) {
        dns_responder_start(&responder, zone, NULL);
        return 0;
}

static int teardown(void **state) {
        dns_responder_stop(&responder);
        return 0;
}

/* One run of a dns probe for NAME and RECORD through the responder. */
/* SYSTEM: the file the probe's resolv.conf is compared with; NULL: the
 * same file (no difference to report). */
static ProbeRun dns_once(const char *name, const char *record, const char *system, uint64_t timeout_usec) {
        DnsSettings s = {
                .name = (char *) name,
                .record = (char *) record,
                .resolver = { .path = responder.resolv_conf, .port = responder.port,
                              .system = (char *) (system ?: responder.resolv_conf) },
        };
        sd_event *e = NULL;
        Probe *p = NULL;
        ProbeRun res;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(probe_new_on(e, &probe_dns_ops, "dns-test", timeout_usec, &s, &p), 0);
        probe_run(e, p, &res);
        probe_free(p);
        sd_event_unref(e);
        return res;
}

static void expect(const ProbeRun *res, ProbeStatus status, ProbeOutcome outcome, const char *reason) {
        assert_string_equal(res->r.reason, reason);
        assert_int_equal(res->r.status, status);
        assert_int_equal(res->r.outcome, outcome);
}

static void test_mx_ok(void **state) {
        ProbeRun res = dns_once("canary.test", "mx", NULL, 5 * USEC_PER_SEC);

        expect(&res, PROBE_OK, PROBE_OUTCOME_OK, "MX canary.test: 2 records");
}

static void test_mx_default_record(void **state) {
        ProbeRun res = dns_once("canary.test", NULL, NULL, 5 * USEC_PER_SEC);

        expect(&res, PROBE_OK, PROBE_OUTCOME_OK, "MX canary.test: 2 records");
}

static void test_a_and_aaaa(void **state) {
        ProbeRun res = dns_once("mx2.canary.test", "a", NULL, 5 * USEC_PER_SEC);

        expect(&res, PROBE_OK, PROBE_OUTCOME_OK, "A mx2.canary.test: 1 record");
        res = dns_once("v6only.test", "aaaa", NULL, 5 * USEC_PER_SEC);
        expect(&res, PROBE_OK, PROBE_OUTCOME_OK, "AAAA v6only.test: 1 record");
        res = dns_once("v6only.test", "a", NULL, 5 * USEC_PER_SEC);
        expect(&res, PROBE_FAIL, PROBE_OUTCOME_DNS_FAILURE, "A v6only.test: NODATA");
}

/* record = address: A, and AAAA when there is no A record. */
static void test_address(void **state) {
        ProbeRun res = dns_once("mx1.canary.test", "address", NULL, 5 * USEC_PER_SEC);

        expect(&res, PROBE_OK, PROBE_OUTCOME_OK, "A mx1.canary.test: 1 record");
        res = dns_once("v6only.test", "address", NULL, 5 * USEC_PER_SEC);
        expect(&res, PROBE_OK, PROBE_OUTCOME_OK, "AAAA v6only.test: 1 record");
        res = dns_once("canary.test", "address", NULL, 5 * USEC_PER_SEC);
        expect(&res, PROBE_FAIL, PROBE_OUTCOME_DNS_FAILURE, "AAAA canary.test: NODATA (no A or AAAA record)");
}

static void test_nxdomain(void **state) {
        ProbeRun res = dns_once("nowhere.test", "mx", NULL, 5 * USEC_PER_SEC);

        expect(&res, PROBE_FAIL, PROBE_OUTCOME_DNS_FAILURE, "MX nowhere.test: NXDOMAIN");
}

static void test_nodata(void **state) {
        ProbeRun res = dns_once("mx1.canary.test", "mx", NULL, 5 * USEC_PER_SEC);

        expect(&res, PROBE_FAIL, PROBE_OUTCOME_DNS_FAILURE, "MX mx1.canary.test: NODATA");
}

static void test_servfail_refused(void **state) {
        ProbeRun res = dns_once("broken.test", "mx", NULL, 5 * USEC_PER_SEC);

        expect(&res, PROBE_FAIL, PROBE_OUTCOME_DNS_FAILURE, "MX broken.test: SERVFAIL");
        res = dns_once("refusing.test", "a", NULL, 5 * USEC_PER_SEC);
        expect(&res, PROBE_FAIL, PROBE_OUTCOME_DNS_FAILURE, "A refusing.test: REFUSED");
}

/* RFC 7505: "0 ." says the domain takes no mail: no use as a canary. */
static void test_null_mx(void **state) {
        ProbeRun res = dns_once("nullmx.test", "mx", NULL, 5 * USEC_PER_SEC);

        expect(&res, PROBE_FAIL, PROBE_OUTCOME_DNS_FAILURE,
               "MX nullmx.test: null MX (RFC 7505): the domain accepts no mail");
}

/* No answer: the run ends at its deadline, as a timeout. */
static void test_no_answer_times_out(void **state) {
        unsigned before = atomic_load(&responder.queries);
        uint64_t start = now_usec(), elapsed;
        ProbeRun res = dns_once("silent.test", "mx", NULL, 300 * USEC_PER_MSEC);

        elapsed = now_usec() - start;
        expect(&res, PROBE_FAIL, PROBE_OUTCOME_TIMEOUT, "timed out after 300ms");
        assert_true(elapsed >= 300 * USEC_PER_MSEC);
        assert_true(atomic_load(&responder.queries) > before);  /* it was asked */
}

/* Open file descriptors of this process. */
static unsigned count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        unsigned n = 0;

        assert_non_null(d);
        while (readdir(d))
                n++;
        assert_int_equal(closedir(d), 0);
        return n;
}

/* Runs loop E for about USEC, whatever comes. */
static void loop_for(sd_event *e, uint64_t usec) {
        uint64_t start = now_usec();

        while (now_usec() - start < usec)
                assert_true(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
}

/* Runs cancelled while c-ares has a query in flight (the next round
 * overlapping, the probe freed at reload or shutdown): each ends once,
 * as overlapped, and no socket or timer is left behind. */
static void test_cancel_in_flight(void **state) {
        const struct probe_ops *ops[] = { &probe_dns_ops, &probe_tcp_ops };
        DnsSettings ds = {
                .name = (char *) "silent.test",
                .record = (char *) "mx",
                .resolver = { .path = responder.resolv_conf, .port = responder.port,
                              .system = responder.resolv_conf },
        };
        TcpSettings ts = {
                .mx_of = { .value = (char *) "silent.test" },
                .port = 25,
                .resolver = { .path = responder.resolv_conf, .port = responder.port,
                              .system = responder.resolv_conf },
        };
        const void *settings[] = { &ds, &ts };
        unsigned before = count_fds();

        for (size_t k = 0; k < ELEMENTSOF(ops); k++) {
                sd_event *e = NULL;
                Probe *p = NULL;
                ProbeRun runs[2];

                assert_int_equal(sd_event_new(&e), 0);
                assert_int_equal(probe_new_on(e, ops[k], "cancel-test", 5 * USEC_PER_SEC, settings[k], &p), 0);
                for (unsigned i = 0; i < 10; i++) {
                        unsigned queries = atomic_load(&responder.queries);
                        ProbeRun *cur = &runs[i % 2], *prev = &runs[(i + 1) % 2];

                        *cur = (ProbeRun) {};
                        assert_int_equal(probe_start(p, probe_run_done, cur), 0);
                        if (i > 0) {
                                assert_int_equal(prev->calls, 1);
                                assert_int_equal(prev->r.outcome, PROBE_OUTCOME_OVERLAPPED);
                        }
                        /* until the query is out (the responder saw it) */
                        for (unsigned j = 0; j < 100 && atomic_load(&responder.queries) == queries; j++)
                                loop_for(e, 10 * USEC_PER_MSEC);
                        assert_true(atomic_load(&responder.queries) > queries);
                        assert_int_equal(cur->calls, 0);
                }
                p = probe_free(p);      /* in flight: no callback, nothing left */
                loop_for(e, 50 * USEC_PER_MSEC);
                assert_int_equal(runs[1].calls, 0);
                sd_event_unref(e);
                assert_int_equal(count_fds(), before);
        }
}

/* The resolv.conf read differs from the system's: a failure's reason says so. */
static void test_note_in_reason(void **state) {
        _cleanup_free_ char *system = NULL, *expected = NULL;
        FILE *f;

        assert_true(asprintf(&system, "%s/system-resolv.conf", responder.dir) > 0);
        f = fopen(system, "we");
        assert_non_null(f);
        fputs("nameserver 192.0.2.1\n", f);
        assert_int_equal(fclose(f), 0);

        ProbeRun res = dns_once("nowhere.test", "mx", system, 5 * USEC_PER_SEC);
        assert_true(asprintf(&expected, "MX nowhere.test: NXDOMAIN (through %s, which differs from %s)",
                             responder.resolv_conf, system) > 0);
        expect(&res, PROBE_FAIL, PROBE_OUTCOME_DNS_FAILURE, expected);
        res = dns_once("canary.test", "mx", system, 5 * USEC_PER_SEC);
        expect(&res, PROBE_OK, PROBE_OUTCOME_OK, "MX canary.test: 2 records");
        assert_int_equal(unlink(system), 0);
}

static void test_resolv_conf_missing(void **state) {
        DnsSettings s = {
                .name = (char *) "canary.test",
                .resolver = { .path = (char *) "/nonexistent/resolv.conf" },
        };
        sd_event *e = NULL;
        Probe *p = NULL;
        ProbeRun res;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(probe_new_on(e, &probe_dns_ops, "dns-test", USEC_PER_SEC, &s, &p), 0);
        probe_run(e, p, &res);
        expect(&res, PROBE_UNKNOWN, PROBE_OUTCOME_LOCAL_ERROR,
               "cannot read /nonexistent/resolv.conf: No such file or directory");
        probe_free(p);
        sd_event_unref(e);
}

static void test_bad_settings(void **state) {
        DnsSettings none = {}, bad = { .name = (char *) "x", .record = (char *) "txt" };
        sd_event *e = NULL;
        Probe *p = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(probe_new_on(e, &probe_dns_ops, "x", USEC_PER_SEC, &none, &p), -EINVAL);
        assert_int_equal(probe_new_on(e, &probe_dns_ops, "x", USEC_PER_SEC, &bad, &p), -EINVAL);
        assert_null(p);
        assert_int_equal(probe_dns_ops.kind, PROBE_KIND_REACHABILITY);
        sd_event_unref(e);
}

/* Two resolv.conf files compared on name servers, search list, options. */
static void test_resolv_conf_compare(void **state) {
        char dir[] = "/tmp/test-dns-cmp-XXXXXX", a[64], b[64], buf[512];
        FILE *f;

        assert_non_null(mkdtemp(dir));
        (void) snprintf(a, sizeof(a), "%s/a", dir);
        (void) snprintf(b, sizeof(b), "%s/b", dir);
        f = fopen(a, "we");
        assert_non_null(f);
        fputs("# the chroot's copy\nnameserver 192.0.2.53\nsearch example.net\noptions ndots:2\n", f);
        assert_int_equal(fclose(f), 0);
        f = fopen(b, "we");
        assert_non_null(f);
        fputs("nameserver 127.0.0.53\noptions ndots:2\n", f);
        assert_int_equal(fclose(f), 0);

        assert_int_equal(dns_resolv_conf_compare(a, b, buf, sizeof(buf)), 1);
        char expected[512];
        (void) snprintf(expected, sizeof(expected),
                        "%s (nameserver 192.0.2.53; search example.net), not %s (nameserver 127.0.0.53; search none)",
                        a, b);
        assert_string_equal(buf, expected);

        /* the same servers, search and options, other comments and blanks */
        f = fopen(b, "we");
        assert_non_null(f);
        fputs("domain other.example\nsearch  example.net\n  nameserver 192.0.2.53\t\noptions ndots:2\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(dns_resolv_conf_compare(a, b, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "");
        assert_int_equal(dns_resolv_conf_compare(a, a, buf, sizeof(buf)), 0);
        assert_int_equal(dns_resolv_conf_compare("/nonexistent/resolv.conf", b, buf, sizeof(buf)), -ENOENT);

        (void) unlink(a);
        (void) unlink(b);
        (void) rmdir(dir);
}

/* resolv_conf = auto for Postfix: smtp(8) chrooted in master.cf reads the
 * copy under the queue directory (MtaProfile.resolv_conf). */
static void test_postfix_resolv_conf(void **state) {
        char dir[] = "/tmp/test-dns-pf-XXXXXX", master[96], etc[96], copy[128], buf[256], expected[160];
        PostfixSettings s = {};
        FILE *f;

        assert_non_null(mkdtemp(dir));
        (void) snprintf(master, sizeof(master), "%s/master.cf", dir);
        (void) snprintf(etc, sizeof(etc), "%s/etc", dir);
        (void) snprintf(copy, sizeof(copy), "%s/etc/resolv.conf", dir);
        s.queue_directory = dir;
        s.master_cf_path = master;
        (void) snprintf(expected, sizeof(expected), "%s/etc/resolv.conf", dir);

        /* Debian 12's master.cf: chroot y */
        f = fopen(master, "we");
        assert_non_null(f);
        fputs("# service type  private unpriv  chroot  wakeup  maxproc command + args\n"
              "smtp      inet  n       -       y       -       -       smtpd\n"
              "smtp      unix  -       -       y       -       -       smtp\n"
              "relay     unix  -       -       y       -       -       smtp\n"
              "        -o syslog_name=postfix/$service_name\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(mta_profile_postfix.resolv_conf(&s, buf, sizeof(buf)), 1);
        assert_string_equal(buf, expected);
        assert_int_equal(dns_resolv_conf_resolve("auto", &mta_profile_postfix, &s, buf, sizeof(buf)), 0);
        assert_string_equal(buf, expected);
        assert_int_equal(dns_resolv_conf_resolve("/etc/other.conf", &mta_profile_postfix, &s, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "/etc/other.conf");

        /* not chrooted ("-" is "n" since Postfix 3.0): the system's */
        f = fopen(master, "we");
        assert_non_null(f);
        fputs("smtp      unix  -       -       -       -       -       smtp\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(mta_profile_postfix.resolv_conf(&s, buf, sizeof(buf)), 0);
        assert_int_equal(dns_resolv_conf_resolve(NULL, &mta_profile_postfix, &s, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "/etc/resolv.conf");

        /* no master.cf: the copy counts where it exists */
        assert_int_equal(unlink(master), 0);
        assert_int_equal(mta_profile_postfix.resolv_conf(&s, buf, sizeof(buf)), 0);
        assert_int_equal(mkdir(etc, 0755), 0);
        f = fopen(copy, "we");
        assert_non_null(f);
        fputs("nameserver 192.0.2.53\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(mta_profile_postfix.resolv_conf(&s, buf, sizeof(buf)), 1);
        assert_string_equal(buf, expected);

        /* no MTA, or one without a view of its own: the system's */
        assert_int_equal(dns_resolv_conf_resolve("auto", NULL, NULL, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "/etc/resolv.conf");

        (void) unlink(copy);
        (void) rmdir(etc);
        (void) rmdir(dir);
}

/* config_load() with stderr captured: returns what was logged. */
static char *config_dir;

static char *write_file(const char *name, const char *text) {
        char *path = NULL;
        FILE *f;

        assert_true(asprintf(&path, "%s/%s", config_dir, name) > 0);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
        return path;
}

static int load_captured(const char *text, Config **ret, char **ret_path, char **ret_log) {
        _cleanup_free_ char *log_path = NULL;
        char *path = write_file("mta-watchdog.ini", text);
        int saved, r;

        assert_true(asprintf(&log_path, "%s/stderr", config_dir) > 0);
        saved = stderr_redirect(log_path);
        r = config_load(path, ret);
        *ret_log = stderr_restore(saved, log_path);
        *ret_path = path;
        return r;
}

#define MTA "[mta]\ntype = postfix\nunit = postfix@-.service\n"

/* TEXT fails to load with exactly "PATH" MESSAGE "\n" logged. */
static void check_error(const char *text, const char *message) {
        _cleanup_free_ char *path = NULL, *log = NULL, *expected = NULL;
        Config *c = NULL;

        assert_int_equal(load_captured(text, &c, &path, &log), -EINVAL);
        assert_null(c);
        assert_true(asprintf(&expected, "%s%s\n", path, message) > 0);
        assert_string_equal(log, expected);
}

static void test_config_errors(void **state) {
        check_error(MTA "[probe:c]\ntype = dns\nname = canary.test\nrecord = txt\n",
                    ":7: [probe:c] record: unsupported value \"txt\" (supported: mx, a, aaaa, address)");
        check_error(MTA "[probe:c]\ntype = dns\nrecord = mx\n", ":4: [probe:c] name: missing required key");
        check_error(MTA "[probe:c]\ntype = dns\nname = canary.test\nresolv_conf = resolv.conf\n",
                    ":7: [probe:c] resolv_conf: \"resolv.conf\" is not an absolute path");
        check_error(MTA "[probe:c]\ntype = dns\nname = canary.test\nresolv_conf = /nonexistent/resolv.conf\n",
                    ":7: [probe:c] resolv_conf: cannot read /nonexistent/resolv.conf: No such file or directory");
        check_error(MTA "[probe:c]\ntype = tcp\nhost = 192.0.2.1\nmx_of = canary.test\n",
                    ":7: [probe:c] mx_of: host is set too (line 6): set one of host and mx_of");
        check_error(MTA "[probe:c]\ntype = tcp\nport = 25\n", ":4: [probe:c] host: missing: set host or mx_of");
        check_error(MTA "[probe:c]\ntype = tcp\nmx_of = canary.test\nport = 0\n",
                    ":7: [probe:c] port: 0 is out of range (1..65535)");
        check_error(MTA "[probe:c]\ntype = dns\nname = canary.test\nmx_of = canary.test\n",
                    ":7: [probe:c] mx_of: unknown key");

        /* what would fail every run as a lookup, an outage that never ends */
        check_error(MTA "[probe:c]\ntype = tcp\nhost = [2001:db8::1]:25\n",
                    ":6: [probe:c] host: \"[2001:db8::1]:25\" is not a host name or address (the port is the key "
                    "port; an IPv6 address alone or in brackets)");
        check_error(MTA "[probe:c]\ntype = tcp\nhost = relay.example.net:587\n",
                    ":6: [probe:c] host: \"relay.example.net:587\" is not a host name or address (the port is the "
                    "key port; an IPv6 address alone or in brackets)");
        check_error(MTA "[probe:c]\ntype = tcp\nmx_of = 192.0.2.1\n",
                    ":6: [probe:c] mx_of: \"192.0.2.1\" is not a domain name");
        check_error(MTA "[probe:c]\ntype = tcp\nmx_of = canary..test\n",
                    ":6: [probe:c] mx_of: \"canary..test\" is not a domain name");
        check_error(MTA "[probe:c]\ntype = dns\nname = canary.test:53\n",
                    ":6: [probe:c] name: \"canary.test:53\" is not a domain name");
        check_error(MTA "[probe:c]\ntype = dns\nname = 2001:db8::1\n",
                    ":6: [probe:c] name: \"2001:db8::1\" is not a domain name");

        /* a directory, a FIFO (never waited on: no writer would hang the load) */
        _cleanup_free_ char *fifo = NULL, *text = NULL, *message = NULL;

        (void) alarm(20);  /* a hang fails the test instead of stopping the suite */
        check_error(MTA "[probe:c]\ntype = dns\nname = canary.test\nresolv_conf = /\n",
                    ":7: [probe:c] resolv_conf: cannot read /: Is a directory");
        assert_true(asprintf(&fifo, "%s/fifo", config_dir) > 0);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_true(asprintf(&text, MTA "[probe:c]\ntype = tcp\nmx_of = canary.test\nresolv_conf = %s\n", fifo) > 0);
        assert_true(asprintf(&message, ":7: [probe:c] resolv_conf: cannot read %s: not a regular file", fifo) > 0);
        check_error(text, message);
        assert_int_equal(unlink(fifo), 0);
        (void) alarm(0);
}

/* The keys loaded, their defaults, the effective configuration printed. */
static void test_config_keys(void **state) {
        _cleanup_free_ char *path = NULL, *log = NULL, *dump = NULL, *text = NULL;
        Config *c = NULL;
        size_t size = 0;
        FILE *f;

        assert_true(asprintf(&text, MTA "[probe:canary-mx]\ntype = dns\nname = canary.test\n"
                             "[probe:canary-smtp]\ntype = tcp\nmx_of = canary.test\nresolv_conf = %s\n"
                             "[probe:relay]\ntype = tcp\nhost = [2001:db8::1]\nport = 587\n",
                             responder.resolv_conf) > 0);
        assert_int_equal(load_captured(text, &c, &path, &log), 0);
        assert_string_equal(log, "");
        assert_int_equal(c->n_probes, 3);

        const DnsSettings *d = c->probes[0].settings;
        assert_string_equal(d->name, "canary.test");
        assert_string_equal(d->record, "mx");
        assert_string_equal(d->resolver.resolv_conf, "auto");
        const TcpSettings *t = c->probes[1].settings;
        assert_string_equal(t->mx_of.value, "canary.test");
        assert_null(t->host.value);
        assert_int_equal(t->port, 25);
        assert_string_equal(t->resolver.resolv_conf, responder.resolv_conf);
        assert_string_equal(t->resolver.path, responder.resolv_conf);
        t = c->probes[2].settings;
        assert_string_equal(t->host.value, "[2001:db8::1]");
        assert_int_equal(t->port, 587);
        assert_string_equal(probe_tcp_ops.settings_host(t), "[2001:db8::1]");

        f = open_memstream(&dump, &size);
        assert_non_null(f);
        config_dump(c, f);
        assert_int_equal(fclose(f), 0);
        assert_non_null(strstr(dump, "\n[probe:canary-mx]\ntype = dns\nname = canary.test\nrecord = mx\n"
                                     "resolv_conf = auto\ntimeout = 5s\n"));
        _cleanup_free_ char *tcp = NULL;
        assert_true(asprintf(&tcp, "\n[probe:canary-smtp]\ntype = tcp\n; host = (not set)\nmx_of = canary.test\n"
                             "port = 25\nresolv_conf = %s\ntimeout = 5s\n", responder.resolv_conf) > 0);
        assert_non_null(strstr(dump, tcp));
        config_free(c);
}

/* A resolv.conf other than the system's: advice at load, and in the reason. */
static void test_config_advice(void **state) {
        _cleanup_free_ char *path = NULL, *log = NULL, *text = NULL, *expected = NULL;
        char diff[512], advice[1024];
        Config *c = NULL;

        assert_true(asprintf(&text, MTA "[probe:canary]\ntype = dns\nname = canary.test\nresolv_conf = %s\n",
                             responder.resolv_conf) > 0);
        assert_int_equal(load_captured(text, &c, &path, &log), 0);
        assert_string_equal(log, "");
        /* the responder's file names 127.0.0.1 only, unlike any host's */
        assert_int_equal(dns_resolv_conf_compare(responder.resolv_conf, NULL, diff, sizeof(diff)), 1);
        assert_int_equal(config_advice(c, advice, sizeof(advice)), 1);
        assert_true(asprintf(&expected, "%s: [probe:canary] resolv_conf: names are resolved through %s\n", path,
                             diff) > 0);
        assert_string_equal(advice, expected);
        config_free(c);
}

/* resolv_conf = auto with a chrooted Postfix: the advice names the MTA. */
static void test_auto_advice(void **state) {
        _cleanup_free_ char *master = NULL, *etc = NULL, *copy = NULL, *expected = NULL;
        DnsResolverSettings r;
        PostfixSettings pf = {};
        ConfigContext ctx = { .path = "test.ini" };
        char diff[512];
        FILE *f;

        assert_true(asprintf(&master, "%s/master.cf", config_dir) > 0);
        assert_true(asprintf(&etc, "%s/etc", config_dir) > 0);
        assert_true(asprintf(&copy, "%s/etc/resolv.conf", config_dir) > 0);
        f = fopen(master, "we");
        assert_non_null(f);
        fputs("smtp      unix  -       -       y       -       -       smtp\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(mkdir(etc, 0755), 0);
        f = fopen(copy, "we");
        assert_non_null(f);
        fputs("nameserver 192.0.2.53\nsearch chroot.invalid\n", f);
        assert_int_equal(fclose(f), 0);
        pf.queue_directory = config_dir;
        pf.master_cf_path = master;

        assert_int_equal(dns_resolver_settings_init(&r), 0);
        assert_int_equal(dns_resolver_settings_finish(&ctx, 3, &r, &mta_profile_postfix, &pf), 0);
        assert_string_equal(r.path, copy);
        assert_string_equal(dns_resolver_settings_file(&r), copy);
        assert_int_equal(dns_resolv_conf_compare(copy, NULL, diff, sizeof(diff)), 1);
        assert_true(asprintf(&expected, "resolv_conf: the MTA resolves names through %s; so does this probe", diff) > 0);
        assert_string_equal(r.advice, expected);
        dns_resolver_settings_done(&r);

        /* no copy yet (Postfix never started): the run reports it, the load does not fail */
        assert_int_equal(unlink(copy), 0);
        assert_int_equal(dns_resolver_settings_init(&r), 0);
        assert_int_equal(dns_resolver_settings_finish(&ctx, 3, &r, &mta_profile_postfix, &pf), 0);
        assert_string_equal(r.path, copy);
        assert_null(r.advice);
        dns_resolver_settings_done(&r);
        assert_int_equal(ctx.r, 0);
}

static int config_setup(void **state) {
        config_dir = strdup("/tmp/test-dns-config-XXXXXX");
        assert_non_null(config_dir);
        assert_non_null(mkdtemp(config_dir));
        return 0;
}

static int config_teardown(void **state) {
        (void) rm_rf(config_dir);
        free(config_dir);
        return 0;
}

int main(void) {
        const struct CMUnitTest probe_tests[] = {
                cmocka_unit_test(test_mx_ok),
                cmocka_unit_test(test_mx_default_record),
                cmocka_unit_test(test_a_and_aaaa),
                cmocka_unit_test(test_address),
                cmocka_unit_test(test_nxdomain),
                cmocka_unit_test(test_nodata),
                cmocka_unit_test(test_servfail_refused),
                cmocka_unit_test(test_null_mx),
                cmocka_unit_test(test_no_answer_times_out),
                cmocka_unit_test(test_cancel_in_flight),
                cmocka_unit_test(test_note_in_reason),
                cmocka_unit_test(test_resolv_conf_missing),
                cmocka_unit_test(test_bad_settings),
                cmocka_unit_test(test_resolv_conf_compare),
                cmocka_unit_test(test_postfix_resolv_conf),
                cmocka_unit_test_setup_teardown(test_config_errors, config_setup, config_teardown),
                cmocka_unit_test_setup_teardown(test_config_keys, config_setup, config_teardown),
                cmocka_unit_test_setup_teardown(test_config_advice, config_setup, config_teardown),
                cmocka_unit_test_setup_teardown(test_auto_advice, config_setup, config_teardown),
        };

        block_sigchld();
        return cmocka_run_group_tests(probe_tests, setup, teardown);
}
