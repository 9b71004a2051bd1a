"""Test setup: find the library and the shared real-data fixtures.

The library comes from $SAMPLEATTN_LIBRARY; when unset it defaults to the CMake build
(<repo>/build/libsampleattn.so) if present, else SwiftPM's .build/release/libSampleAttnDynamic.so.
Real data: the repository ships a 4K capture in <repo>/data (always tested); larger captures live
in <repo>/../shared/data beside the checkout, and the tests that need them are skipped, with the
reason, when it is absent (SAMPLEATTN_REQUIRE_SHARED_DATA=1, as CI sets it, makes that a failure).
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


SHIPPED_DATA = REPO / "data"


@pytest.fixture(scope="session")
def shared_data():
    d = shared_data_dir()
    if not d.is_dir():
        reason = "real data not found at %s (expected beside the checkout in ../shared/data)" % d
        if os.environ.get("SAMPLEATTN_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(reason + "; SAMPLEATTN_REQUIRE_SHARED_DATA=1 requires it")
        pytest.skip(reason)
    return d


@pytest.fixture(scope="session")
def shipped_data():
    return SHIPPED_DATA


@pytest.fixture
def rng(request):
    import numpy as np
    # one fixed seed per test (stable across runs and orderings)
    seed = sum(map(ord, request.node.nodeid)) % (2**31)
    return np.random.default_rng(seed)
