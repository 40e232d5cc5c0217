#!/usr/bin/env bash
# Turns src/store/schema/NNNN-name.sql files into a C header with one
# string per migration, in order. Migration N sets PRAGMA user_version = N.
set -euo pipefail
echo "/* generated from src/store/schema by scripts/embed-schema.sh */"
echo "static const char *const schema_migrations[] = {"
for f in "$@"; do
    printf '    /* %s */\n    ' "$(basename "$f")"
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/\\n"/' "$f"
    echo "    ,"
done
echo "};"
