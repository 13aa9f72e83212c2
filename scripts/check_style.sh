#!/usr/bin/env bash
# Checks the files changed since a base commit, and only those: their layout against .clang-format,
# clang-tidy (.clang-tidy) on the changed .cpp files, ruff (scripts/lint_python.sh) on the changed
# .py files. Exits non-zero on any finding and says, per file, how to fix it.
#
# Changed: differing between the base and the working tree (committed or not), plus untracked
# files git does not ignore; deleted files are skipped. The base is $CREMA_STYLE_BASE if set, else
# the merge-base of HEAD and origin/main, else HEAD~1; a single-commit clone checks nothing.
# clang-tidy reads the compile database of $CREMA_BUILD_DIR (default build/).
# Usage: scripts/check_style.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd -P)"
build_dir="${CREMA_BUILD_DIR:-build}"
clang_format="${CLANG_FORMAT:-clang-format}"
clang_tidy="${CLANG_TIDY:-clang-tidy}"

if ! git rev-parse --git-dir > /dev/null 2>&1; then
  echo "check_style: not a git checkout, nothing to compare against: style not checked"
  exit 0
fi
base="${CREMA_STYLE_BASE:-}"
if [ -n "$base" ]; then
  git rev-parse --verify -q "$base^{commit}" > /dev/null || {
    echo "check_style: CREMA_STYLE_BASE=$base is not a commit here"
    exit 2
  }
else
  # A shallow clone may hold origin/main but not its merge-base with HEAD: then HEAD~1.
  if git rev-parse --verify -q origin/main > /dev/null; then
    base="$(git merge-base HEAD origin/main 2> /dev/null)" || base=""
  fi
  if [ -z "$base" ] && git rev-parse --verify -q 'HEAD~1' > /dev/null; then
    base="HEAD~1"
  fi
  if [ -z "$base" ]; then
    echo "check_style: nothing to compare against (a single-commit clone: no HEAD~1, no" \
         "merge-base with origin/main): style not checked; CREMA_STYLE_BASE=COMMIT sets one"
    exit 0
  fi
fi

changed=()
while IFS= read -r -d '' f; do
  [ -f "$f" ] && changed+=("$f")
done < <({ git diff -z --name-only --diff-filter=d "$base" --
           git ls-files -z --others --exclude-standard; } | sort -zu)
echo "check_style: ${#changed[@]} file(s) changed since $(git rev-parse --short "$base")"
[ ${#changed[@]} -eq 0 ] && exit 0

failed=0
fail() {  # FILE WHAT HOW
  printf 'check_style: %s: %s\n    fix: %s\n' "$1" "$2" "$3"
  failed=1
}
need() {
  command -v "$1" > /dev/null && return
  echo "check_style: $1 not found (scripts/install_deps.sh installs it)"
  exit 1
}

cxx=() tidy=() py=()
for f in "${changed[@]}"; do
  case "$f" in
    *.cpp) cxx+=("$f") tidy+=("$f") ;;
    *.hpp | *.h | *.cu | *.cuh) cxx+=("$f") ;;
    *.py) py+=("$f") ;;
  esac
done

# Layout: the whole of each changed file, as clang-format would write it.
if [ ${#cxx[@]} -gt 0 ]; then
  need "$clang_format"
  for f in "${cxx[@]}"; do
    if ! out="$("$clang_format" --dry-run -Werror "$f" 2>&1)"; then
      echo "$out" | head -n 20
      fail "$f" "not laid out as .clang-format says" "$clang_format -i $f"
    fi
  done
fi

# clang-tidy: findings in the changed .cpp files themselves (not in the headers they include).
if [ ${#tidy[@]} -gt 0 ]; then
  need "$clang_tidy"
  db="$build_dir/compile_commands.json"
  if [ ! -f "$db" ]; then
    echo "check_style: no $db (configure the build first): clang-tidy skipped"
  else
    # A copy of the database without the GCC-only flags clang rejects (-fno-tree-...).
    tidy_db="$(mktemp -d)"
    trap 'rm -rf "$tidy_db"' EXIT
    sed -E 's/ -f(no-)?tree-[a-z-]+//g' "$db" > "$tidy_db/compile_commands.json"
    for f in "${tidy[@]}"; do
      if ! grep -qF "\"file\": \"$root/$f\"" "$db"; then
        echo "check_style: $f is not in $db: clang-tidy skipped for it"
        continue
      fi
      if ! out="$("$clang_tidy" -p "$tidy_db" --quiet --warnings-as-errors='*' \
                   --extra-arg=-Wno-unknown-warning-option "$f" 2>&1)"; then
        echo "$out" | grep -v '^[0-9]* warnings\? generated\.$' || true
        fail "$f" "clang-tidy findings (above)" \
             "change the code, or for a false positive add // NOLINT(<check>) with the reason"
      fi
    done
  fi
fi

# Python: ruff, through the project's lint script when there is one.
if [ ${#py[@]} -gt 0 ] && [ -f scripts/lint_python.sh ]; then
  if ! bash scripts/lint_python.sh "${py[@]}"; then
    fail "${py[*]}" "ruff findings (above)" "as lint_python says (ruff format, ruff check --fix)"
  fi
fi

if [ "$failed" -ne 0 ]; then
  echo "check_style: FAILED (files changed since $base must be clean in whole)"
  exit 1
fi
echo "check_style: clean"
