#!/usr/bin/env bash
# cmake --install into a temporary prefix, then use only that prefix: the command, the Python
# module with the interpreter the build used, and find_package(petrel) from an outside project.
# usage: cli_install.sh CMAKE BUILD_DIR SOURCE_DIR C_COMPILER VERSION [PYTHON PY_SITE_DIR]
set -u
CMAKE=$1
BUILD=$2
SRC=$3
CC_=$4
VERSION=$5
PY=${6:-}
PY_SITE=${7:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
cd "$T"
pass=0; fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
P=$T/p

"$CMAKE" --install "$BUILD" --prefix "$P" > install.log 2>&1
rc=$?
check "cmake --install into a fresh prefix" test $rc -eq 0
[ $rc -eq 0 ] || cat install.log
for f in bin/petrel lib/libpetrel.a include/petrel/pet_image.h include/petrel/pet_version.h \
         lib/cmake/petrel/petrelConfig.cmake lib/cmake/petrel/petrelConfigVersion.cmake \
         lib/cmake/petrel/petrelTargets.cmake share/petrel/examples/config/minimal.json \
         share/petrel/examples/python/seed_owned.py; do
  [ -e "$P/$f" ] || bad "installed: $f is missing"
done
n_sbatch=$(ls "$P"/share/petrel/slurm/*.sbatch 2> /dev/null | wc -l)
check "4 sbatch scripts in share/petrel/slurm" test "$n_sbatch" -eq 4
for s in "$P"/share/petrel/slurm/*.sbatch; do
  [ -x "$s" ] && bash -n "$s" || bad "installed $s is not an executable bash script"
done

# The command from the prefix alone (the build tree is not on PATH)
export PATH=$P/bin:$PATH
check "petrel on PATH is the installed one" test "$(command -v petrel)" = "$P/bin/petrel"
petrel info > info.txt 2>&1
check "installed petrel info" test $? -eq 0
check "petrel info: version $VERSION" grep -qx "petrel $VERSION" info.txt
if [ -n "$PY" ]; then
  check "petrel info names the interpreter of the module" grep -qxF "python: $PY (module built for it)" info.txt
fi
petrel demo --help > demo_help.txt 2>&1
check "installed petrel demo --help" test $? -eq 0 -a -s demo_help.txt

# The Python module: the interpreter the build used, PYTHONPATH = the installed site directory
if [ -n "$PY" ]; then
  check "module installed in <prefix>/$PY_SITE" test -d "$P/$PY_SITE"
  file=$(env -u PYTHONHOME PYTHONPATH="$P/$PY_SITE" "$PY" -c \
    'import petrel; assert hasattr(petrel, "ImageOwned"); print(petrel.__file__)' 2> py.err)
  check "$PY imports petrel from the prefix ($file)" test -n "$file" -a "${file#"$P"/}" != "$file"
  [ -s py.err ] && cat py.err
else
  echo "skip: no Python module in this build"
fi

# An outside C project: find_package(petrel) + petrel::petrel, against the prefix only
"$CMAKE" -S "$SRC/tests/install_consumer" -B consumer -DCMAKE_PREFIX_PATH="$P" \
  -DCMAKE_C_COMPILER="$CC_" -DCMAKE_BUILD_TYPE=Release > consumer.log 2>&1 &&
  "$CMAKE" --build consumer >> consumer.log 2>&1
rc=$?
check "outside project configures and builds with find_package(petrel)" test $rc -eq 0
[ $rc -eq 0 ] || cat consumer.log
grep -q "$P/lib/cmake/petrel" consumer/CMakeCache.txt 2> /dev/null
check "it found the installed package" test $? -eq 0
out=$(./consumer/petrel_consumer 2>&1)
check "outside program runs" test $? -eq 0
check "sum of a 4x5x6 image of 0.5 is 60" grep -qx "sum 60.0" <<< "$out"
check "PETREL_VERSION is $VERSION" grep -qx "petrel $VERSION" <<< "$out"

echo "cli_install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
