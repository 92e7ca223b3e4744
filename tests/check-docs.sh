#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that the documentation keeps up with the code:
#  * every configuration key of the key tables (watchdogd/config.c, and each
#    MTA or probe type's own in probes/*.c; see code_keys below)
#    is documented, in its own section, in
#      - etc/mta-watchdog.ini    as a "key = ..." line (commented out or not),
#      - README.md               as a row of the configuration table,
#      - etc/mta-watchdog.ini.5  as a tagged paragraph (.TP, then .B/.BR key);
#  * no document describes a key that config.c does not have (same places);
#  * both man pages format without a warning: groff -man -ww -z prints nothing.
# Exit 0 when all holds, 1 naming each key and file that does not, 2 when the
# check itself cannot run (no groff, no key table found).
#
# Usage: tests/check-docs.sh [SOURCE_DIR]   (default: the checkout this script is in)
set -euo pipefail

src=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
config_c=watchdogd/config.c
ini=etc/mta-watchdog.ini
readme=README.md
ini5=etc/mta-watchdog.ini.5
man8=watchdogd/mta-watchdogd.8
failed=0

fail() {
        echo "check-docs: $*" >&2
        failed=1
}

cd "$src"
for f in "$config_c" "$ini" "$readme" "$ini5" "$man8"; do
        if [ ! -f "$f" ]; then
                echo "check-docs: $src/$f: missing" >&2
                exit 2
        fi
done

# "section key" pairs, one a line, sorted. Sections: watchdog, mta, probe, alert.

# The key tables: in watchdogd/config.c watchdog_items[], mta_head_items[],
# mta_tail_items[], probe_head_items[], probe_tail_items[], alert_items[]; in
# probes/*.c each MTA type's NAME_mta_items[] and each probe type's
# NAME_probe_items[]. The table's name gives the section; rows are W("key", ...),
# P(...), A(...), CONFIG_ITEM("key", ...), CONFIG_ITEM_REQUIRED(...) and { "key", ... }.
code_keys() {
        awk '
                match($0, /^static const ConfigItem [a-z_]+\[\] = \{/) {
                        name = $0; sub(/^static const ConfigItem /, "", name); sub(/\[.*/, "", name)
                        if (match(name, /(^|_)(watchdog|mta|probe|alert)(_head|_tail)?_items$/)) {
                                sec = name; sub(/(_head|_tail)?_items$/, "", sec); sub(/.*_/, "", sec)
                                intable = 1
                        }
                        next
                }
                intable && /^\};/ { intable = 0; next }
                !intable { next }
                {
                        line = $0
                        sub(/^[ \t]+/, "", line)
                        if (line == "" || line == "{}," || line ~ /^\/[*\/]/ || line ~ /^\*/)
                                next
                        if (match(line, /^([WPA]|CONFIG_ITEM|CONFIG_ITEM_REQUIRED)\("[a-z_]+"/) ||
                            match(line, /^\{ *"[a-z_]+"/)) {
                                key = substr(line, 1, RLENGTH)
                                sub(/^[^"]*"/, "", key); sub(/"$/, "", key)
                        } else {
                                # A row this script does not understand would be left unchecked.
                                printf "UNPARSED %s\n", line
                                next
                        }
                        print sec, key
                }' "$config_c" probes/*.c | sort -u
}

# The example ini: "key = value" or "; key = value" under [section] or [section:NAME],
# or under a commented-out example section "; [section:NAME]" (the shipped file has
# its [probe:relay] and [alert:ops] only as examples).
ini_keys() {
        awk '
                /^([;#] *)?\[[a-z]+:[^]]*\] *$/ || /^\[[a-z]+(:[^]]*)?\]/ {
                        sec = $0; sub(/^[;#]? *\[/, "", sec); sub(/[]:].*/, "", sec); next
                }
                sec != "" && match($0, /^[;#]?[ \t]*[a-z_]+[ \t]*=/) {
                        key = substr($0, 1, RLENGTH)
                        sub(/^[;#]?[ \t]*/, "", key); sub(/[ \t]*=$/, "", key)
                        print sec, key
                }' "$ini" | sort -u
}

# README.md: rows of the configuration table, "| `[section]` | `key` | ..." where
# the section cell is empty on the rows after the first of a section.
readme_keys() {
        awk '
                /^\| *section *\| *key *\|/ { intable = 1; next }
                intable && !/^\|/ { intable = 0 }
                !intable { next }
                {
                        n = split($0, cell, "|")
                        if (n < 3) next
                        s = cell[2]; k = cell[3]
                        if (s ~ /`\[[a-z]+(:[A-Z]+)?\]`/) {
                                sub(/^[^[]*\[/, "", s); sub(/[]:].*/, "", s); sec = s
                        }
                        if (k ~ /^ *`[a-z_]+` *$/) {
                                gsub(/[ `]/, "", k)
                                print sec, k
                        }
                }' "$readme" | sort -u
}

# The ini(5) page: under ".SH [section] SECTION" or ".SH [section:NAME] SECTIONS",
# each key is the tag of a .TP paragraph: ".B key" or ".BR key ...".
ini5_keys() {
        awk '
                /^\.SH / {
                        sec = ""
                        if (match($0, /^\.SH \[[a-z]+(:NAME)?\] SECTIONS?$/)) {
                                sec = $0; sub(/^\.SH \[/, "", sec); sub(/[]:].*/, "", sec)
                        }
                        tp = 0; next
                }
                /^\.TP/ { tp = 1; next }
                tp && sec != "" && match($0, /^\.BR? [a-z_]+( |$)/) {
                        key = $2
                        print sec, key
                }
                { tp = 0 }' "$ini5" | sort -u
}

code=$(code_keys)
if grep -q '^UNPARSED ' <<<"$code"; then
        grep '^UNPARSED ' <<<"$code" | sed "s|^UNPARSED |check-docs: cannot read this row of a key table: |" >&2
        exit 2
fi
if [ "$(wc -l <<<"$code")" -lt 10 ]; then
        echo "check-docs: key tables not found (or nearly empty)" >&2
        exit 2
fi

check_doc() {
        local file=$1 doc=$2 sec key
        while read -r sec key; do
                [ -n "$key" ] || continue
                fail "key \"$key\" of [$sec] (in $config_c) is not documented in $file"
        done < <(comm -23 <(echo "$code") <(echo "$doc"))
        while read -r sec key; do
                [ -n "$key" ] || continue
                fail "$file documents key \"$key\" of [$sec], which $config_c does not have"
        done < <(comm -13 <(echo "$code") <(echo "$doc"))
}

check_doc "$ini" "$(ini_keys)"
check_doc "$readme" "$(readme_keys)"
check_doc "$ini5" "$(ini5_keys)"

if ! command -v groff >/dev/null; then
        echo "check-docs: groff not found (Debian: apt-get install groff-base)" >&2
        exit 2
fi
for page in "$man8" "$ini5"; do
        out=$(groff -man -ww -z "$page" 2>&1) || fail "$page: groff -man -ww -z failed"
        if [ -n "$out" ]; then
                fail "$page: groff -man -ww -z warns:"
                echo "$out" | sed 's/^/    /' >&2
        fi
done

if [ "$failed" -ne 0 ]; then
        exit 1
fi
echo "check-docs: $(wc -l <<<"$code") keys of $config_c and probes/*.c documented in $ini, $readme and $ini5; man pages format cleanly"
