#!/bin/sh
# lint.format: every C file of the tree is formatted as .clang-format says
# (Debian's clang-format 14). Prints each difference and fails on any:
# run `clang-format -i FILE` to mend it.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
command -v clang-format >/dev/null || {
	echo "lint.format: clang-format is not installed (deploy/dev.sh deps)" >&2
	exit 1
}
files=$(find common gateway compute tests clients -name '*.[ch]' 2>/dev/null |
	sort)
[ -n "$files" ] || { echo "lint.format: no C files found under $top" >&2; exit 1; }
n=$(echo "$files" | wc -l)
# shellcheck disable=SC2086
if ! clang-format --dry-run -Werror $files; then
	echo "lint.format: the files above differ from .clang-format" \
		"(clang-format -i FILE mends them)" >&2
	exit 1
fi
echo "lint.format: $n files formatted"
