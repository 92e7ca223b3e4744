/* SPDX-License-Identifier: MIT */
/* mta-watchdogd: heals an MTA that stays stuck after a network outage.
 * Exit codes follow sysexits(3): 0 ok, 64 usage, 78 configuration error,
 * 71 runtime set-up failure. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "caps.h"
#include "config.h"
#include "log.h"
#include "manager.h"

#define DEFAULT_CONFIG "/etc/mta-watchdog/mta-watchdog.ini"

static void help(void) {
        printf("Usage: mta-watchdogd [OPTIONS]\n"
               "\n"
               "Watches a mail transfer agent run by systemd, detects a queue that is stalled\n"
               "although the network is fine, remediates (flush, restart) and alerts.\n"
               "\n"
               "  -c, --config=FILE   configuration file (default " DEFAULT_CONFIG ")\n"
               "      --check-config  validate the configuration, print the effective settings, exit\n"
               "      --detect        print the MTA, unit, spool, queue interval and relay detected,\n"
               "                      where each came from, and the effective settings, exit\n"
               "      --dry-run       decide and alert as usual, but never flush or restart (as dry_run = yes)\n"
               "      --once          run one probe round, print what it saw and the verdict, exit:\n"
               "                      0 healthy, 1 stalled, 2 unknown (for cron, Nagios, scripts)\n"
               "      --json          with --once: print JSON\n"
               "      --version       print the version and exit\n"
               "  -h, --help          print this help and exit\n"
               "\n"
               "Exit status: 0 success, 64 usage error, 78 configuration error, 71 start-up failure,\n"
               "70 the event loop failed.\n");
}

int main(int argc, char *argv[]) {
        enum { ARG_CHECK_CONFIG = 0x100, ARG_VERSION, ARG_DRY_RUN, ARG_ONCE, ARG_JSON, ARG_DETECT };
        static const struct option options[] = {
                { "config",       required_argument, NULL, 'c' },
                { "check-config", no_argument,       NULL, ARG_CHECK_CONFIG },
                { "detect",       no_argument,       NULL, ARG_DETECT },
                { "dry-run",      no_argument,       NULL, ARG_DRY_RUN },
                { "once",         no_argument,       NULL, ARG_ONCE },
                { "json",         no_argument,       NULL, ARG_JSON },
                { "version",      no_argument,       NULL, ARG_VERSION },
                { "help",         no_argument,       NULL, 'h' },
                {}
        };
        _cleanup_(manager_freep) Manager *m = NULL;
        const char *path = DEFAULT_CONFIG;
        bool check_only = false, dry_run = false, detect = false;
        ManagerOptions mopts = {};
        Config *config = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        path = optarg;
                        break;
                case ARG_CHECK_CONFIG:
                        check_only = true;
                        break;
                case ARG_DETECT:
                        detect = check_only = true;
                        break;
                case ARG_DRY_RUN:
                        dry_run = true;
                        break;
                case ARG_ONCE:
                        mopts.once = true;
                        break;
                case ARG_JSON:
                        mopts.json = true;
                        break;
                case ARG_VERSION:
                        printf("mta-watchdogd %s\n", PACKAGE_VERSION);
                        return EX_OK;
                case 'h':
                        help();
                        return EX_OK;
                default:
                        fprintf(stderr, "Try 'mta-watchdogd --help'.\n");
                        return EX_USAGE;
                }
        if (mopts.json && !mopts.once) {
                fprintf(stderr, "mta-watchdogd: --json goes with --once. Try 'mta-watchdogd --help'.\n");
                return EX_USAGE;
        }
        if (optind < argc) {
                fprintf(stderr, "mta-watchdogd: unexpected argument '%s'. Try 'mta-watchdogd --help'.\n", argv[optind]);
                return EX_USAGE;
        }

        /* Before anything is read: files are read with the user's own permissions, and no
         * program run later inherits the unit's capability (caps.h). */
        r = caps_confine();
        if (r < 0)
                log_warning_errno(r, "Cannot narrow the capabilities, continuing with them: %m");

        unsigned n_errors = 0;

        r = config_load_counted(path, &config, &n_errors);
        if (r < 0) {
                /* config_load_counted() logged each one with file, line and key */
                log_error("%s: %u error%s", path, n_errors, n_errors == 1 ? "" : "s");
                return EX_CONFIG;
        }

        if (dry_run)
                config->dry_run = true;
        mopts.dry_run = dry_run;

        char advice[4096];   /* a few findings, each a line of a few hundred bytes */

        if (config_advice(config, advice, sizeof(advice)) > 0)
                for (char *line = advice, *nl; *line; line = nl + 1) {
                        nl = strchrnul(line, '\n');
                        log_warning("%.*s", (int) (nl - line), line);
                        if (!*nl)
                                break;
                }
        if (check_only) {
                /* --detect: the findings; --check-config: the same as comments above the dump. */
                config_print_provenance(config, stdout, detect ? "" : "; ");
                if (detect)
                        fputs("\n; effective configuration\n", stdout);
                config_dump(config, stdout);
                config_free(config);
                return EX_OK;
        }

        /* --once speaks on stdout; stderr only for what went wrong, unless debugging. */
        log_set_max_level(mopts.once && config->log_level > LOG_WARNING && config->log_level < LOG_DEBUG ?
                          LOG_WARNING : config->log_level);

        r = manager_new(config, &mopts, &m); /* takes the config */
        if (r < 0)
                return mopts.once ? ONCE_UNKNOWN : EX_OSERR;

        r = manager_run(m);
        if (mopts.once)
                return r < 0 ? ONCE_UNKNOWN : r;
        return r < 0 ? EX_SOFTWARE : EX_OK;
}
