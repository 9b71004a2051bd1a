"""Test setup: find the library and the shared real-data fixtures.

The library comes from $SAMPLEATTN_LIBRARY; when unset it defaults to the CMake build
(<repo>/build/libsampleattn.so) if present, else SwiftPM's .build/release/libSampleAttnDynamic.so.
Real data lives in <repo>/../shared/data; its absence FAILS the tests that need it (CI always
has it).
"""
import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]                      # bindings/python/tests -> repo root

if not os.environ.get("SAMPLEATTN_LIBRARY"):
    for candidate in (REPO / "build" / "libsampleattn.so",
                      REPO / ".build" / "release" / "libSampleAttnDynamic.so"):
        if candidate.exists():
            os.environ["SAMPLEATTN_LIBRARY"] = str(candidate)
            break

try:
    import sampleattn  # noqa: F401  (the installed package)
except ImportError:        # not installed: test the source tree
    sys.path.insert(0, str(HERE.parent))

HEADER = REPO / "include" / "sampleattn.h"


def shared_data_dir():
    return pathlib.Path(os.path.realpath(REPO / ".." / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data():
    d = shared_data_dir()
    if not d.is_dir():
        pytest.fail("shared real-data fixtures not found at %s (expected <repo>/../shared/data); "
                    "these tests must not be skipped" % d)
    return d


@pytest.fixture
def rng(request):
    import numpy as np
    # one fixed seed per test (stable across runs and orderings)
    seed = sum(map(ord, request.node.nodeid)) % (2**31)
    return np.random.default_rng(seed)
