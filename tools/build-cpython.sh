#!/bin/sh
# Build a CPython the machine lacks from Debian's source package, and cache
# it.  Prints the installed interpreter's path on stdout; progress on stderr.
#
#   tools/build-cpython.sh 3.13 [--debug]
#
# The upstream version is pinned (PINNED below): Debian's package for it is
# fetched with `apt-get source` (a deb-src line for the suite that carries
# it is added when missing), and the upstream tarball inside it is built
# with --enable-shared, or --with-pydebug for --debug, into
#   ${PYDEBUG_CACHE:-$HOME/.cache/python-debug}/cpython-VERSION[-debug]
# ccache keeps rebuilds under a minute.  A finished build is reused; a
# failed one leaves no install behind.
set -e
series=$1
flavour=release
if [ "$2" = "--debug" ]; then flavour=debug; fi
case "$series" in
    3.13) version=3.13.5; suite=trixie ;;
    *) echo "build-cpython: no pinned source for '$series' (known: 3.13)" >&2; exit 2 ;;
esac
cache=${PYDEBUG_CACHE:-$HOME/.cache/python-debug}
name=cpython-$version
if [ $flavour = debug ]; then name=$name-debug; fi
prefix=$cache/$name
exe=$prefix/bin/python$series
if [ -x "$exe" ] && [ -f "$prefix/.complete" ]; then
    echo "$exe"
    exit 0
fi

need=""
for pkg in build-essential ccache dpkg-dev xz-utils libssl-dev zlib1g-dev libffi-dev \
           libbz2-dev liblzma-dev libsqlite3-dev libreadline-dev libexpat1-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
src_list=/etc/apt/sources.list.d/python-debug-$suite-src.sources
if ! grep -rqs "deb-src" /etc/apt/sources.list /etc/apt/sources.list.d/ ||
   ! apt-cache showsrc "python$series" 2>/dev/null | grep -q "^Version: $version"; then
    if [ "$(id -u)" != 0 ]; then
        echo "build-cpython: needs a deb-src line for Debian $suite (run as root to add it)" >&2
        exit 1
    fi
    if [ ! -f "$src_list" ]; then
        printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$suite" >"$src_list"
    fi
    apt-get update -qq >/dev/null
fi
if [ -n "$need" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "build-cpython: missing Debian packages; run: sudo apt-get install -y$need" >&2
        exit 1
    fi
    echo "build-cpython: installing$need" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi

work=$cache/src
mkdir -p "$work"
tarball=$(ls "$work"/python"$series"_"$version".orig.tar.* 2>/dev/null | head -1)
if [ -z "$tarball" ]; then
    deb=$(apt-cache showsrc "python$series" | sed -n "s/^Version: \($version-.*\)/\1/p" | head -1)
    [ -n "$deb" ] || { echo "build-cpython: Debian has no python$series $version source" >&2; exit 1; }
    echo "build-cpython: fetching python$series=$deb source" >&2
    (cd "$work" && apt-get source -qq --download-only "python$series=$deb" >/dev/null)
    tarball=$(ls "$work"/python"$series"_"$version".orig.tar.* | head -1)
fi

tree=$work/$name
log=$work/$name.log
rm -rf "$tree" "$prefix"
mkdir -p "$tree"
tar -xf "$tarball" -C "$tree" --strip-components=1
flags="--prefix=$prefix --enable-shared LDFLAGS=-Wl,-rpath,$prefix/lib"
if [ $flavour = debug ]; then flags="$flags --with-pydebug"; fi
export CCACHE_DIR=$cache/ccache
echo "build-cpython: building $name (log: $log)" >&2
if ! (cd "$tree" && CC="ccache gcc" ./configure $flags && make -j"$(nproc)" && make install) \
        >"$log" 2>&1; then
    tail -30 "$log" >&2
    rm -rf "$prefix"
    echo "build-cpython: build of $name failed" >&2
    exit 1
fi
rm -rf "$tree"
touch "$prefix/.complete"
echo "$exe"
