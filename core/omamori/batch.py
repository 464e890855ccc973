"""Protecting many files: inputs (files and folders) become planned outputs, checked before any
pixel work, then protected in parallel worker processes or on a Dask cluster. Results come back
in input order, one per file, and no failure of one file stops the others."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import traceback
import uuid
from collections import deque
from concurrent.futures import FIRST_COMPLETED, wait  # light: the process pool is imported when used
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterable

from PIL import Image

from . import export, imageio, jobs, presets
from .atomicfile import check_target
from .errors import InputError, OmamoriError
from .filters.base import CancelToken
from .i18n import Text, current_language
from .jobs import FileResult, internal_error
from .registry import get_registry, leave_skips_to_parent

_OUTPUT_STEM = re.compile(r"-protected(-\d+)?$")  # our own earlier outputs, skipped in folders


@dataclass(frozen=True)
class Task:
    """One input and the output chosen for it; `error` when it was refused before any pixel work."""

    input: str
    target: str | None = None
    error: str | None = None
    notices: tuple[str, ...] = ()


@dataclass
class Plan:
    tasks: list[Task]
    notices: list[str] = field(default_factory=list)  # one line per folder input


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


# ---- planning ---------------------------------------------------------------------------------

def plan(paths: Iterable[str | os.PathLike], preset: presets.Preset, out_dir: str | os.PathLike | None = None,
         *, overwrite: bool = False) -> Plan:
    """Expands folders, picks a distinct output for every input and checks it (folder created,
    writable, not existing unless `overwrite`) before any picture is decoded."""
    found, notices = _expand(paths, out_dir)
    claimed = {_key(path) for path, _ in found}  # never write over an input of this batch
    chosen = preset.export.output_format(None)  # the preset's (or its profile's) format: one read, no sniffing
    tasks = []
    for path, folder in found:
        if not path.is_file():  # missing or unreadable: protect_file says why, in its words
            tasks.append(Task(str(path)))
            continue
        target, notice = _distinct(_default_target(path, folder, chosen), claimed)
        error = _target_problem(target, overwrite)
        tasks.append(Task(str(path), str(target), error, (notice,) if notice else ()))
    return Plan(tasks, notices)


def _expand(paths, out_dir) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(input, output folder) pairs in input order, each input once; folders are walked in name
    order and mirrored under `out_dir`."""
    pairs, notices, seen = [], [], set()
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and not out.is_dir() and out.suffix.lower() in Image.registered_extensions():
        # `--out p.png` would otherwise quietly become a folder called p.png
        raise InputError(Text("--out {out} names a folder, not a file: outputs are named NAME-protected "
                              "inside it. Give a folder (e.g. --out protected).",
                              "--out {out} はファイルではなくフォルダを指定します（出力は中に NAME-protected "
                              "の名前で作られます）。フォルダ名を指定してください（例: --out protected）。"),
                         out=out)
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            images, skipped = _walk(path, out)
            notices.append(Text("{folder}: {n} pictures; {skipped} other files skipped.",
                                "{folder}: 画像 {n} 件。ほかのファイル {skipped} 件は飛ばしました。" if skipped else
                                "{folder}: 画像 {n} 件。")  # "0 件は飛ばしました" reads as if something was
                           .format(folder=path, n=len(images), skipped=skipped))
            found = [(image, (out / image.parent.relative_to(path)) if out else image.parent) for image in images]
        else:
            found = [(path, out if out is not None else path.parent)]
        for image, folder in found:
            if _key(image) not in seen:
                seen.add(_key(image))
                pairs.append((image, folder))
    return pairs, notices


def _walk(root: Path, out: Path | None) -> tuple[list[Path], int]:
    """Pictures under `root` (not following folder links, not entering `out`), and how many other
    files were skipped: hidden files, non-pictures, our own earlier outputs."""
    images, skipped = [], 0
    skip_dir = _key(out) if out is not None else None
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders
                               if not d.startswith(".") and _key(Path(folder) / d) != skip_dir)
        for name in sorted(files):
            path = Path(folder) / name
            if _is_picture_name(path) and path.is_file():
                images.append(path)
            else:
                skipped += 1
    return images, skipped


def _is_picture_name(path: Path) -> bool:
    known = Image.registered_extensions().get(path.suffix.lower())
    return (not path.name.startswith(".") and not _OUTPUT_STEM.search(path.stem)
            and ("JPEG" if known == "MPO" else known) in imageio.FORMATS)


def _default_target(path: Path, folder: Path, chosen: str | None) -> Path:
    """`<stem>-protected.<ext>` in `folder`, in the `chosen` format, else the file's own."""
    fmt = chosen or _sniff_format(path)
    return export.protected_path(path, folder, fmt if fmt in export.EXTENSIONS else None)


def _sniff_format(path: Path) -> str | None:
    """The format from the file's header (no decoding); None when it cannot be told."""
    try:
        with imageio.quiet_decoders():  # size limits are the loader's to judge, in its own words
            with Image.open(path) as im:
                return "JPEG" if im.format == "MPO" else im.format
    except Exception:  # anything unreadable is reported by the worker, with its reason
        return None


def _key(path: Path) -> str:
    # casefold: two names differing only in case are one file on macOS and Windows
    return str(Path(os.path.abspath(path))).casefold()


def _distinct(target: Path, claimed: set[str]) -> tuple[Path, str | None]:
    """`target`, or `<stem>-2.<ext>`, `-3`, ... when another file of this batch already has it."""
    chosen, number = target, 1
    while _key(chosen) in claimed:
        number += 1
        chosen = target.with_name(f"{target.stem}-{number}{target.suffix}")
    claimed.add(_key(chosen))
    if chosen == target:
        return chosen, None
    return chosen, Text("written as {name}: another input of this batch already writes {taken}.",
                        "{name} として書き出しました（{taken} はこの一括処理の別の入力が使います）。"
                        ).format(name=chosen.name, taken=target.name)


def _target_problem(target: Path, overwrite: bool) -> str | None:
    """Why `target` cannot be written (None if it can); creates its folder if missing."""
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return InputError(Text("{path}: cannot create the folder {folder} ({why}).",
                               "{path}: フォルダ {folder} を作れません（{why}）。"),
                          path=target, folder=folder, why=err.strerror or err).message()
    try:
        check_target(target, overwrite)
    except InputError as err:
        return err.message()
    if not os.access(folder, os.W_OK | os.X_OK):
        return InputError(Text("{path}: cannot write into {folder}.", "{path}: {folder} に書き込めません。"),
                          path=target, folder=folder).message()
    return None


# ---- one file, in whichever process runs it ------------------------------------------------------

_cancel_event = None  # a worker process's view of the batch's cancel flag
_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
_busy = False  # a worker is protecting a file
_stop_signal = None  # the SIGTERM or SIGHUP a worker was sent: it ends once its file is stopped


class _SharedCancel(CancelToken):
    """The batch's cancel flag as seen from a worker process (or this worker's own stop)."""

    def __init__(self, event):
        super().__init__()
        self._event = event

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set() or _stop_signal is not None


def protect_task(task: Task, preset: presets.Preset, overwrite: bool, lang: str | None = None,
                 report_dir: str | os.PathLike | None = None) -> FileResult:
    """Protects one planned file (and writes its report picture into `report_dir`); never raises
    (an unexpected exception is one 'internal error' line)."""
    global _busy
    if lang:  # a cluster worker answers in the language of the user who started the batch
        os.environ["OMAMORI_LANG"] = lang
    _busy = True
    try:
        cancel = _SharedCancel(_cancel_event) if _cancel_event is not None else None
        result = jobs.protect_file(task.input, preset, target=task.target, overwrite=overwrite, cancel=cancel)
    except Exception as err:  # protect_file should not raise; the batch must not die if it does
        return internal_error(task.input, err, traceback.format_exc())
    finally:
        _busy = False
        if _stop_signal is not None:
            _end_worker(_stop_signal)
    result.notices = list(task.notices) + list(result.notices)
    if result.ok and report_dir is not None:
        add_report(result, report_dir, preset)
    return result


def add_report(result: FileResult, report_dir: str | os.PathLike, preset: presets.Preset) -> None:
    """`protect --report DIR`: the report's path, or why there is none, as a notice (the batch goes on)."""
    from .evaluate import report_file  # the measuring encoder loads only when a report is asked for

    try:
        where = report_file(result.input, result.output, report_dir, profile=preset.export.profile)
        result.notices.append(Text("report: {path}", "レポート: {path}").format(path=where))
    except OmamoriError as err:
        result.notices.append(Text("no report: {why}", "レポートなし: {why}").format(why=err.message()))


def _init_worker(threads: int, event, lifeline) -> None:
    global _cancel_event
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which sets the flag
    for number in _STOP_SIGNALS:
        signal.signal(number, _stop_after_this_file)
    if hasattr(signal, "pthread_sigmask"):  # not on Windows, where workers are spawned
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)  # blocked in the fork server
    threading.Thread(target=_watch_parent, args=(lifeline,), daemon=True).start()
    _cancel_event = event
    leave_skips_to_parent()
    # Divide the cores: N workers x their onnxruntime threads = the cores (a user's setting wins).
    os.environ.setdefault("OMAMORI_THREADS", str(threads))


def _stop_after_this_file(number: int, frame) -> None:
    """SIGTERM or SIGHUP (a `kill`, `timeout`, a closed terminal): dying at once could leave a
    half-written temp file, so the file in hand stops at its next cancel check and the worker then
    ends, by that signal, as the pool expects (at once when idle)."""
    global _stop_signal
    _stop_signal = number
    if not _busy:
        _end_worker(number)


def _end_worker(number: int) -> None:
    signal.signal(number, signal.SIG_DFL)
    os.kill(os.getpid(), number)


def _watch_parent(lifeline) -> None:
    """Ends this worker the same way when the batch's process is gone (killed outright, where it
    cannot stop its pool): only it holds the lifeline's other end, so reading sees the end of it."""
    try:
        lifeline.recv()
    except EOFError:
        os.kill(os.getpid(), _STOP_SIGNALS[0])


# ---- running the plan ---------------------------------------------------------------------------

Call = Callable[[Task], FileResult]  # also takes overwrite= (see run_in_processes)
Done = Callable[[int, FileResult], None]


def run(planned: Plan, preset: presets.Preset, *, overwrite: bool = False, workers: int | None = None, client=None,
        report_dir: str | os.PathLike | None = None, on_result: Callable[[FileResult], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None) -> list[FileResult]:
    """Protects the planned files; `on_result` sees each result in input order as soon as it and
    every one before it are done, `on_progress` (done, total) as files finish."""
    tasks = planned.tasks
    results: list[FileResult | None] = [None] * len(tasks)
    state = {"next": 0, "done": 0}

    def done(index: int, result: FileResult) -> None:
        results[index] = result
        state["done"] += 1
        if on_progress:
            on_progress(state["done"], len(tasks))
        while state["next"] < len(tasks) and results[state["next"]] is not None:
            if on_result:
                on_result(results[state["next"]])
            state["next"] += 1

    runnable = []
    for index, task in enumerate(tasks):
        if task.error:
            done(index, FileResult(input=task.input, error=task.error))
        else:
            runnable.append(index)
    if client is not None:
        _run_cluster(tasks, runnable, preset, overwrite, client, done, report_dir)
    else:
        workers = max(1, min(workers or available_cores(), len(runnable)))
        call = partial(protect_task, preset=preset, overwrite=overwrite, report_dir=report_dir)
        if workers == 1:
            for index in runnable:
                done(index, call(tasks[index]))
        else:
            run_in_processes(tasks, runnable, call, workers, done)
    return results


def run_in_processes(tasks: list[Task], indices: list[int], call: Call, workers: int, done: Done) -> None:
    """At most `workers` files in flight (so at most that many pictures in memory). When a worker
    process dies (killed for memory, a crash in a decoder), the files it may have held are run
    again one at a time, so that only the file that kills its worker is reported, in one line."""
    import multiprocessing  # here, not at the top: one picture (the usual `apply`) never starts a pool

    context = multiprocessing.get_context(
        "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn")
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(["omamori.jobs"])  # each worker starts with the imports done
        _start_helpers_shielded()
    get_registry()  # the parent says which plug-ins are skipped, once; its workers stay silent (_init_worker)
    event = context.Event()
    lifeline, keep = context.Pipe(duplex=False)  # closed when this process ends, however (_watch_parent)
    threads = max(1, available_cores() // workers)
    queue = deque(indices)
    # A suspect may have written its output before the death took its result with it; planning already
    # refused targets that existed before the batch, so what is there now is this batch's own and may go.
    again = partial(call, overwrite=True)
    with lifeline, keep:
        while queue:
            suspects = _pool_pass(tasks, queue, call, workers, context, (threads, event, lifeline), done)
            for index in suspects:  # alone, so that a second death names its file
                if _pool_pass(tasks, deque([index]), again, 1, context, (available_cores(), event, lifeline), done):
                    done(index, FileResult(input=tasks[index].input, error=_crash_line(tasks[index].input)))


def _start_helpers_shielded() -> None:
    """Starts multiprocessing's helper processes with signals blocked, a mask they keep: the
    resource tracker (it shields itself from SIGINT and SIGTERM only) outlives a closed terminal,
    whose SIGHUP would kill it and make its replacement print a traceback per semaphore; the fork
    server outlives a `kill` of the whole run, which made starting a worker an internal error, and
    it and the workers forked from it never see a Ctrl-C, which printed their traceback while they
    imported omamori (workers take SIGTERM and SIGHUP back, _init_worker). The batch's own process
    still gets them all and stops the batch; the fork server ends with its last worker."""
    from multiprocessing import forkserver, resource_tracker

    _started_with_blocked(resource_tracker.ensure_running, {signal.SIGHUP})
    _started_with_blocked(forkserver.ensure_running, {signal.SIGINT, *_STOP_SIGNALS})


def _started_with_blocked(start: Callable[[], None], numbers: set[int]) -> None:
    before = signal.pthread_sigmask(signal.SIG_BLOCK, numbers)
    try:
        start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)  # a signal held meanwhile arrives now


def _pool_pass(tasks, queue: deque, call: Call, workers: int, context, initargs, done: Done) -> list[int]:
    """Runs from `queue` until it is empty or a worker dies; returns the files in flight at a death."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=initargs) as pool:
        try:
            return _drain(tasks, queue, call, workers, pool, done)
        except KeyboardInterrupt:
            initargs[1].set()  # workers stop at their next check, before the pool waits for them
            raise


def _drain(tasks, queue: deque, call: Call, workers: int, pool, done: Done) -> list[int]:
    from concurrent.futures.process import BrokenProcessPool

    flying: dict = {}
    while queue or flying:
        while queue and len(flying) < workers:
            index = queue.popleft()
            with _stops_held():
                flying[pool.submit(call, tasks[index])] = index
        finished, _ = wait(flying, return_when=FIRST_COMPLETED)
        broken = False
        for future in finished:
            try:
                result = future.result()
            except BrokenProcessPool:
                broken = True
                continue
            except Exception as err:  # e.g. a result that could not be sent back
                result = internal_error(tasks[flying[future]].input, err)
            done(flying.pop(future), result)
        if broken:  # every file still in flight may be the one that killed its worker
            return list(flying.values())
    return []


@contextlib.contextmanager
def _stops_held():
    """Holds Ctrl-C (and the signals stopping a batch like it) while the pool may start a worker:
    stopping then left a worker the pool did not know yet, which read its semaphores from this
    process after it had ended and removed them (a traceback per worker). Then it stops the batch."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers are the main thread's
        yield
        return
    held = []
    numbers = [number for number in (signal.SIGINT, *_STOP_SIGNALS) if callable(signal.getsignal(number))]
    before = {number: signal.signal(number, lambda number, frame: held.append(number)) for number in numbers}
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
        if held:  # the stop, rather than whatever it caused meanwhile
            before[held[0]](held[0], None)


def _crash_line(path: str) -> str:
    return Text("{path}: the worker process stopped while protecting this file (out of memory, or a crash "
                "in a decoder); the other files went on.",
                "{path}: この画像の処理中にワーカープロセスが停止しました（メモリ不足か読み込みの異常終了）。"
                "ほかのファイルは処理を続けました。").format(path=path)


def _run_cluster(tasks: list[Task], indices: list[int], preset: presets.Preset, overwrite: bool, client,
                 done: Done, report_dir: str | os.PathLike | None = None) -> None:
    """Submits every file to the Dask cluster and reports them as they finish."""
    from distributed import KilledWorker, as_completed

    lang = current_language()
    claims = f"omamori-batch-{uuid.uuid4().hex}"  # this batch's claims on its targets, in the scheduler
    futures = {client.submit(protect_task_on_worker, tasks[i], preset, overwrite, lang, report_dir, claims,
                             pure=False): i
               for i in indices}
    try:
        for future in as_completed(futures):
            index = futures[future]
            try:
                result = future.result()
            except KilledWorker as err:  # its workers died (memory, a crash) each time it was tried
                result = FileResult(input=tasks[index].input, error=_crash_line(tasks[index].input))
                result.debug = str(err)
            except Exception as err:  # e.g. omamori missing on a worker: the task could not start
                result = internal_error(tasks[index].input, err)
            done(index, result)
    except KeyboardInterrupt:
        client.cancel(list(futures))  # queued files never start; running ones finish their file
        raise
    client.set_metadata(claims, None)  # the scheduler keeps metadata until told otherwise


def protect_task_on_worker(task: Task, preset: presets.Preset, overwrite: bool, lang: str,
                           report_dir: str | os.PathLike | None, claims: str) -> FileResult:
    """protect_task inside a Dask worker, its onnxruntime threads divided between its task threads."""
    from distributed import get_worker

    threads = max(1, available_cores() // max(1, get_worker().state.nthreads))
    os.environ.setdefault("OMAMORI_THREADS", str(threads))
    own = _claimed_by_an_earlier_try(task, claims)
    return protect_task(task, preset, overwrite or own, lang, report_dir)


def _claimed_by_an_earlier_try(task: Task, claims: str) -> bool:
    """Whether an earlier try of this file in this batch found its target free. Dask tries a file
    again elsewhere when its worker dies, possibly after the output was written; that output is
    the batch's own and may go (the local twin: `again` in run_in_processes)."""
    from distributed import get_client

    client, claim = get_client(), [claims, str(task.target)]
    if client.get_metadata(claim, default=False):
        return True
    if not os.path.lexists(task.target):  # a file that appeared since planning is never claimed
        client.set_metadata(claim, True)
    return False


# ---- the Python API (contract 3) ------------------------------------------------------------------

def protect_paths(paths: Iterable[str | os.PathLike], preset: presets.Preset | str, out_dir=None, client=None, *,
                  jobs: int | None = None, overwrite: bool = False,
                  report_dir: str | os.PathLike | None = None) -> list[FileResult]:
    """Protects files and folders with `preset` into `out_dir` (None: beside each input), in
    parallel processes (`jobs`, default all cores) or on a Dask `client`; results in input order.
    `report_dir`, when given, receives a report picture per protected file (`omamori evaluate`)."""
    preset = preset if isinstance(preset, presets.Preset) else presets.load_preset(preset)
    preset.validate()
    planned = plan(paths, preset, out_dir, overwrite=overwrite)
    return run(planned, preset, overwrite=overwrite, workers=jobs, client=client, report_dir=report_dir)
