"""Editor-side client of the Omamori worker (standard library only, Python >= 3.8).

Copied beside each installed editor plug-in as ``omamori_bridge.py`` (with the host kit
as ``omamori_hostkit.py``). Each call starts ``python -I -m omamori.bridge.worker DIR`` in
Omamori's own environment and talks through a private temporary folder, which is also the
worker's working folder: request.json and raw pixels in, JSON lines of progress and a result
out. Cancelling kills the worker, so the editor's image is never touched by a half-finished job."""

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading

try:  # inside the omamori package
    from . import hostkit
except ImportError:  # copied beside an editor plug-in, next to omamori_hostkit.py
    try:
        from . import omamori_hostkit as hostkit  # in a plug-in package (Krita)
    except ImportError:
        import omamori_hostkit as hostkit  # beside a plug-in script (GIMP), whose folder is on sys.path

BridgeError, Cancelled = hostkit.BridgeError, hostkit.Cancelled
CONFIG_NAME = "omamori.json"
KIT_NAME = "omamori_hostkit.py"  # the name the installer gives hostkit.py beside a plug-in
_MESSAGES = {
    "no_config": ("Omamori is not set up for this editor: run `omamori install {editor}` in a terminal.",
                  "Omamori がこのエディタ用に設定されていません。ターミナルで `omamori install {editor}` を実行してください。"),
    "no_python": ("Omamori's Python environment was not found at {python}: reinstall Omamori, then run `omamori install {editor}`.",
                  "Omamori の Python 環境 {python} が見つかりません。Omamori を入れ直し、`omamori install {editor}` を実行してください。"),
    "no_module": ("Omamori is not installed in {python}: run `{python} -m pip install omamori`, then `omamori install {editor}`.",
                  "{python} に Omamori が入っていません。`{python} -m pip install omamori` の後 `omamori install {editor}` を実行してください。"),
    "crashed": ("Omamori's worker stopped unexpectedly (exit {code}): {detail}",
                "Omamori のワーカーが予期せず終了しました（終了コード {code}）: {detail}"),
    "cancelled": ("Cancelled.", "キャンセルしました。"),
}


def _ignore_progress(fraction, text):
    pass


def _never_cancel():
    return False


class Bridge:
    """Runs core operations in Omamori's environment at `python`."""

    def __init__(self, python, editor="gimp", poll_seconds=0.05, isolated=True):
        self.python = python
        self.editor = editor
        self.poll_seconds = poll_seconds
        self.isolated = isolated

    @classmethod
    def from_folder(cls, folder, editor):
        """The bridge configured by `omamori install EDITOR` in `folder`."""
        path = os.path.join(folder, CONFIG_NAME)
        try:
            with open(path, encoding="utf-8") as handle:
                config = json.load(handle)
        except (OSError, ValueError):
            raise BridgeError(_MESSAGES["no_config"], editor=editor) from None
        return cls(config.get("python", ""), editor=editor, isolated=config.get("isolated", True) is not False)

    def describe(self):
        """Filters with their parameter declarations, presets and posting profiles."""
        return self._call("describe", {})

    def preset(self, name):
        """One preset as a dict (name, label, steps, export...)."""
        return self._call("preset", {"preset": name})

    def save_preset(self, preset, overwrite=False):
        return self._call("save_preset", {"preset": preset, "overwrite": overwrite})

    def process(self, pixels, width, height, layout, preset, mask=None, seed=None, transfer="srgb",
                on_progress=None, should_cancel=None):
        """Protected pixels, in the same layout. `preset` is a name, path or dict;
        `mask` is optional bytes, one 8-bit weight per pixel (the selection); `transfer` is
        "linear" when the samples hold linear light (the filters then work on them sRGB-encoded
        and the result comes back linear), else "srgb"."""
        args = {"width": width, "height": height, "layout": layout, "preset": preset, "seed": seed,
                "transfer": transfer}
        return self._call("process", args, pixels, mask, on_progress, should_cancel, collect=_read_output)

    def check(self, pixels, width, height, layout, preset, mask=None, on_progress=None, should_cancel=None):
        """How well `preset` protects these pixels, measured on a protected copy in Omamori's environment.

        Returns {"result": the dict `omamori evaluate --json` prints, "report_png": the report picture};
        the picture is a temporary file of its own that the caller deletes once shown."""
        args = {"width": width, "height": height, "layout": layout, "preset": preset}
        return self._call("check", args, pixels, mask, on_progress, should_cancel, collect=_keep_report)

    def export(self, pixels, width, height, layout, preset, path, overwrite=False,
               on_progress=None, should_cancel=None):
        """Writes a protected copy to `path`; returns {"output", "checklist", "notices"}.

        An existing file is replaced only with `overwrite=True`: ask the user first."""
        args = {"width": width, "height": height, "layout": layout, "preset": preset,
                "path": path, "overwrite": overwrite}
        return self._call("export", args, pixels, None, on_progress, should_cancel)

    def _call(self, op, args, pixels=None, mask=None, on_progress=None, should_cancel=None, collect=None):
        """Runs one operation; `collect(folder, result)`, if given, takes what the worker left in the
        job folder before the folder is removed."""
        if not self.python or not os.path.exists(self.python):
            raise BridgeError(_MESSAGES["no_python"], python=self.python or "?", editor=self.editor)
        folder = tempfile.mkdtemp(prefix="omamori-job-")
        try:
            self._write_request(folder, op, args, pixels, mask)
            result = self._run_worker(folder, on_progress or _ignore_progress, should_cancel or _never_cancel)
            return collect(folder, result) if collect else result
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def _write_request(folder, op, args, pixels, mask):
        with open(os.path.join(folder, "request.json"), "w", encoding="utf-8") as handle:
            json.dump({"op": op, "args": args, "lang": hostkit.language()}, handle)
        for name, data in (("input.raw", pixels), ("mask.raw", mask)):
            if data is not None:
                with open(os.path.join(folder, name), "wb") as handle:
                    handle.write(data)

    def command(self, folder):
        """The worker's command line. -I: the editor's PYTHON* variables, the user site and the working
        folder stay out of sys.path, so nothing of the editor's can stand in for Omamori's modules.
        An Omamori installed with `pip install --user` lives in the user site, which -I hides: the
        installer then records isolated=false and -E still drops the variables, while the working
        folder is the private job folder. -X utf8: JSON lines in UTF-8 whatever the locale."""
        return [self.python, "-I" if self.isolated else "-E", "-X", "utf8", "-m", "omamori.bridge.worker", folder]

    def _run_worker(self, folder, on_progress, should_cancel):
        env = dict(os.environ, OMAMORI_LANG=hostkit.language())  # the plug-in set it from the editor's
        process = subprocess.Popen(self.command(folder), cwd=folder, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        lines = queue.Queue()
        reader = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
        reader.start()
        outcome = None
        while outcome is None:
            if should_cancel():
                _stop(process)
                raise Cancelled(_MESSAGES["cancelled"])
            try:
                line = lines.get(timeout=self.poll_seconds)
            except queue.Empty:
                continue
            if line is None:
                break
            outcome = _handle_line(line, on_progress)
        stderr = process.stderr.read().decode("utf-8", "replace")
        code = process.wait()
        if outcome is None:
            raise self._crash_error(code, stderr)
        if "error" in outcome:
            raise BridgeError(outcome["error"])
        return outcome["result"]

    def _crash_error(self, code, stderr):
        if "No module named" in stderr and "omamori" in stderr:
            return BridgeError(_MESSAGES["no_module"], python=self.python, editor=self.editor)
        detail = (stderr.strip().splitlines() or ["no output"])[-1]
        return BridgeError(_MESSAGES["crashed"], code=code, detail=detail)


def _read_output(folder, result):
    with open(os.path.join(folder, "output.raw"), "rb") as handle:
        return handle.read()


def _keep_report(folder, answer):
    """Moves the report picture out of the job folder (which is removed) into a file of its own."""
    handle, path = tempfile.mkstemp(prefix="omamori-report-", suffix=".png")
    os.close(handle)
    shutil.move(os.path.join(folder, os.path.basename(answer["report_png"])), path)
    return dict(answer, report_png=path)


def _pump(stream, lines):
    for raw in stream:
        lines.put(raw.decode("utf-8", "replace"))
    lines.put(None)


def _handle_line(line, on_progress):
    """Progress lines go to the callback; the final result or error line is returned."""
    try:
        event = json.loads(line)
    except ValueError:
        return None  # stray output from a library; not ours to interpret
    if "progress" in event:
        on_progress(float(event["progress"]), event.get("message", ""))
        return None
    return event if ("result" in event or "error" in event) else None


def _stop(process):
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
