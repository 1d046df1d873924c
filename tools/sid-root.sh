#!/bin/sh
# A Debian sid root for the interpreters this Debian 12 machine cannot run
# (CPython 3.14 and 3.15, release and --with-pydebug: their binaries need a
# newer C library), and running commands inside it.
#
#   tools/sid-root.sh make          make it once (debootstrap, ~70 s), cached
#   tools/sid-root.sh path          print its folder if it is ready
#   tools/sid-root.sh run CMD...    run CMD inside it, the project tree
#                                   bind-mounted at its own path, with
#                                   build/sid of it as its build/
#
# Root only (debootstrap, mount, chroot).  The mirror is the one this
# machine's own apt sources name.  The root lives at
# ${PYDEBUG_CACHE:-$HOME/.cache/python-debug}/sid-root; a failed make leaves
# nothing behind, and every mount `run` makes is undone on every way out.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${PYDEBUG_CACHE:-$HOME/.cache/python-debug}
root=$cache/sid-root
# What the tests need in there: the four interpreters with their headers
# and test packages, pytest, a compiler.
PKGS="python3.14 python3.14-dev python3.14-dbg python3.14-venv libpython3.14-testsuite
python3.15 python3.15-dev python3.15-dbg python3.15-venv libpython3.15-testsuite
python3-pytest python3-venv gcc libc6-dev make binutils ca-certificates valgrind"

die() { echo "sid-root: $*" >&2; exit 2; }

mirror() {
    # deb822 sources first (URIs:), then one-line ones (deb URL suite ...);
    # the first archive that is not a security one.
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f"
    done | head -n 1 | grep . && return 0
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "deb" { u = ($2 ~ /^\[/) ? $3 : $2; if (u !~ /security/) { print u; exit } }' | grep .
}

# The root is ready when .ready names exactly today's package list; a root
# made for an older list gets what is missing installed in place.
want=$(echo $PKGS)

install_pkgs() {
    r=$1
    mount_all "$r"
    # The archive this machine reaches may be a snapshot whose Release file
    # has expired: its signature is still checked, its date is not.
    apt="apt-get -o Acquire::Check-Valid-Until=false"
    chroot "$r" sh -c "$apt update -qq && DEBIAN_FRONTEND=noninteractive $apt install -y -qq --no-install-recommends $want" \
        >>"$cache/sid-root.log" 2>&1 || die "apt-get in the sid root failed; see $cache/sid-root.log"
    chroot "$r" apt-get clean
    umount_all
}

make_root() {
    if [ -f "$root/.ready" ]; then
        [ "$(cat "$root/.ready")" = "$want" ] && { echo "$root"; return 0; }
        [ "$(id -u)" = 0 ] || die "the sid root lacks packages and installing them needs root"
        echo "sid-root: installing what the root lacks" >&2
        trap 'umount_all' EXIT INT TERM
        install_pkgs "$root"
        trap - EXIT INT TERM
        echo "$want" >"$root/.ready"
        echo "$root"
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "making the sid root needs root (debootstrap)"
    url=$(mirror) || die "no Debian mirror in this machine's apt sources"
    if ! command -v debootstrap >/dev/null 2>&1; then
        echo "sid-root: installing debootstrap" >&2
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    fi
    tmp=$root.tmp
    mkdir -p "$cache"
    # The base system is kept between tries (.base); anything else that
    # fails leaves the mounts undone and no ready root.
    trap 'umount_all' EXIT INT TERM
    if [ ! -f "$tmp/.base" ]; then
        rm -rf "$tmp"
        echo "sid-root: debootstrap sid from $url (about 70 s)" >&2
        debootstrap --variant=minbase sid "$tmp" "$url" >"$cache/sid-root.log" 2>&1 || {
            rm -rf "$tmp"; die "debootstrap failed; see $cache/sid-root.log"; }
        touch "$tmp/.base"
    fi
    echo "sid-root: installing the interpreters" >&2
    install_pkgs "$tmp"
    trap - EXIT INT TERM
    echo "$want" >"$tmp/.ready"
    rm -rf "$root"
    mv "$tmp" "$root"
    echo "$root"
}

mounted=""
mount_all() {
    r=$1
    # The machine's own name service, trust store and pip configuration,
    # so that pip inside reaches the registry the way it does outside.
    cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
    cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/ca-certificates.crt" 2>/dev/null || true
    [ -r /etc/pip.conf ] && cp /etc/pip.conf "$r/etc/pip.conf"
    mount -t proc proc "$r/proc" && mounted="$r/proc $mounted"
    mount --bind /dev "$r/dev" && mounted="$r/dev $mounted"
    # ptys for the tests that drive an interactive interpreter
    mount --bind /dev/pts "$r/dev/pts" && mounted="$r/dev/pts $mounted"
}

umount_all() {
    for m in $mounted; do umount -l "$m" 2>/dev/null || true; done
    mounted=""
}

run_in() {
    [ -f "$root/.ready" ] || die "no sid root at $root; run: tools/sid-root.sh make"
    [ "$(id -u)" = 0 ] || die "running in the sid root needs root (chroot)"
    trap 'umount_all' EXIT INT TERM HUP
    mount_all "$root"
    mkdir -p "$root$here" "$here/build/sid"
    mount --bind "$here" "$root$here" && mounted="$root$here $mounted"
    # Inside, build/ is a folder of its own: objects compiled against sid's
    # C library do not link on this machine, nor do hosts mix.
    mount --bind "$here/build/sid" "$root$here/build" && mounted="$root$here/build $mounted"
    set +e
    chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin \
        LANG=C.UTF-8 CI="${CI:-}" PYDEBUG_IN_SID=1 sh -c 'cd "$0" && exec "$@"' "$here" "$@"
    rc=$?
    set -e
    umount_all
    trap - EXIT INT TERM HUP
    return $rc
}

case "${1:-}" in
    make) make_root ;;
    path) [ -f "$root/.ready" ] && echo "$root" || exit 1 ;;
    run) shift; [ $# -gt 0 ] || die "run needs a command"; run_in "$@" ;;
    *) die "usage: tools/sid-root.sh make|path|run CMD..." ;;
esac
