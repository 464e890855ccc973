"""Saves the X screen's non-black part as a PNG once it has stopped changing (Debian's python3 + Gdk).

Usage: grab_screen.py OUT.png [TIMEOUT_SECONDS]. Prints "BOX x0 y0 x1 y1" (the saved area);
exits 1 if nothing appeared in time."""

import sys
import time

import gi

gi.require_version("Gdk", "3.0")
from gi.repository import Gdk  # noqa: E402


def grab():
    root = Gdk.get_default_root_window()
    pixbuf = Gdk.pixbuf_get_from_window(root, 0, 0, root.get_width(), root.get_height())
    return pixbuf, pixbuf.get_pixels()


def content_box(pixbuf, data):
    """Bounding box of pixels that are not the empty screen's black (no window manager here)."""
    import numpy as np
    rows = np.frombuffer(data, np.uint8).reshape(pixbuf.get_height(), pixbuf.get_rowstride())
    rgb = rows[:, :pixbuf.get_width() * pixbuf.get_n_channels()].reshape(pixbuf.get_height(), pixbuf.get_width(), -1)
    ys, xs = np.nonzero(rgb[..., :3].max(axis=2) > 0)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def main(out, timeout=90.0):
    deadline, last, stable = time.time() + timeout, None, 0
    while time.time() < deadline:
        time.sleep(1.0)
        pixbuf, data = grab()
        box = content_box(pixbuf, data)
        # A dialog is drawn when the screen is the same for three grabs in a row.
        stable = stable + 1 if (box and data == last) else 0
        last = data
        if stable >= 3:
            x0, y0, x1, y1 = box
            pixbuf.new_subpixbuf(x0, y0, x1 - x0, y1 - y0).savev(out, "png", [], [])
            print("BOX", x0, y0, x1, y1)  # where the window is, for a click afterwards
            return 0
    print("no stable window appeared", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 90.0))
