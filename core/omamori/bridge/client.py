"""Editor-side client of the Omamori worker (standard library only, Python >= 3.8).

Copied beside each installed editor plug-in as ``omamori_bridge.py``. Each call
starts ``python -m omamori.bridge.worker DIR`` in Omamori's own environment and
talks through a private temporary folder: request.json and raw pixels in,
JSON lines of progress and a result out. Cancelling kills the worker, so the
editor's image is never touched by a half-finished job."""

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
    "no_config": ("Omamori is not set up for this editor: run `omamori install {host}` in a terminal.",
                  "Omamori がこのエディタ用に設定されていません。ターミナルで `omamori install {host}` を実行してください。"),
    "no_python": ("Omamori's Python environment was not found at {python}: reinstall Omamori, then run `omamori install {host}`.",
                  "Omamori の Python 環境 {python} が見つかりません。Omamori を入れ直し、`omamori install {host}` を実行してください。"),
    "no_module": ("Omamori is not installed in {python}: run `{python} -m pip install omamori`, then `omamori install {host}`.",
                  "{python} に Omamori が入っていません。`{python} -m pip install omamori` の後 `omamori install {host}` を実行してください。"),
    "crashed": ("Omamori's worker stopped unexpectedly (exit {code}): {detail}",
                "Omamori のワーカーが予期せず終了しました（終了コード {code}）: {detail}"),
    "cancelled": ("Cancelled.", "キャンセルしました。"),
}


def language():
    """'ja' or 'en', in the kit's one precedence order (the plug-ins set OMAMORI_LANG from the editor's)."""
    return hostkit.language()


def _ignore_progress(fraction, text):
    pass


def _never_cancel():
    return False


class Bridge:
    """Runs core operations in Omamori's environment at `python`."""

    def __init__(self, python, host="gimp", poll_seconds=0.05):
        self.python = python
        self.host = host
        self.poll_seconds = poll_seconds

    @classmethod
    def from_folder(cls, folder, host):
        """The bridge configured by `omamori install HOST` in `folder`."""
        path = os.path.join(folder, CONFIG_NAME)
        try:
            with open(path, encoding="utf-8") as handle:
                config = json.load(handle)
        except (OSError, ValueError):
            raise BridgeError(_MESSAGES["no_config"], host=host) from None
        return cls(config.get("python", ""), host=host)

    def describe(self):
        """Filters with their parameter declarations, presets and posting profiles."""
        return self._call("describe", {})

    def preset(self, name):
        """One preset as a dict (name, label, steps, export...)."""
        return self._call("preset", {"preset": name})

    def save_preset(self, preset, overwrite=False):
        return self._call("save_preset", {"preset": preset, "overwrite": overwrite})

    def process(self, pixels, width, height, layout, preset, mask=None, seed=None,
                on_progress=None, should_cancel=None):
        """Protected pixels, in the same layout. `preset` is a name, path or dict;
        `mask` is optional bytes, one 8-bit weight per pixel (the selection)."""
        args = {"width": width, "height": height, "layout": layout, "preset": preset, "seed": seed}
        result, output = self._call("process", args, pixels, mask, on_progress, should_cancel, want_output=True)
        return output

    def export(self, pixels, width, height, layout, preset, path, overwrite=True,
               on_progress=None, should_cancel=None):
        """Writes a protected copy to `path`; returns {"output", "checklist", "notices"}."""
        args = {"width": width, "height": height, "layout": layout, "preset": preset,
                "path": path, "overwrite": overwrite}
        return self._call("export", args, pixels, None, on_progress, should_cancel)

    def _call(self, op, args, pixels=None, mask=None, on_progress=None, should_cancel=None,
              want_output=False):
        if not self.python or not os.path.exists(self.python):
            raise BridgeError(_MESSAGES["no_python"], python=self.python or "?", host=self.host)
        folder = tempfile.mkdtemp(prefix="omamori-job-")
        try:
            self._write_request(folder, op, args, pixels, mask)
            result = self._run_worker(folder, on_progress or _ignore_progress, should_cancel or _never_cancel)
            if want_output:
                with open(os.path.join(folder, "output.raw"), "rb") as handle:
                    return result, handle.read()
            return result
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def _write_request(folder, op, args, pixels, mask):
        with open(os.path.join(folder, "request.json"), "w", encoding="utf-8") as handle:
            json.dump({"op": op, "args": args, "lang": language()}, handle)
        for name, data in (("input.raw", pixels), ("mask.raw", mask)):
            if data is not None:
                with open(os.path.join(folder, name), "wb") as handle:
                    handle.write(data)

    def _run_worker(self, folder, on_progress, should_cancel):
        env = dict(os.environ, OMAMORI_LANG=language(), PYTHONIOENCODING="utf-8")
        # The editor's own Python paths must not leak into Omamori's interpreter.
        for var in ("PYTHONPATH", "PYTHONHOME"):
            env.pop(var, None)
        process = subprocess.Popen(
            [self.python, "-m", "omamori.bridge.worker", folder],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
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
            return BridgeError(_MESSAGES["no_module"], python=self.python, host=self.host)
        detail = (stderr.strip().splitlines() or ["no output"])[-1]
        return BridgeError(_MESSAGES["crashed"], code=code, detail=detail)


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
