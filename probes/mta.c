/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "exim.h"
#include "generic.h"
#include "mta.h"
#include "postfix.h"
#include "sendmail.h"

/* One line per MTA type (README "Adding an MTA"). */
const MtaProfile *const mta_profiles[] = {
        &mta_profile_postfix,
        &mta_profile_exim,
        &mta_profile_sendmail,
        &mta_profile_generic,
        NULL,
};

const MtaProfile *mta_profile_find(const char *type) {
        for (size_t i = 0; type && mta_profiles[i]; i++)
                if (strcmp(mta_profiles[i]->type, type) == 0)
                        return mta_profiles[i];
        return NULL;
}

ActivitySource mta_activity_source(const MtaProfile *prof, const void *settings) {
        return prof->activity_source_of ? prof->activity_source_of(settings) : prof->activity_source;
}

const char *const *mta_syslog_identifiers(const MtaProfile *prof, const void *settings) {
        return prof->syslog_identifiers_of ? prof->syslog_identifiers_of(settings) : prof->syslog_identifiers;
}

const ActivityRules *mta_activity_rules(const MtaProfile *prof, const void *settings) {
        return prof->activity_rules_of ? prof->activity_rules_of(settings) : prof->activity_rules;
}
