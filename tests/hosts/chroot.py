"""Run commands inside the Debian trixie root where the real GIMP 3 and Krita live.

Shared by tests/hosts/test_gimp_real.py and tests/hosts/test_krita_real.py. The root itself
is built by trixie_root.sh (next to this file); this module adds what pytest needs:

- ``ensure_root()``: build/reuse the root and pip-install this checkout into its venv, or skip
  with a clear reason (not root, no debootstrap, no Debian mirror). With ``CI`` set a missing
  prerequisite fails instead: CI must really run the real-host tests.
- ``mounted()``: proc/dev/dev/pts and the checkout (read-only at /omamori) mounted for the
  duration. Several test sessions may share the root (the GIMP and Krita suites run side by side
  on dev machines), so each holds a shared flock while mounted and only the last one out unmounts.
- ``run_in_root(cmd, env, timeout)``: one shell command in the root, returns CompletedProcess.
- the ``trixie_root`` session fixture (re-exported by conftest.py) doing both.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCRIPT = HERE / "trixie_root.sh"
ROOT = Path(os.environ.get("OMAMORI_TRIXIE_ROOT", "/var/cache/omamori/trixie"))
# The script owns the stamp's version (bumped when its package list changes).
STAMP = ROOT / (".omamori-root-v" + re.search(r"^STAMP_VERSION=(\d+)", SCRIPT.read_text(), re.M).group(1))
VENV_BIN = "/opt/omamori-venv/bin"
REPO_IN_ROOT = "/omamori"
# Not the venv: GIMP starts Python plug-ins with `env python3`, which must find Debian's python3 (with gi).
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Paths whose content decides whether the venv's copy of Omamori is stale.
_SOURCE_PARTS = ("pyproject.toml", "setup.py", "core", "gimp_plugin", "krita_plugin", "models")


def _mirror() -> str:
    out = subprocess.run(["bash", "-c", f"OMAMORI_SOURCE_ONLY=1 source {SCRIPT}; mirror"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "http://deb.debian.org/debian"


def skip_reason() -> str | None:
    """Why the real-host tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "real-host tests need root (debootstrap, chroot and mount)"
    if not shutil.which("chroot") or not shutil.which("mount"):
        return "chroot/mount not available"
    if STAMP.exists():
        return None  # already built: no network needed to reuse it
    if not shutil.which("debootstrap") and not shutil.which("apt-get"):
        return "debootstrap is not installed and apt-get cannot install it"
    url = _mirror().rstrip("/") + "/dists/trixie/Release"
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10).close()
    except OSError as err:
        return f"no network to the Debian mirror ({url}: {err})"
    return None


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"real-host tests must run in CI, but: {reason}")
    pytest.skip(reason)


def _source_hash() -> str:
    digest = hashlib.sha256()
    for part in _SOURCE_PARTS:
        base = REPO / part
        # models/: only the shipped top-level files (training outputs below it never reach the wheel).
        found = base.glob("*") if part == "models" else base.rglob("*")
        files = [base] if base.is_file() else sorted(p for p in found if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc" or ".egg-info" in str(path):
                continue
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@contextlib.contextmanager
def _build_lock():
    """One builder/installer at a time (the lock file sits beside the root, which may not exist yet)."""
    ROOT.parent.mkdir(parents=True, exist_ok=True)
    with open(str(ROOT) + ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def ensure_root() -> Path:
    """Builds or reuses the root and installs the current checkout into its venv (only if changed)."""
    reason = skip_reason()
    if reason:
        _skip_or_fail(reason)
    with _build_lock():
        proc = subprocess.run([str(SCRIPT), "ensure"], capture_output=True, text=True, timeout=1800)
        if proc.returncode:
            _skip_or_fail(f"could not build the trixie root: {proc.stderr.strip()[-2000:]}")
        marker = ROOT / ".omamori-installed"
        wanted = _source_hash()
        if not marker.exists() or marker.read_text() != wanted:
            proc = subprocess.run([str(SCRIPT), "install-project"], capture_output=True, text=True,
                                  timeout=900)
            if proc.returncode:
                pytest.fail(f"pip install of this checkout into the trixie root failed:\n{proc.stderr[-4000:]}")
            marker.write_text(wanted)
    return ROOT


def _is_mount(path: Path) -> bool:
    return subprocess.run(["mountpoint", "-q", str(path)]).returncode == 0


@contextlib.contextmanager
def mounted():
    """Mounts what the root needs; the last session out (exclusive flock succeeds) unmounts."""
    lock = open(ROOT / ".omamori-mounts.lock", "w")
    fcntl.flock(lock, fcntl.LOCK_SH)
    try:
        # The script's mount helpers are idempotent; reuse them rather than repeating the list.
        subprocess.run(["bash", "-c", f"OMAMORI_SOURCE_ONLY=1 source {SCRIPT}; do_mount; bind_repo"],
                       check=True, capture_output=True, text=True)
        # Another session may have bound a different checkout at /omamori: its files are not ours to test.
        if not os.path.samefile(ROOT / REPO_IN_ROOT.lstrip("/") / "tests/hosts/chroot.py", __file__):
            pytest.fail(f"{ROOT}{REPO_IN_ROOT} holds another checkout (a test session from it is running); "
                        "wait for it to finish or use another OMAMORI_TRIXIE_ROOT")
        yield ROOT
    finally:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # another session still uses the mounts
        else:
            subprocess.run(["bash", "-c", f"OMAMORI_SOURCE_ONLY=1 source {SCRIPT}; do_umount"],
                           capture_output=True, text=True)
        lock.close()


def run_in_root(cmd: str, env: dict | None = None, timeout: float = 600, cwd: str = REPO_IN_ROOT,
                check: bool = False) -> subprocess.CompletedProcess:
    """Runs the shell command `cmd` in the root with a clean environment plus `env`.

    Needs the mounts (use inside ``mounted()`` or the ``trixie_root`` fixture)."""
    base = {"HOME": "/root", "PATH": BASE_PATH, "LANG": "C.UTF-8"}
    if (ROOT / "etc/omamori/pip-cert.pem").exists():
        base["PIP_CERT"] = "/etc/omamori/pip-cert.pem"
    full = {**base, **(env or {})}
    argv = ["chroot", str(ROOT), "/usr/bin/env", "-i", *[f"{k}={v}" for k, v in full.items()],
            "sh", "-c", f'cd "$0" && {cmd}', cwd]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode:
        raise AssertionError(f"in trixie root: {cmd!r} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}")
    return proc


def host_path(path_in_root: str) -> Path:
    """The host path of a file inside the root (to read results without another chroot call)."""
    return ROOT / path_in_root.lstrip("/")


@pytest.fixture(scope="session")
def trixie_root():
    """The built root with this checkout installed and everything mounted, for the whole session."""
    ensure_root()
    with mounted() as root:
        yield root
