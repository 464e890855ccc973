"""Atomic, no-clobber file writes: readers see the old file or the whole new one,
never a partial one, and an existing file is never replaced unless asked.

Without `overwrite` the finished temp file is hard-linked into place: the link fails
if the name exists, so two processes started at once cannot clobber each other's
output (testing for the name and then renaming would leave that race open). With
`overwrite` it is renamed over the target (os.replace). Where the file system has
no hard links, an exclusive create of the target stands in for the link."""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path
from typing import BinaryIO, Callable, Union

from .errors import InputError
from .i18n import Text

Writer = Callable[[BinaryIO], None]
Content = Union[bytes, Writer]


def check_target(path: str | os.PathLike, overwrite: bool) -> None:
    """Refuses early (before any work) what `write_atomic` would refuse at the end."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise InputError(Text("{path}: the folder {folder} does not exist.", "{path}: フォルダ {folder} がありません。"),
                         path=path, folder=folder)
    try:
        is_folder = path.is_dir()
    except OSError as err:  # e.g. a name longer than the file system allows
        raise write_error(path, err) from None
    if is_folder:
        raise InputError(Text("{path}: is a folder.", "{path}: フォルダです。"), path=path)
    if not overwrite and os.path.lexists(path):
        raise exists_error(path)


def exists_error(path: Path) -> InputError:
    return InputError(Text("{path}: already exists; not overwritten (use --overwrite).",
                           "{path}: 既に存在するため上書きしません（--overwrite で上書き）。"), path=path)


def write_atomic(path: str | os.PathLike, data_or_writer: Content, *, overwrite: bool = False) -> Path:
    """Writes bytes (or whatever `writer(handle)` writes) to `path` atomically.

    Raises InputError (one line) when `path` exists and not `overwrite`, or when
    the folder cannot be written; the temp file never stays behind."""
    path = Path(path)
    check_target(path, overwrite)
    # The name is cut short: a target name near the 255-byte limit must not make its temp name too long.
    temp = path.parent / f".{path.name[:40]}.{secrets.token_hex(4)}.tmp"
    try:
        # os.open with 0o666 lets the umask decide the permissions, like any new file
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as err:
        raise write_error(path, err) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            if callable(data_or_writer):
                data_or_writer(handle)
            else:
                handle.write(data_or_writer)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temp, path)
        else:
            _link_into_place(temp, path)
    except BaseException as err:  # also Ctrl-C: never leave the temp file behind
        temp.unlink(missing_ok=True)
        if isinstance(err, FileExistsError):
            raise exists_error(path) from None
        if isinstance(err, OSError):
            raise write_error(path, err) from None
        raise
    return path


def _link_into_place(temp: Path, path: Path) -> None:
    try:
        os.link(temp, path)
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.ENOSYS):
            raise
        _copy_exclusive(temp, path)  # no hard links here (FAT, some network shares)
    temp.unlink()


def _copy_exclusive(temp: Path, path: Path) -> None:
    """O_EXCL create then copy: still no clobbering, though a reader may see it grow."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as out, open(temp, "rb") as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def write_error(path: Path, err: OSError) -> InputError:
    return InputError(Text("{path}: cannot write into {folder} ({why}).", "{path}: {folder} に書き込めません（{why}）。"),
                      path=path, folder=path.parent, why=err.strerror or err)
