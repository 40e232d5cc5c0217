#!/usr/bin/env bash
# Turns src/store/schema/NNNN-name.sql files into a C header with one
# entry per migration: its number (the NNNN of the file name), its name
# and its SQL, in number order. A database records the numbers it has
# applied (store_sqlite.c), so a number, once used, means one migration
# for ever; two files with the same number are an error.
set -euo pipefail
declare -A seen=()
entries=()
for f in "$@"; do
    base=$(basename "$f")
    if [[ ! "$base" =~ ^([0-9]{4})-[a-z0-9-]+\.sql$ ]]; then
        echo "embed-schema: $f: not named NNNN-name.sql" >&2
        exit 1
    fi
    n=$((10#${BASH_REMATCH[1]}))
    if [[ $n -eq 0 ]]; then
        echo "embed-schema: $f: migrations are numbered from 0001" >&2
        exit 1
    fi
    if [[ -n "${seen[$n]:-}" ]]; then
        echo "embed-schema: $f and ${seen[$n]} have the same number" >&2
        exit 1
    fi
    seen[$n]=$f
    entries+=("$n $f")
done
echo "/* generated from src/store/schema by scripts/embed-schema.sh */"
echo "static const struct migration {"
echo "    int number;       /* NNNN of the file name */"
echo "    const char *name; /* the file name */"
echo "    const char *sql;"
echo "} schema_migrations[] = {"
printf '%s\n' "${entries[@]}" | sort -n | while read -r n f; do
    printf '    {%d, "%s",\n' "$n" "$(basename "$f")"
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/     "/' -e 's/$/\\n"/' "$f"
    echo "    },"
done
echo "};"
