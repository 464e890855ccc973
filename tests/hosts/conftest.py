"""Fixtures for the real-host tests (GIMP 3 and Krita in the Debian trixie root)."""

from chroot import trixie_root  # noqa: F401  (session fixture shared by test_gimp_real and test_krita_real)
