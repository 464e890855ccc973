#!/bin/bash
# Build (or reuse) a Debian trixie root where the real GIMP 3 and Krita 5.2 run headless.
# Debian 12's GIMP is 2.10 (no Python 3 plug-ins), so the real-host tests run inside this root.
# See /work/shared/docs/hosts.md for the measured facts behind each step.
#
# Usage:
#   tests/hosts/trixie_root.sh ensure            build the root if its stamp is missing (idempotent)
#   tests/hosts/trixie_root.sh install-project   (re)install this checkout into the root's venv
#   tests/hosts/trixie_root.sh run CMD...        mount, run CMD in the root (as root, cwd /omamori), unmount
#   tests/hosts/trixie_root.sh umount            unmount whatever is still mounted
#
# Environment: OMAMORI_TRIXIE_ROOT (default /var/cache/omamori/trixie), OMAMORI_DEBIAN_MIRROR
# (default: the first deb.debian.org-like URI in the host's apt sources), PIP_CERT (copied in).
#
# Shared with the Krita tests (tests/hosts/test_krita_real.py): GIMP owner maintains this file;
# Krita additions go into KRITA_PACKAGES or the marked section below.
set -euo pipefail

ROOT="${OMAMORI_TRIXIE_ROOT:-/var/cache/omamori/trixie}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Bump when the package list or the layout changes: an old root is then completed, not reused blindly.
STAMP_VERSION=3
STAMP="$ROOT/.omamori-root-v$STAMP_VERSION"
VENV=/opt/omamori-venv                 # inside the root
GIMP_PACKAGES="gimp python3-gi gir1.2-gimp-3.0 gir1.2-gegl-0.4 python3-numpy"
KRITA_PACKAGES="krita python3-pyqt5"
# fonts-ipafont-gothic: Japanese labels in dialog screenshots (GTK shows boxes without a CJK font);
# xdotool: clicks OK in a real dialog under Xvfb.
TOOL_PACKAGES="xvfb xauth libimage-exiftool-perl python3-venv ca-certificates fonts-ipafont-gothic xdotool"

log() { echo "trixie_root: $*" >&2; }

mirror() {
    if [ -n "${OMAMORI_DEBIAN_MIRROR:-}" ]; then echo "$OMAMORI_DEBIAN_MIRROR"; return; fi
    # Reuse the mirror the host already trusts (CI and dev machines may only reach that one).
    local m
    m=$(grep -rhoE '(URIs:|deb)[[:space:]]+https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
        /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | awk '{print $2}' | head -1 || true)
    echo "${m:-http://deb.debian.org/debian}"
}

is_mounted() { mountpoint -q "$1" 2>/dev/null; }

do_mount() {
    is_mounted "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
    is_mounted "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
    mkdir -p "$ROOT/dev/pts"
    is_mounted "$ROOT/dev/pts" || mount --bind /dev/pts "$ROOT/dev/pts"
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
}

do_umount() {
    # Reverse order; lazy so a leftover process cannot keep the host's /dev busy.
    # Callers use with_mounts (below), which only unmounts when no other user holds the lock.
    for m in "$ROOT/omamori" "$ROOT/dev/pts" "$ROOT/dev" "$ROOT/proc"; do
        if is_mounted "$m"; then umount -l "$m" || log "could not unmount $m"; fi
    done
}

copy_cert() {
    # pip in the root finds no versions at all without the host's CA bundle (hosts.md, "Checked later").
    if [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then
        mkdir -p "$ROOT/etc/omamori"
        cp -L "$PIP_CERT" "$ROOT/etc/omamori/pip-cert.pem"
    fi
}

in_root() {
    # Run a command in the root with a clean environment (the host's PATH/PYTHONPATH mean nothing there).
    # The venv is not on PATH: GIMP starts its Python plug-ins with `env python3`, which must be Debian's.
    local envs=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
                LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
    [ -f "$ROOT/etc/omamori/pip-cert.pem" ] && envs+=(PIP_CERT=/etc/omamori/pip-cert.pem)
    [ -n "${PIP_INDEX_URL:-}" ] && envs+=(PIP_INDEX_URL="$PIP_INDEX_URL")
    chroot "$ROOT" /usr/bin/env -i "${envs[@]}" "$@"
}

bind_repo() {
    # The checkout is bind-mounted read-only at /omamori: tests see the current working tree.
    mkdir -p "$ROOT/omamori"
    is_mounted "$ROOT/omamori" || { mount --bind "$REPO" "$ROOT/omamori" && mount -o remount,bind,ro "$ROOT/omamori" || true; }
}

with_mounts() {
    # The GIMP and Krita suites may use the root at the same time: each holds a shared flock while
    # mounted, and only the last one out (exclusive lock succeeds) unmounts. chroot.py does the same.
    exec 9>"$ROOT/.omamori-mounts.lock"
    flock -s 9
    do_mount
    # A subshell with -e: a failing step stops the step, and the mounts are still released below.
    set +e
    ( set -e; "$@" )
    local rc=$?
    set -e
    if flock -xn 9; then do_umount; fi
    exec 9>&-
    return $rc
}

ensure() {
    if [ -f "$STAMP" ]; then log "reusing $ROOT"; return 0; fi
    command -v debootstrap >/dev/null || { log "installing debootstrap on the host"; apt-get install -y debootstrap >&2; }
    mkdir -p "$ROOT"
    if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
        local m; m=$(mirror)
        log "debootstrap trixie from $m into $ROOT"
        debootstrap --variant=minbase trixie "$ROOT" "$m" >&2
    fi
    with_mounts setup_packages
    touch "$STAMP"
    log "root ready at $ROOT"
}

setup_packages() {
    copy_cert
    in_root apt-get update >&2
    # --no-install-recommends keeps it to ~2 GB; python3-pyqt5 is only a Recommends of krita but required.
    in_root apt-get install -y --no-install-recommends $GIMP_PACKAGES $KRITA_PACKAGES $TOOL_PACKAGES >&2
    # --- Krita engineer: extra set-up steps go here ---
    in_root apt-get clean
    # A plain venv (no system site packages): Omamori's environment is separate from GIMP's python, as on users' machines.
    in_root python3 -m venv "$VENV" >&2
}

install_project() { with_mounts install_project_mounted; }

install_project_mounted() {
    # pip builds from a writable copy of the tree, like a user's `pip install .` of a download
    # (without local environments, caches and training outputs, which never reach the wheel).
    copy_cert
    bind_repo
    in_root rm -rf /tmp/omamori-src
    in_root sh -c 'mkdir -p /tmp/omamori-src && cd /omamori && tar --exclude=./.git --exclude=./.venv --exclude=./venv --exclude=./models/training --exclude=node_modules --exclude="*.egg-info" --exclude=./build --exclude=./dist --exclude=__pycache__ --exclude=.pytest_cache -cf - . | tar -xf - -C /tmp/omamori-src'
    in_root "$VENV/bin/pip" install --disable-pip-version-check -q /tmp/omamori-src >&2
}

run() { with_mounts run_mounted "$@"; }

run_mounted() {
    copy_cert
    bind_repo
    (cd / && in_root sh -c 'cd /omamori && exec "$@"' sh "$@")
}

# chroot.py sources this file for mirror/do_mount/bind_repo/do_umount without running a command.
if [ -n "${OMAMORI_SOURCE_ONLY:-}" ]; then return 0 2>/dev/null || exit 0; fi
[ "$(id -u)" = 0 ] || { log "must run as root (debootstrap, chroot, mount)"; exit 77; }
cmd="${1:-ensure}"; shift || true
case "$cmd" in
    ensure) ensure ;;
    install-project) ensure; install_project ;;
    run) run "$@" ;;
    umount) do_umount ;;
    root) echo "$ROOT" ;;
    *) log "unknown command $cmd"; exit 2 ;;
esac
