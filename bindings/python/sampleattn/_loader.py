"""Finding and loading the native library (libsampleattn).

Search order (the first library that loads and has a matching version wins):

1. ``SAMPLEATTN_LIBRARY``: a full path. When set, it is the only candidate: a wrong path is an
   error rather than a silent fallback to some other copy of the library.
2. Beside the package: ``libsampleattn.so*`` in the directory of this file (a wheel that bundles
   the library).
3. The system: ``ctypes.util.find_library("sampleattn")``, the ``ldconfig -p`` cache,
   ``pkg-config --variable=libdir sampleattn``, and finally the SONAME through the dynamic
   loader's own search (``LD_LIBRARY_PATH``, ...).

A library whose ``sa_version_number()`` has another major or minor version than this package is
refused. When nothing fits, :class:`LibraryNotFoundError` lists every candidate with the reason
it was rejected.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import shutil
import subprocess
from typing import List, Optional, Tuple

from ._version import __version__

ENV_VAR = "SAMPLEATTN_LIBRARY"
SONAME = "libsampleattn.so.0"
LIBNAMES = (SONAME, "libsampleattn.so")


class LibraryNotFoundError(OSError):
    """No usable libsampleattn was found. ``.tried`` lists ``(source, path, reason)``."""

    def __init__(self, tried: List[Tuple[str, str, str]]):
        self.tried = list(tried)
        lines = [f"could not load libsampleattn {_package_major_minor_str()}.x; tried:"]
        if not tried:
            lines.append("  (no candidates found)")
        for source, path, reason in tried:
            lines.append(f"  [{source}] {path}: {reason}")
        lines.append(f"Set {ENV_VAR} to the full path of libsampleattn.so.0 "
                     "(or .build/release/libSampleAttnDynamic.so from `swift build -c release`).")
        super().__init__("\n".join(lines))


def _package_major_minor() -> Tuple[int, int]:
    major, minor = __version__.split(".")[:2]
    return int(major), int(minor)


def _package_major_minor_str() -> str:
    return "%d.%d" % _package_major_minor()


def _run(cmd: List[str]) -> Optional[str]:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           timeout=10, check=False, universal_newlines=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout if r.returncode == 0 else None


def _beside_package() -> List[str]:
    here = os.path.dirname(os.path.abspath(__file__))
    found = sorted(glob.glob(os.path.join(here, "libsampleattn.so*")))
    # Prefer the SONAME, then the dev symlink, then any fully versioned file.
    order = {os.path.join(here, n): i for i, n in enumerate(LIBNAMES)}
    return sorted(found, key=lambda p: (order.get(p, len(order)), p))


def _ldconfig() -> List[str]:
    out = _run(["ldconfig", "-p"]) or _run(["/sbin/ldconfig", "-p"])
    paths = []
    for line in (out or "").splitlines():
        line = line.strip()
        if line.startswith("libsampleattn.so") and "=>" in line:
            paths.append(line.split("=>", 1)[1].strip())
    return paths


def _pkg_config() -> List[str]:
    out = _run(["pkg-config", "--variable=libdir", "sampleattn"])
    libdir = (out or "").strip()
    if not libdir:
        return []
    return [os.path.join(libdir, n) for n in LIBNAMES]


def candidates() -> List[Tuple[str, str]]:
    """The ``(source, path)`` pairs to try, in order (environment first)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return [(ENV_VAR, env)]
    result = [("beside package", p) for p in _beside_package()]
    name = ctypes.util.find_library("sampleattn")
    if name:
        result.append(("find_library", name))
    result += [("ldconfig -p", p) for p in _ldconfig()]
    result += [("pkg-config libdir", p) for p in _pkg_config()]
    result.append(("dynamic loader", SONAME))
    seen, unique = set(), []
    for source, path in result:
        if path not in seen:
            seen.add(path)
            unique.append((source, path))
    return unique


def check_version(lib: ctypes.CDLL) -> Optional[str]:
    """None when ``lib`` has this package's major.minor, else the reason to refuse it."""
    try:
        fn = lib.sa_version_number
    except AttributeError:
        return "does not export sa_version_number (not libsampleattn?)"
    fn.restype = ctypes.c_uint32
    fn.argtypes = []
    number = int(fn())
    major, minor = number // 10000, (number // 100) % 100
    want = _package_major_minor()
    if (major, minor) != want:
        return ("version %d.%d.%d does not match the Python package %s (major.minor %d.%d)"
                % (major, minor, number % 100, __version__, want[0], want[1]))
    return None


def load() -> Tuple[ctypes.CDLL, str]:
    """Loads the first suitable library; returns ``(CDLL, path)``. No caching here."""
    tried: List[Tuple[str, str, str]] = []
    for source, path in candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append((source, path, "no such file"))
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append((source, path, "cannot load: %s" % e))
            continue
        reason = check_version(lib)
        if reason is not None:
            tried.append((source, path, reason))
            continue
        return lib, path
    raise LibraryNotFoundError(tried)
