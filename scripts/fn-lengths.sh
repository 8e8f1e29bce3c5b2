#!/bin/bash
# fn-lengths.sh: the C functions longer than a limit (80 lines unless -n),
# longest first, as "LINES FILE:LINE NAME"; exits 1 when it found one.
#
#   scripts/fn-lengths.sh                      # milter/ rules/ policy/ tests/
#   scripts/fn-lengths.sh -n 60 rules/eval.c   # any files or folders
#
# It reads our brace style (.clang-format, BreakBeforeBraces: Linux): a
# function's body opens with "{" alone at column 0 and closes with "}" at
# column 0, and its length runs from the first line of its signature to
# that closing brace. Bison's generated parser is not ours and is skipped.
set -eu
limit=80
if [ "${1:-}" = "-n" ]; then
    limit=$2
    shift 2
fi
if [ $# -eq 0 ]; then
    cd "$(dirname "$0")/.."
    set -- milter rules policy tests
fi
find "$@" -type f \( -name '*.c' -o -name '*.h' -o -name '*.y' \) | sort |
    while read -r f; do
        grep -q 'A Bison parser, made by' "$f" && continue
        awk -v limit="$limit" -v file="$f" '
            # A signature starts at column 0 and may go on over indented
            # lines; a line ending in ";" was a declaration.
            /^[A-Za-z_]/ && !body { if (!sig) { start = NR; first = "" } sig = 1; first = first " " $0 }
            sig && /;[ \t]*$/ { sig = 0; next }
            /^[A-Za-z_]/ && !body { next }
            /^\{/ && sig && first ~ /\(/ { body = 1; sig = 0; next }
            /^\}/ && body {
                name = first
                sub(/\(.*/, "", name)
                sub(/.*[ *]/, "", name)
                if (NR - start + 1 > limit)
                    printf "%d %s:%d %s\n", NR - start + 1, file, start, name
                body = 0
                next
            }
            !body && !/^[ \t]/ { sig = 0 }
        ' "$f"
    done | sort -rn | awk '{ print } END { exit NR > 0 }'
