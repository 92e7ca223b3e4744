/* SPDX-License-Identifier: MIT */
/* Detection (watchdogd/detect.h) on fixture trees: what each Debian 12 MTA
 * package installs (dpkg status, /usr/sbin/sendmail, its configuration;
 * a fake postconf), broken and missing files, relay syntax; and type = auto
 * through config_load_full(). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "detect.h"
#include "generic.h"
#include "macros.h"
#include "mta.h"
#include "probe.h"
#include "smtp.h"
#include "tests.h"
#include "fixture-root.h"

#define SMTP(p) ((const SmtpSettings *) (p)->settings)

static char tmpdir[] = "/tmp/test-detect-XXXXXX";
static unsigned counter;

/* A new, empty fixture root under tmpdir, into BUF. */
static const char *new_root(char *buf, size_t size) {
        (void) snprintf(buf, size, "%s/root-%u", tmpdir, ++counter);
        assert_int_equal(mkdir(buf, 0755), 0);
        return buf;
}

/* Debian 12's postfix: its own /usr/sbin/sendmail, postconf printing
 * RELAYHOST, the queue directory and queue_run_delay; main.cf sets
 * relayhost on line 3. */
static void postfix_host(const char *root, const char *relayhost) {
        char script[512];

        fixture_write(root, "/var/lib/dpkg/status", FIXTURE_DPKG_OTHER FIXTURE_DPKG_MTA("postfix"), 0644);
        fixture_write(root, "/var/lib/dpkg/info/postfix.list", "/.\n/usr/sbin/postconf\n/usr/sbin/sendmail\n", 0644);
        fixture_write(root, "/usr/sbin/sendmail", "#!/bin/sh\n", 0755);
        (void) snprintf(script, sizeof(script),
                        "#!/bin/sh\n[ \"$*\" = \"-h relayhost queue_directory queue_run_delay\" ] || exit 2\n"
                        "printf '%%s\\n' '%s' /var/spool/postfix 300s\n", relayhost);
        fixture_write(root, "/usr/sbin/postconf", script, 0755);
        fixture_write(root, "/etc/postfix/main.cf", "# main.cf\nmyhostname = mx.example.org\nrelayhost = x\n", 0644);
}

static int detect(const char *root, Detection *d, char *error, size_t size) {
        int r = detect_mta(root, d, error, size);

        if (r < 0)
                return r;
        return detect_relay(root, d, error, size);
}

static void test_postfix(void **state) {
        char root[PATH_MAX], error[512] = "";
        Detection d;

        postfix_host(new_root(root, sizeof(root)), "[192.0.2.2]:25");
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_string_equal(d.mta, "postfix");
        assert_string_equal(d.type, "postfix");
        assert_null(d.preset);
        assert_string_equal(d.package.value, "postfix");
        assert_string_equal(d.package.source, "/var/lib/dpkg/status:6");
        assert_string_equal(d.sendmail, "/usr/sbin/sendmail, a file of postfix");
        assert_int_equal(d.relay_state, DETECT_RELAY_FOUND);
        assert_int_equal(d.n_relays, 1);
        assert_string_equal(d.relays[0].host, "192.0.2.2");
        assert_int_equal(d.relays[0].port, 25);
        assert_string_equal(d.relay.value, "192.0.2.2:25");
        assert_string_equal(d.relay.source, "/etc/postfix/main.cf:3");
        assert_string_equal(d.queue_directory.value, "/var/spool/postfix");
        assert_string_equal(d.queue_directory.source, "postconf -h queue_directory");
        assert_string_equal(d.queue_interval.value, "300s");
        assert_string_equal(d.queue_interval.source, "postconf -h queue_run_delay");

        /* relayhost not in main.cf: postconf's default (empty), direct */
        postfix_host(new_root(root, sizeof(root)), "");
        fixture_write(root, "/etc/postfix/main.cf", "myhostname = mx.example.org\n", 0644);
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_int_equal(d.relay_state, DETECT_RELAY_NONE);
        assert_int_equal(d.n_relays, 0);
        assert_string_equal(d.relay.value, "none");
        assert_string_equal(d.relay.source, "postconf -h relayhost");

        /* a list: the first is probed, all are kept */
        postfix_host(new_root(root, sizeof(root)), "[ipv6:2001:db8::1]:587, relay.example.net smtp.example.net:submission");
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_int_equal(d.n_relays, 3);
        assert_string_equal(d.relay.value, "[2001:db8::1]:587 relay.example.net:25 smtp.example.net:587");
}

static void test_postfix_broken(void **state) {
        char root[PATH_MAX], error[512] = "";
        Detection d;

        /* garbage: an error naming the file and line and the value */
        postfix_host(new_root(root, sizeof(root)), "[192.0.2.2:25");
        assert_int_equal(detect(root, &d, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, "postconf -h relayhost (/etc/postfix/main.cf:3): \"[192.0.2.2:25\": '[' without ']'");
        /* the queue and its interval are read all the same (the relay may not be needed) */
        assert_string_equal(d.queue_directory.value, "/var/spool/postfix");
        assert_string_equal(d.queue_interval.value, "300s");
        postfix_host(new_root(root, sizeof(root)), "relay.example.net:99999");
        assert_int_equal(detect(root, &d, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, "postconf -h relayhost (/etc/postfix/main.cf:3): \"relay.example.net:99999\": "
                            "\"99999\" is not a port (1-65535)");

        /* no postconf: not known, not an error */
        postfix_host(new_root(root, sizeof(root)), "");
        fixture_remove(root, "/usr/sbin/postconf");
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_int_equal(d.relay_state, DETECT_RELAY_UNKNOWN);
        assert_string_equal(d.relay.source, "/usr/sbin/postconf: No such file or directory");

        /* postconf failing */
        fixture_write(root, "/usr/sbin/postconf", "#!/bin/sh\nexit 1\n", 0755);
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_int_equal(d.relay_state, DETECT_RELAY_UNKNOWN);
        assert_string_equal(d.relay.source, "postconf -h relayhost exited with status 1");
        fixture_write(root, "/usr/sbin/postconf", "#!/bin/sh\necho one\n", 0755);
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_int_equal(d.relay_state, DETECT_RELAY_UNKNOWN);
        assert_string_equal(d.relay.source, "postconf -h relayhost printed too few lines");

        /* postconf that hangs, even after closing its output and with
         * SIGTERM ignored: killed at DETECT_COMMAND_TIMEOUT_USEC, not known */
        (void) alarm(30);  /* a hang fails the test instead of stopping the suite */
        fixture_write(root, "/usr/sbin/postconf", "#!/bin/sh\ntrap '' TERM\necho x\nexec >&-\nsleep 60\n", 0755);
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_int_equal(d.relay_state, DETECT_RELAY_UNKNOWN);
        assert_string_equal(d.relay.source, "/usr/sbin/postconf -h relayhost: Connection timed out");
        fixture_write(root, "/usr/sbin/postconf", "#!/bin/sh\nsleep 60\n", 0755);
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_string_equal(d.relay.source, "/usr/sbin/postconf -h relayhost: Connection timed out");
        (void) alarm(0);
}

static void exim_host(const char *root, const char *conf) {
        fixture_write(root, "/var/lib/dpkg/status",
                      FIXTURE_DPKG_MTA("exim4-daemon-light") FIXTURE_DPKG_OTHER, 0644);
        fixture_write(root, "/var/lib/dpkg/info/exim4-base.list", "/usr/sbin/exim_tidydb\n", 0644);
        fixture_write(root, "/var/lib/dpkg/info/exim4-daemon-light.list", "/usr/sbin/exim4\n/usr/sbin/sendmail\n", 0644);
        fixture_write(root, "/usr/sbin/exim4", "", 0644);
        fixture_symlink(root, "/usr/sbin/sendmail", "exim4");
        fixture_write(root, "/etc/exim4/update-exim4.conf.conf", conf, 0644);
        fixture_write(root, "/etc/default/exim4", "QUEUERUNNER='combined'\nQUEUEINTERVAL='30m'\nCOMMONOPTIONS=''\n", 0644);
}

static void test_exim(void **state) {
        char root[PATH_MAX], error[512] = "";
        Detection d;

        exim_host(new_root(root, sizeof(root)),
                  "# update-exim4.conf.conf\ndc_eximconfig_configtype='smarthost'\ndc_other_hostnames=''\n"
                  "dc_smarthost='192.0.2.2::25'\n");
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_string_equal(d.mta, "exim");
        assert_string_equal(d.type, "exim");
        assert_string_equal(d.package.value, "exim4-daemon-light");
        assert_string_equal(d.package.source, "/var/lib/dpkg/status:1");
        assert_string_equal(d.sendmail, "/usr/sbin/sendmail -> exim4");
        assert_string_equal(d.relay.value, "192.0.2.2:25");
        assert_string_equal(d.relay.source, "/etc/exim4/update-exim4.conf.conf:4");
        assert_string_equal(d.queue_interval.value, "30m");
        assert_string_equal(d.queue_interval.source, "/etc/default/exim4:2");
        /* exim4 not executable here: the profile's default spool, said so */
        assert_string_equal(d.queue_directory.source, "");

        exim_host(new_root(root, sizeof(root)), "dc_eximconfig_configtype=\"internet\"\ndc_smarthost=''\n");
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_int_equal(d.relay_state, DETECT_RELAY_NONE);
        assert_string_equal(d.relay.value, "none");
        assert_string_equal(d.relay.source, "/etc/exim4/update-exim4.conf.conf:1");

        /* satellite, a list with ports and IPv6 */
        exim_host(new_root(root, sizeof(root)),
                  "dc_eximconfig_configtype='satellite'\ndc_smarthost='[2001::db8::::1]::587 ; relay.example.net'\n");
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_string_equal(d.relay.value, "[2001:db8::1]:587 relay.example.net:25");

        /* broken */
        exim_host(new_root(root, sizeof(root)), "dc_eximconfig_configtype='smarthost'\ndc_smarthost=''\n");
        assert_int_equal(detect(root, &d, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, "/etc/exim4/update-exim4.conf.conf:2: dc_smarthost: empty, but "
                            "dc_eximconfig_configtype is smarthost or satellite");
        exim_host(new_root(root, sizeof(root)), "dc_eximconfig_configtype='relay'\n");
        assert_int_equal(detect(root, &d, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, "/etc/exim4/update-exim4.conf.conf:1: dc_eximconfig_configtype: \"relay\" is "
                            "none of internet, smarthost, satellite, local, none");
        exim_host(new_root(root, sizeof(root)), "dc_eximconfig_configtype='smarthost'\ndc_smarthost='bad host!'\n");
        assert_int_equal(detect(root, &d, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, "/etc/exim4/update-exim4.conf.conf:2: dc_smarthost: \"bad host!\": \"bad host!\" "
                            "is not a host name or address");
        assert_string_equal(d.queue_interval.value, "30m");  /* read all the same */
        assert_string_equal(d.queue_interval.source, "/etc/default/exim4:2");
        fixture_remove(root, "/etc/exim4/update-exim4.conf.conf");
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_int_equal(d.relay_state, DETECT_RELAY_UNKNOWN);
        assert_string_equal(d.relay.source, "/etc/exim4/update-exim4.conf.conf: No such file or directory");
}

static void sendmail_host(const char *root, const char *cf) {
        fixture_write(root, "/var/lib/dpkg/status", FIXTURE_DPKG_MTA("sendmail-bin"), 0644);
        fixture_write(root, "/var/lib/dpkg/info/sendmail-bin.list", "/usr/libexec/sendmail/sendmail\n", 0644);
        fixture_write(root, "/usr/libexec/sendmail/sendmail", "", 0755);
        fixture_symlink(root, "/etc/alternatives/sendmail", "/usr/libexec/sendmail/sendmail");
        fixture_symlink(root, "/usr/sbin/sendmail", "/etc/alternatives/sendmail");
        fixture_write(root, "/etc/mail/sendmail.cf", cf, 0644);
        fixture_write(root, "/etc/mail/sendmail.conf", "DAEMON_MODE=\"Daemon\";\nQUEUE_INTERVAL=\"10m\";\n", 0644);
}

static void test_sendmail(void **state) {
        char root[PATH_MAX], error[512] = "";
        Detection d;

        sendmail_host(new_root(root, sizeof(root)), "# sendmail.cf\nDS[192.0.2.2]\nO QueueDirectory=/var/spool/mqueue\n");
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_string_equal(d.mta, "sendmail");
        assert_string_equal(d.type, "sendmail");
        assert_string_equal(d.sendmail, "/usr/sbin/sendmail -> /etc/alternatives/sendmail");
        assert_string_equal(d.relay.value, "192.0.2.2:25");
        assert_string_equal(d.relay.source, "/etc/mail/sendmail.cf:2");
        assert_string_equal(d.queue_directory.value, "/var/spool/mqueue");
        assert_string_equal(d.queue_directory.source, "/etc/mail/sendmail.cf:3");
        assert_string_equal(d.queue_interval.value, "10m");
        assert_string_equal(d.queue_interval.source, "/etc/mail/sendmail.conf:2");

        sendmail_host(new_root(root, sizeof(root)), "DS\n");
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_string_equal(d.relay.value, "none");
        assert_string_equal(d.relay.source, "/etc/mail/sendmail.cf:1");

        sendmail_host(new_root(root, sizeof(root)), "V10\nDSrelay.example.net:587\n");
        assert_int_equal(detect(root, &d, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, "/etc/mail/sendmail.cf:2: DS: \"relay.example.net:587\": a port cannot be given in DS "
                            "(RELAY_MAILER_ARGS sets it)");
        assert_string_equal(d.queue_interval.value, "10m");  /* read all the same */
}

static void test_nullmailer_opensmtpd(void **state) {
        char root[PATH_MAX], error[512] = "";
        const char *name = NULL;
        Detection d;

        new_root(root, sizeof(root));
        fixture_write(root, "/var/lib/dpkg/status", FIXTURE_DPKG_MTA("nullmailer"), 0644);
        fixture_write(root, "/var/lib/dpkg/info/nullmailer.list", "/usr/sbin/sendmail\n", 0644);
        fixture_write(root, "/usr/sbin/sendmail", "", 0755);
        fixture_write(root, "/etc/nullmailer/remotes", "# the relay\n\n192.0.2.2 smtp --port=2525 --user=me\n", 0600);
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_string_equal(d.mta, "nullmailer");
        assert_string_equal(d.type, "generic");
        assert_ptr_equal(d.preset, detect_preset("nullmailer", &name));
        assert_string_equal(d.preset_name, "mta-watchdog-nullmailer.ini");
        assert_non_null(strstr(d.preset, "\nunit = nullmailer.service\n"));
        assert_string_equal(d.relay.value, "192.0.2.2:2525");
        assert_string_equal(d.relay.source, "/etc/nullmailer/remotes:3");
        assert_string_equal(d.queue_interval.value, "60");
        assert_string_equal(d.queue_interval.source, "default");
        fixture_write(root, "/etc/nullmailer/remotes", "relay.example.net smtp\n", 0600);
        fixture_write(root, "/etc/nullmailer/pausetime", "120\n", 0644);
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_string_equal(d.relay.value, "relay.example.net:25");
        assert_string_equal(d.queue_interval.value, "120");
        assert_string_equal(d.queue_interval.source, "/etc/nullmailer/pausetime:1");
        fixture_write(root, "/etc/nullmailer/remotes", "relay.example.net\n", 0600);
        assert_int_equal(detect(root, &d, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, "/etc/nullmailer/remotes:1: remote \"relay.example.net\": expected \"HOST "
                            "smtp|qmqp [--port=N] ...\"");
        /* a line with a password: an error names the host and the word at fault, never the password */
        fixture_write(root, "/etc/nullmailer/remotes", "relay.example.net --user=me --pass=hunter2\n", 0600);
        assert_int_equal(detect(root, &d, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, "/etc/nullmailer/remotes:1: remote \"relay.example.net\": expected \"HOST "
                            "smtp|qmqp [--port=N] ...\"");
        fixture_write(root, "/etc/nullmailer/remotes", "relay.example.net smtp --pass=hunter2 --port=99999\n", 0600);
        assert_int_equal(detect(root, &d, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, "/etc/nullmailer/remotes:1: remote \"relay.example.net\": \"99999\" is not a "
                            "port (1-65535)");
        fixture_write(root, "/etc/nullmailer/remotes", "# nothing\n", 0600);
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_int_equal(d.relay_state, DETECT_RELAY_UNKNOWN);

        new_root(root, sizeof(root));
        fixture_write(root, "/var/lib/dpkg/status", FIXTURE_DPKG_MTA("opensmtpd"), 0644);
        fixture_write(root, "/var/lib/dpkg/info/opensmtpd.list", "/usr/sbin/smtpctl\n/usr/sbin/sendmail\n", 0644);
        fixture_write(root, "/usr/sbin/smtpctl", "", 0755);
        fixture_symlink(root, "/usr/sbin/sendmail", "smtpctl");
        fixture_write(root, "/etc/smtpd.conf", "listen on localhost\n# action \"x\" relay host smtp://a.example\n"
                      "action \"relay\" relay host smtp://192.0.2.2:25\nmatch from local for any action \"relay\"\n", 0644);
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_string_equal(d.mta, "opensmtpd");
        assert_string_equal(d.type, "generic");
        assert_string_equal(d.preset_name, "mta-watchdog-opensmtpd.ini");
        assert_string_equal(d.relay.value, "192.0.2.2:25");
        assert_string_equal(d.relay.source, "/etc/smtpd.conf:3");
        fixture_write(root, "/etc/smtpd.conf", "action \"out\" relay\nmatch for any action \"out\"\n", 0644);
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_string_equal(d.relay.value, "none");
        fixture_write(root, "/etc/smtpd.conf", "action \"a\" relay host <relays>\n", 0644);
        assert_int_equal(detect(root, &d, error, sizeof(error)), 0);
        assert_string_equal(d.relay.value, "none");
        assert_string_equal(d.relay.source, "/etc/smtpd.conf (relay host not simple)");
}

/* dpkg's status as deb822(5) allows it, and what dpkg writes for a
 * package held or being removed: which package provides the MTA. */
static void test_dpkg_status_forms(void **state) {
        static const struct {
                const char *status;
                int r;
                unsigned line;       /* of the provider's Package: */
        } cases[] = {
                /* apt-mark hold postfix: "hold ok installed", still the MTA */
                { "Package: postfix\nStatus: hold ok installed\nProvides: mail-transport-agent\n\n", 0, 1 },
                /* selected for removal, not removed yet: still installed and running */
                { "Package: postfix\nStatus: deinstall ok installed\nProvides: mail-transport-agent\n\n", 0, 1 },
                /* versioned, continued on the next line */
                { "Package: postfix\nStatus: install ok installed\nProvides: default-mta,\n mail-transport-agent (= 1)\n\n",
                  0, 1 },
                /* a separator line of blanks (deb822(5)), and CRLF line ends */
                { "Package: postfix\r\nStatus: install ok installed\r\nProvides: mail-transport-agent\r\n\r\n"
                  "Package: libc6\r\nStatus: deinstall ok config-files\r\n", 0, 1 },
                { "Package: postfix\nStatus: install ok installed\nProvides: mail-transport-agent\n \t\n"
                  "Package: exim4-daemon-light\nStatus: purge ok not-installed\n", 0, 1 },
                /* field names are case-insensitive (deb822(5)) */
                { "package: postfix\nstatus: install ok installed\nPROVIDES: mail-transport-agent\n", 0, 1 },
                /* not installed: half-installed, unpacked, config-files, a flag other than ok */
                { "Package: postfix\nStatus: install ok half-installed\nProvides: mail-transport-agent\n", -ENOPKG, 0 },
                { "Package: postfix\nStatus: install ok unpacked\nProvides: mail-transport-agent\n", -ENOPKG, 0 },
                { "Package: postfix\nStatus: install reinstreq half-installed\nProvides: mail-transport-agent\n",
                  -ENOPKG, 0 },
                /* a name that only begins like it */
                { "Package: postfix\nStatus: install ok installed\nProvides: mail-transport-agent-x\n", -ENOPKG, 0 },
        };
        char root[PATH_MAX], error[512] = "";
        Detection d;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                postfix_host(new_root(root, sizeof(root)), "");
                fixture_write(root, "/var/lib/dpkg/status", cases[i].status, 0644);
                assert_int_equal(detect_mta(root, &d, error, sizeof(error)), cases[i].r);
                if (cases[i].r == 0) {
                        assert_string_equal(d.mta, "postfix");
                        assert_string_equal(d.package.value, "postfix");
                        assert_string_equal(d.package.source, "/var/lib/dpkg/status:1");
                }
        }
}

/* /usr/sbin/sendmail a link that leads nowhere, or in a loop: dpkg's
 * word stands (as with no binary), and messages show the link. */
static void test_sendmail_links(void **state) {
        char root[PATH_MAX], error[512] = "";
        Detection d;

        postfix_host(new_root(root, sizeof(root)), "");
        fixture_symlink(root, "/usr/sbin/sendmail", "/usr/lib/nowhere/sendmail");
        assert_int_equal(detect_mta(root, &d, error, sizeof(error)), 0);
        assert_string_equal(d.mta, "postfix");
        assert_string_equal(d.sendmail, "/usr/sbin/sendmail -> /usr/lib/nowhere/sendmail");
        fixture_symlink(root, "/usr/sbin/sendmail", "sendmail.loop");
        fixture_symlink(root, "/usr/sbin/sendmail.loop", "sendmail");
        assert_int_equal(detect_mta(root, &d, error, sizeof(error)), 0);
        assert_string_equal(d.mta, "postfix");
        assert_string_equal(d.sendmail, "/usr/sbin/sendmail -> sendmail.loop");
        /* a link out of the root stays inside it */
        fixture_symlink(root, "/usr/sbin/sendmail", "../../../../../../../../usr/sbin/postconf");
        assert_int_equal(detect_mta(root, &d, error, sizeof(error)), 0);
        assert_string_equal(d.mta, "postfix");
}

static void test_unwatchable(void **state) {
        char root[PATH_MAX], error[512] = "";
        Detection d;

        /* msmtp-mta: no daemon */
        new_root(root, sizeof(root));
        fixture_write(root, "/var/lib/dpkg/status", FIXTURE_DPKG_MTA("msmtp-mta"), 0644);
        fixture_write(root, "/var/lib/dpkg/info/msmtp.list", "/usr/bin/msmtp\n", 0644);
        fixture_write(root, "/usr/bin/msmtp", "", 0755);
        fixture_symlink(root, "/usr/sbin/sendmail", "../bin/msmtp");
        assert_int_equal(detect_mta(root, &d, error, sizeof(error)), -ENOPKG);
        assert_string_equal(error, "found msmtp-mta (/usr/sbin/sendmail -> ../bin/msmtp): it runs no daemon and keeps "
                            "no queue (each message goes to the relay at once); set [mta] type (postfix, exim, "
                            "sendmail, generic) to watch another MTA");

        /* dma, courier: named */
        fixture_write(root, "/var/lib/dpkg/status", FIXTURE_DPKG_MTA("dma"), 0644);
        fixture_symlink(root, "/usr/sbin/sendmail", "dma");
        assert_int_equal(detect_mta(root, &d, error, sizeof(error)), -ENOPKG);
        assert_string_equal(error, "found dma (/usr/sbin/sendmail -> dma): it runs no daemon (cron runs its queue) and "
                            "has no unit to restart; set [mta] type (postfix, exim, sendmail, generic) to watch "
                            "another MTA");

        /* none: removed, only its configuration left */
        fixture_write(root, "/var/lib/dpkg/status",
                      "Package: postfix\nStatus: deinstall ok config-files\nProvides: mail-transport-agent\n\n", 0644);
        fixture_remove(root, "/usr/sbin/sendmail");
        assert_int_equal(detect_mta(root, &d, error, sizeof(error)), -ENOPKG);
        assert_string_equal(error, "found no MTA: no installed package provides mail-transport-agent "
                            "(/var/lib/dpkg/status) and there is no /usr/sbin/sendmail; install one, or set [mta] "
                            "type (postfix, exim, sendmail, generic)");

        /* dpkg and the binary disagree: dpkg does not win */
        postfix_host(new_root(root, sizeof(root)), "");
        fixture_write(root, "/var/lib/dpkg/info/exim4-daemon-light.list", "/usr/sbin/exim4\n", 0644);
        fixture_write(root, "/usr/sbin/exim4", "", 0755);
        fixture_symlink(root, "/usr/sbin/sendmail", "exim4");
        assert_int_equal(detect_mta(root, &d, error, sizeof(error)), -ENOPKG);
        assert_string_equal(error, "postfix (/var/lib/dpkg/status:6) provides mail-transport-agent, but "
                            "/usr/sbin/sendmail -> exim4 (/usr/sbin/exim4) belongs to exim4-daemon-light: two MTAs? "
                            "set [mta] type");
        fixture_write(root, "/usr/sbin/sendmail", "", 0755);
        fixture_write(root, "/var/lib/dpkg/info/postfix.list", "/usr/sbin/postconf\n", 0644);
        assert_int_equal(detect_mta(root, &d, error, sizeof(error)), -ENOPKG);
        assert_string_equal(error, "postfix (/var/lib/dpkg/status:6) provides mail-transport-agent, but "
                            "/usr/sbin/sendmail, a file of no package belongs to no installed package: two MTAs? "
                            "set [mta] type");
        /* no binary at all: dpkg alone */
        fixture_remove(root, "/usr/sbin/sendmail");
        assert_int_equal(detect_mta(root, &d, error, sizeof(error)), 0);
        assert_string_equal(d.mta, "postfix");
        assert_string_equal(d.sendmail, "no /usr/sbin/sendmail");

        /* two providers */
        fixture_write(root, "/var/lib/dpkg/status", FIXTURE_DPKG_MTA("postfix") FIXTURE_DPKG_MTA("exim4-daemon-heavy"),
                      0644);
        assert_int_equal(detect_mta(root, &d, error, sizeof(error)), -ENOPKG);
        assert_string_equal(error, "found 2 installed packages that provide mail-transport-agent (postfix, "
                            "exim4-daemon-heavy; /var/lib/dpkg/status): set [mta] type");

        /* no dpkg */
        new_root(root, sizeof(root));
        assert_int_equal(detect_mta(root, &d, error, sizeof(error)), -ENOENT);
        assert_string_equal(error, "cannot read /var/lib/dpkg/status: No such file or directory");
}

static void relay_ok(int (*parse)(const char *, DetectRelay *, size_t, size_t *, char *, size_t),
                     const char *in, const char *expected) {
        DetectRelay r[DETECT_RELAYS_MAX];
        char error[256] = "", out[1024] = "", one[300];
        size_t n = 99;

        if (parse(in, r, ELEMENTSOF(r), &n, error, sizeof(error)) < 0)
                fail_msg("\"%s\": %s", in, error);
        for (size_t i = 0; i < n; i++) {
                strcat(out, i > 0 ? " " : "");
                strcat(out, detect_relay_format(&r[i], one, sizeof(one)));
        }
        assert_string_equal(out, expected);
}

static void relay_bad(int (*parse)(const char *, DetectRelay *, size_t, size_t *, char *, size_t),
                      const char *in, const char *expected) {
        DetectRelay r[DETECT_RELAYS_MAX];
        char error[256] = "";
        size_t n = 0;

        assert_int_equal(parse(in, r, ELEMENTSOF(r), &n, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, expected);
}

static void test_relay_syntax(void **state) {
        DetectRelay r;
        char error[256] = "", buf[300];

        relay_ok(detect_parse_postfix_relays, "", "");
        relay_ok(detect_parse_postfix_relays, "relay.example.net", "relay.example.net:25");
        relay_ok(detect_parse_postfix_relays, "[192.0.2.2]", "192.0.2.2:25");
        relay_ok(detect_parse_postfix_relays, "[relay.example.net]:587", "relay.example.net:587");
        relay_ok(detect_parse_postfix_relays, "relay.example.net:submission", "relay.example.net:587");
        relay_ok(detect_parse_postfix_relays, "[relay.example.net]:urd", "relay.example.net:465");
        relay_ok(detect_parse_postfix_relays, "[relay.example.net]:ssmtp", "relay.example.net:465");
        relay_ok(detect_parse_postfix_relays, "relay.example.net:mail", "relay.example.net:25");
        relay_ok(detect_parse_postfix_relays, "[ipv6:2001:db8::1]:2525", "[2001:db8::1]:2525");
        relay_ok(detect_parse_postfix_relays, "a.example,b.example:26\t[c.example]", "a.example:25 b.example:26 c.example:25");
        relay_bad(detect_parse_postfix_relays, "[a.example]x", "\"[a.example]x\": unexpected text after ']'");
        relay_bad(detect_parse_postfix_relays, "a.example:0", "\"a.example:0\": \"0\" is not a port (1-65535)");
        relay_bad(detect_parse_postfix_relays, "a..example", "\"a..example\": \"a..example\" is not a host name or address");
        relay_bad(detect_parse_postfix_relays, "[]:25", "\"[]:25\": \"\" is not a host name or address");

        relay_ok(detect_parse_exim_relays, "192.0.2.2::25", "192.0.2.2:25");
        relay_ok(detect_parse_exim_relays, "a.example::587 : b.example", "a.example:587 b.example:25");
        relay_ok(detect_parse_exim_relays, "a.example;b.example::2525", "a.example:25 b.example:2525");
        relay_ok(detect_parse_exim_relays, "2001::db8::::1", "[2001:db8::1]:25");
        relay_ok(detect_parse_exim_relays, "[2001::db8::::1]::587", "[2001:db8::1]:587");
        relay_ok(detect_parse_exim_relays, " : ", "");
        relay_bad(detect_parse_exim_relays, "a.example::x", "\"a.example:x\": \"x\" is not a port (1-65535)");

        relay_ok(detect_parse_sendmail_relay, "", "");
        relay_ok(detect_parse_sendmail_relay, "[192.0.2.2]", "192.0.2.2:25");
        relay_ok(detect_parse_sendmail_relay, "relay:[mail.example.org]", "mail.example.org:25");
        relay_ok(detect_parse_sendmail_relay, "esmtp:mail.example.org", "mail.example.org:25");
        relay_ok(detect_parse_sendmail_relay, "[IPv6:2001:db8::1]", "[2001:db8::1]:25");
        relay_ok(detect_parse_sendmail_relay, "relay:", "");

        relay_ok(detect_parse_nullmailer_remote, "192.0.2.2 smtp --port=587 --user=x --pass=y", "192.0.2.2:587");
        relay_ok(detect_parse_nullmailer_remote, "relay.example.net qmqp", "relay.example.net:628");
        relay_ok(detect_parse_nullmailer_remote, "relay.example.net smtp --ssl", "relay.example.net:465");
        relay_ok(detect_parse_nullmailer_remote, "2001:db8::1 smtp", "[2001:db8::1]:25");
        relay_bad(detect_parse_nullmailer_remote, "relay.example.net smtp --pass=y --port=x",
                  "remote \"relay.example.net\": \"x\" is not a port (1-65535)");
        relay_bad(detect_parse_nullmailer_remote, "relay.example.net --pass=y", "remote \"relay.example.net\": "
                  "expected \"HOST smtp|qmqp [--port=N] ...\"");

        assert_int_equal(detect_parse_relay_setting("[2001:db8::1]:2525", &r, error, sizeof(error)), 0);
        assert_string_equal(detect_relay_format(&r, buf, sizeof(buf)), "[2001:db8::1]:2525");
        assert_int_equal(detect_parse_relay_setting("relay.example.net", &r, error, sizeof(error)), 0);
        assert_string_equal(detect_relay_format(&r, buf, sizeof(buf)), "relay.example.net:25");
        assert_int_equal(detect_parse_relay_setting("a.example b.example", &r, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, "\"a.example b.example\": one relay (HOST, HOST:PORT, [HOST]:PORT, [IPv6]:PORT)");
        /* a bare IPv6 address is ambiguous ("::1:587": an address, or ::1 port 587?) */
        assert_int_equal(detect_parse_relay_setting("2001:db8::1", &r, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, "\"2001:db8::1\": an IPv6 address in brackets: [2001:db8::1] or [2001:db8::1]:PORT");
        assert_int_equal(detect_parse_relay_setting("::1:587", &r, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, "\"::1:587\": an IPv6 address in brackets: [::1:587] or [::1:587]:PORT");
        assert_int_equal(detect_parse_relay_setting("[::1]:587", &r, error, sizeof(error)), 0);
        assert_string_equal(detect_relay_format(&r, buf, sizeof(buf)), "[::1]:587");
        assert_int_equal(detect_parse_relay_setting("relay.example.net:0", &r, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, "\"relay.example.net:0\": \"0\" is not a port (1-65535)");
        assert_int_equal(detect_parse_relay_setting("relay.example.net:65536", &r, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, "\"relay.example.net:65536\": \"65536\" is not a port (1-65535)");
}

static void test_probe_plan(void **state) {
        DetectProbe plan[2];
        DetectRelay relay = { .host = "192.0.2.2", .port = 587 };

        assert_int_equal(detect_probe_plan(&relay, "gmail.com", plan), 1);
        assert_string_equal(plan[0].name, "relay");
        assert_string_equal(plan[0].type, "smtp");
        assert_int_equal(plan[0].n_keys, 2);
        assert_string_equal(plan[0].keys[0].key, "host");
        assert_string_equal(plan[0].keys[0].value, "192.0.2.2");
        assert_string_equal(plan[0].keys[1].key, "port");
        assert_string_equal(plan[0].keys[1].value, "587");

        assert_int_equal(detect_probe_plan(NULL, "canary.example", plan), 2);
        assert_string_equal(plan[0].name, "canary-mx");
        assert_string_equal(plan[0].type, "dns");
        assert_int_equal(plan[0].n_keys, 2);
        assert_string_equal(plan[0].keys[0].key, "name");
        assert_string_equal(plan[0].keys[0].value, "canary.example");
        assert_string_equal(plan[0].keys[1].key, "record");
        assert_string_equal(plan[0].keys[1].value, "mx");
        assert_string_equal(plan[1].name, "canary-smtp");
        assert_string_equal(plan[1].type, "tcp");
        assert_int_equal(plan[1].n_keys, 2);
        assert_string_equal(plan[1].keys[0].key, "mx_of");
        assert_string_equal(plan[1].keys[0].value, "canary.example");
        assert_string_equal(plan[1].keys[1].key, "port");
        assert_string_equal(plan[1].keys[1].value, "25");
}

/* type = auto through the configuration */

static char *write_ini(const char *text) {
        char *path = NULL;

        assert_true(asprintf(&path, "%s/mta-watchdog-%u.ini", tmpdir, ++counter) > 0);
        fixture_write("", path, text, 0644);
        return path;
}

/* config_load_full() on ROOT with stderr captured into *LOG. */
static int load(const char *root, const char *text, Config **ret, char **log, char **path) {
        ConfigLoadOptions o = { .root = root };
        char logpath[PATH_MAX];
        int saved, r;

        *path = write_ini(text);
        (void) snprintf(logpath, sizeof(logpath), "%s/stderr", tmpdir);
        saved = stderr_redirect(logpath);
        r = config_load_full(*path, &o, ret);
        *log = stderr_restore(saved, logpath);
        return r;
}

static char *provenance(const Config *c, const char *prefix) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        config_print_provenance(c, f, prefix);
        assert_int_equal(fclose(f), 0);
        return buf;
}

static void test_config_auto_postfix(void **state) {
        char root[PATH_MAX], expected[2048], summary[512];
        _cleanup_free_ char *log = NULL, *path = NULL, *text = NULL;
        Config *c = NULL;

        postfix_host(new_root(root, sizeof(root)), "[192.0.2.2]:25");
        assert_int_equal(load(root, "[mta]\n", &c, &log, &path), 0);
        assert_string_equal(log, "");
        assert_true(c->type_detected);
        assert_string_equal(c->mta_type, "postfix");
        assert_string_equal(c->mta_name, "postfix");
        assert_string_equal(c->unit, "postfix@-.service");
        assert_true(c->probes_derived);
        assert_int_equal(c->n_probes, 1);
        assert_string_equal(c->probes[0].name, "relay");
        assert_string_equal(c->probes[0].type, "smtp");
        assert_string_equal(SMTP(&c->probes[0])->host, "192.0.2.2");
        assert_int_equal(SMTP(&c->probes[0])->port, 25);
        text = provenance(c, "; ");
        (void) snprintf(expected, sizeof(expected),
                        "; mta: postfix (package postfix, /var/lib/dpkg/status:6; /usr/sbin/sendmail, a file of postfix)\n"
                        "; unit: postfix@-.service (default)\n"
                        "; queue_directory: /var/spool/postfix (postconf -h queue_directory)\n"
                        "; queue_interval: 300s (postconf -h queue_run_delay)\n"
                        "; relay: 192.0.2.2:25 (/etc/postfix/main.cf:3)\n"
                        "; probe relay: smtp host=192.0.2.2 port=25 (derived: relay)\n");
        assert_string_equal(text, expected);
        assert_string_equal(config_detection_summary(c, summary, sizeof(summary)),
                            "detected postfix (package postfix, unit postfix@-.service, relay 192.0.2.2:25 from "
                            "/etc/postfix/main.cf:3)");
        config_free(c);
        free(log);
        log = NULL;
        free(path);
        path = NULL;
        free(text);
        text = NULL;

        /* the file wins: unit, relay */
        c = NULL;
        assert_int_equal(load(root, "[mta]\nunit = postfix@out.service\nrelay = [2001:db8::7]:2525\n", &c, &log, &path), 0);
        assert_string_equal(c->unit, "postfix@out.service");
        assert_int_equal(c->n_probes, 1);
        assert_string_equal(SMTP(&c->probes[0])->host, "2001:db8::7");
        assert_int_equal(SMTP(&c->probes[0])->port, 2525);
        text = provenance(c, "");
        (void) snprintf(expected, sizeof(expected),
                        "mta: postfix (package postfix, /var/lib/dpkg/status:6; /usr/sbin/sendmail, a file of postfix)\n"
                        "unit: postfix@out.service (%s:2)\n"
                        "queue_directory: /var/spool/postfix (postconf -h queue_directory)\n"
                        "queue_interval: 300s (postconf -h queue_run_delay)\n"
                        "relay: [2001:db8::7]:2525 (%s:3)\n"
                        "probe relay: smtp host=2001:db8::7 port=2525 (derived: relay)\n",
                        strrchr(path, '/') + 1, strrchr(path, '/') + 1);
        assert_string_equal(text, expected);
        config_free(c);
        free(log);
        log = NULL;
        free(path);
        path = NULL;
        free(text);
        text = NULL;

        /* a [probe:NAME] in the file: nothing derived, and a broken relayhost does not matter */
        postfix_host(root, "[192.0.2.2");
        c = NULL;
        assert_int_equal(load(root, "[mta]\nqueue_directory = /srv/pf\n[probe:mine]\ntype = smtp\nhost = 198.51.100.1\n",
                              &c, &log, &path), 0);
        assert_false(c->probes_derived);
        assert_int_equal(c->n_probes, 1);
        assert_string_equal(c->probes[0].name, "mine");
        text = provenance(c, "");
        assert_non_null(strstr(text, "\nqueue_directory: /srv/pf ("));
        assert_non_null(strstr(text, "\nprobe mine: smtp host=198.51.100.1 port=25 ("));
        config_free(c);
        free(log);
        log = NULL;
        free(path);
        path = NULL;
        free(text);
        text = NULL;
        /* without one, it is an error naming the file and line */
        c = NULL;
        assert_int_equal(load(root, "[mta]\n", &c, &log, &path), -EINVAL);
        assert_null(c);
        (void) snprintf(expected, sizeof(expected), "%s:1: [mta] relay: auto: postconf -h relayhost "
                        "(/etc/postfix/main.cf:3): \"[192.0.2.2\": '[' without ']' (set relay = HOST[:PORT] or none, "
                        "or add a [probe:NAME])\n", path);
        assert_string_equal(log, expected);
}

/* The dump of a detected configuration (type, derived probe, preset keys
 * written out) loads again to the same dump, as --check-config promises. */
static char *dump_body(const Config *c) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        config_dump(c, f);
        assert_int_equal(fclose(f), 0);
        memmove(buf, strchr(buf, '\n') + 1, strlen(strchr(buf, '\n') + 1) + 1);
        return buf;
}

static void test_config_dump_round_trip(void **state) {
        char root[PATH_MAX];
        const char *hosts[] = { "postfix", "nullmailer" };

        for (size_t i = 0; i < ELEMENTSOF(hosts); i++) {
                _cleanup_free_ char *log = NULL, *path = NULL, *dump = NULL, *log2 = NULL, *path2 = NULL, *dump2 = NULL;
                Config *c = NULL, *c2 = NULL;

                new_root(root, sizeof(root));
                if (i == 0)
                        postfix_host(root, "[192.0.2.2]:587");
                else {
                        fixture_write(root, "/var/lib/dpkg/status", FIXTURE_DPKG_MTA("nullmailer"), 0644);
                        fixture_write(root, "/etc/nullmailer/remotes", "192.0.2.2 smtp\n", 0600);
                }
                assert_int_equal(load(root, "[mta]\n", &c, &log, &path), 0);
                assert_int_equal(c->n_probes, 1);
                dump = dump_body(c);
                assert_int_equal(load(root, dump, &c2, &log2, &path2), 0);
                assert_string_equal(log2, "");
                assert_false(c2->type_detected);
                assert_false(c2->probes_derived);
                dump2 = dump_body(c2);
                assert_string_equal(dump, dump2);
                config_free(c);
                config_free(c2);
        }
}

static void test_config_auto_other(void **state) {
        char root[PATH_MAX], expected[1024];
        _cleanup_free_ char *log = NULL, *path = NULL, *text = NULL;
        Config *c = NULL;

        /* nullmailer: generic with the shipped example's [mta] keys; the file's win */
        new_root(root, sizeof(root));
        fixture_write(root, "/var/lib/dpkg/status", FIXTURE_DPKG_MTA("nullmailer"), 0644);
        fixture_write(root, "/etc/nullmailer/remotes", "192.0.2.2 smtp --port=25\n", 0600);
        assert_int_equal(load(root, "[mta]\nstall_after = 2h\n", &c, &log, &path), 0);
        assert_string_equal(log, "");
        assert_ptr_equal(c->profile, &mta_profile_generic);
        assert_string_equal(c->mta_name, "nullmailer");
        assert_string_equal(c->unit, "nullmailer.service");
        assert_int_equal(c->stall_after_usec, 2 * 3600 * USEC_PER_SEC);
        assert_int_equal(c->n_actions, 2);
        assert_int_equal(c->actions[0], ACTION_FLUSH);
        assert_string_equal(c->flush_command[0], "/usr/bin/dd");
        assert_string_equal(((const GenericSettings *) c->mta_settings)->queue_directories[0],
                            "/var/spool/nullmailer/queue");
        assert_int_equal(c->n_probes, 1);
        assert_string_equal(SMTP(&c->probes[0])->host, "192.0.2.2");
        text = provenance(c, "");
        assert_string_equal(text,
                            "mta: nullmailer (package nullmailer, /var/lib/dpkg/status:1; no /usr/sbin/sendmail)\n"
                            "unit: nullmailer.service (mta-watchdog-nullmailer.ini)\n"
                            "queue_directories: /var/spool/nullmailer/queue (mta-watchdog-nullmailer.ini)\n"
                            "queue_interval: 60 (default)\n"
                            "relay: 192.0.2.2:25 (/etc/nullmailer/remotes:1)\n"
                            "probe relay: smtp host=192.0.2.2 port=25 (derived: relay)\n");
        config_free(c);
        free(log);
        log = NULL;
        free(path);
        path = NULL;

        /* unwatchable: exit 78 from main, with what was found */
        new_root(root, sizeof(root));
        fixture_write(root, "/var/lib/dpkg/status", FIXTURE_DPKG_MTA("courier-mta"), 0644);
        c = NULL;
        assert_int_equal(load(root, "[watchdog]\n[mta]\ntype = auto\n", &c, &log, &path), -EINVAL);
        assert_null(c);
        (void) snprintf(expected, sizeof(expected), "%s:3: [mta] type: auto: found courier-mta (no "
                        "/usr/sbin/sendmail): there is no profile or preset for Courier yet; set [mta] type "
                        "(postfix, exim, sendmail, generic) to watch another MTA\n", path);
        assert_string_equal(log, expected);
        free(log);
        log = NULL;
        free(path);
        path = NULL;

        /* an explicit type reads no dpkg; relay = none derives the canary probes */
        c = NULL;
        int r = load(root, "[mta]\ntype = postfix\nrelay = none\ncanary_domain = canary.example\n", &c, &log, &path);
        assert_int_equal(r, 0);
        assert_int_equal(c->n_probes, 2);
        assert_string_equal(c->probes[0].name, "canary-mx");
        assert_string_equal(c->probes[0].type, "dns");
        assert_string_equal(c->probes[1].name, "canary-smtp");
        assert_string_equal(c->probes[1].type, "tcp");
        free(text);
        text = provenance(c, "");
        assert_non_null(strstr(text, "\nrelay: none (mta-watchdog-"));
        assert_non_null(strstr(text, "\nprobe canary-mx: dns name=canary.example record=mx resolv_conf=auto "
                               "(derived: no relay, canary_domain)\n"));
        config_free(c);
        free(log);
        log = NULL;
        free(path);
        path = NULL;

        /* relay and canary_domain values */
        c = NULL;
        assert_int_equal(load(root, "[mta]\ntype = postfix\nrelay = a b\n", &c, &log, &path), -EINVAL);
        (void) snprintf(expected, sizeof(expected), "%s:3: [mta] relay: \"a b\": one relay (HOST, HOST:PORT, "
                        "[HOST]:PORT, [IPv6]:PORT)\n", path);
        assert_string_equal(log, expected);
        free(log);
        log = NULL;
        free(path);
        path = NULL;
        assert_int_equal(load(root, "[mta]\ntype = postfix\ncanary_domain = 192.0.2.1\n", &c, &log, &path), -EINVAL);
        (void) snprintf(expected, sizeof(expected), "%s:3: [mta] canary_domain: \"192.0.2.1\" is not a domain name\n",
                        path);
        assert_string_equal(log, expected);
}

/* The relay cannot be read: no probe is derived, and the advice (logged
 * at start, printed by --check-config) says what that means. */
static void test_config_relay_unknown(void **state) {
        char root[PATH_MAX], expected[1024], advice[2048];
        _cleanup_free_ char *log = NULL, *path = NULL;
        Config *c = NULL;

        postfix_host(new_root(root, sizeof(root)), "");
        fixture_remove(root, "/usr/sbin/postconf");
        assert_int_equal(load(root, "[mta]\n", &c, &log, &path), 0);
        assert_int_equal(c->n_probes, 0);
        assert_false(c->probes_derived);
        assert_int_equal(config_advice(c, advice, sizeof(advice)), 1);
        (void) snprintf(expected, sizeof(expected),
                        "%s: [mta] relay: auto: the relay could not be read (/usr/sbin/postconf: No such file or "
                        "directory): no reachability probe, the network always counts as up, so an outage may be "
                        "taken for a stall; set relay (HOST[:PORT] or none) or add a [probe:NAME]\n", path);
        assert_string_equal(advice, expected);
        config_free(c);
        free(log);
        log = NULL;
        free(path);
        path = NULL;

        /* relay set in the file: its probe, no advice */
        c = NULL;
        assert_int_equal(load(root, "[mta]\nrelay = [192.0.2.9]:587\n", &c, &log, &path), 0);
        assert_int_equal(c->n_probes, 1);
        assert_string_equal(SMTP(&c->probes[0])->host, "192.0.2.9");
        assert_int_equal(SMTP(&c->probes[0])->port, 587);
        assert_int_equal(config_advice(c, advice, sizeof(advice)), 0);
        config_free(c);
}

/* A relayhost not understood, where the relay is not needed (the file
 * has a probe): the daemon starts, and --detect says why the relay is
 * unknown, with the queue read all the same. */
static void test_config_relay_not_needed(void **state) {
        char root[PATH_MAX];
        _cleanup_free_ char *log = NULL, *path = NULL, *text = NULL;
        Config *c = NULL;

        postfix_host(new_root(root, sizeof(root)), "garbage!!");
        assert_int_equal(load(root, "[probe:x]\ntype = smtp\nhost = 192.0.2.1\n", &c, &log, &path), 0);
        assert_string_equal(log, "");
        text = provenance(c, "");
        assert_non_null(strstr(text, "\nqueue_interval: 300s (postconf -h queue_run_delay)\n"));
        assert_non_null(strstr(text, "\nrelay: unknown (postconf -h relayhost (/etc/postfix/main.cf:3): "
                               "\"garbage!!\": \"garbage!!\" is not a host name or address)\n"));
        config_free(c);
}

static int setup(void **state) {
        (void) unsetenv("JOURNAL_STREAM");
        return mkdtemp(tmpdir) && chmod(tmpdir, 0755) == 0 ? 0 : -1;
}

static int teardown(void **state) {
        return rm_rf(tmpdir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_postfix),
                cmocka_unit_test(test_postfix_broken),
                cmocka_unit_test(test_exim),
                cmocka_unit_test(test_sendmail),
                cmocka_unit_test(test_nullmailer_opensmtpd),
                cmocka_unit_test(test_dpkg_status_forms),
                cmocka_unit_test(test_sendmail_links),
                cmocka_unit_test(test_unwatchable),
                cmocka_unit_test(test_relay_syntax),
                cmocka_unit_test(test_probe_plan),
                cmocka_unit_test(test_config_auto_postfix),
                cmocka_unit_test(test_config_auto_other),
                cmocka_unit_test(test_config_relay_unknown),
                cmocka_unit_test(test_config_dump_round_trip),
                cmocka_unit_test(test_config_relay_not_needed),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
