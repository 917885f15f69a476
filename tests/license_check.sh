#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every source file of the project names its license (SPDX) near its top; the license text is COPYING and
# debian/copyright says the same. Usage: license_check.sh SOURCE_DIR
set -u
src=${1:?usage: license_check.sh SOURCE_DIR}
cd "$src" || exit 2
tag='SPDX-License-Identifier: GPL-2.0-or-later'
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files)
else
  # No git (a Slurm root): the tree less what .gitignore names at the top (build directories, local GPU-machine
  # files), __pycache__ and _deps.
  mapfile -t files < <(find . \( -name .git -o -path './build*' -o -path ./.h200 -o -path ./.devcluster -o -name _deps \
    -o -name __pycache__ \) -prune -o -type f -print | sed 's|^\./||')
fi
missing=0 checked=0
for f in "${files[@]}"; do
  [[ -f $f && ! -L $f ]] || continue
  case $f in
    fuzz/corpus/*|debian/*|COPYING|*.md|*.json|.clang-format|.gitignore) continue ;;
    *.cpp|*.hpp|*.c|*.h|*.lds|*.py|*.sh|*.yml|*.conf|*.service|*.in|*.sbatch|*.spec|*.[158]|*.default|*CMakeLists.txt) ;;
    *) [[ $(head -c 2 "$f") == '#!' ]] || continue ;;
  esac
  checked=$((checked + 1))
  if ! head -n 3 "$f" | grep -qF "$tag"; then
    echo "license_check: $f: no '$tag' in its first 3 lines" >&2
    missing=$((missing + 1))
  fi
done
grep -q 'GNU GENERAL PUBLIC LICENSE' COPYING && grep -q 'Version 2, June 1991' COPYING ||
  { echo "license_check: COPYING is not the GPL version 2 text" >&2; missing=$((missing + 1)); }
grep -q '^License: GPL-2+$' debian/copyright ||
  { echo "license_check: debian/copyright does not say GPL-2+" >&2; missing=$((missing + 1)); }
echo "license_check: $checked files checked, $missing problem(s)"
[[ $missing -eq 0 ]]
