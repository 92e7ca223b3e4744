/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "exim.h"
#include "mta.h"
#include "postfix.h"
#include "sendmail.h"

/* One line per MTA type (README "Adding an MTA"). */
const MtaProfile *const mta_profiles[] = {
        &mta_profile_postfix,
        &mta_profile_exim,
        &mta_profile_sendmail,
        NULL,
};

const MtaProfile *mta_profile_find(const char *type) {
        for (size_t i = 0; type && mta_profiles[i]; i++)
                if (strcmp(mta_profiles[i]->type, type) == 0)
                        return mta_profiles[i];
        return NULL;
}
