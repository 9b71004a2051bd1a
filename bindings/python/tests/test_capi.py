"""The 1:1 ctypes layer agrees with include/sampleattn.h: constants, prototypes, struct layouts,
versions."""
import ctypes
import re
import shutil
import subprocess

import pytest

import sampleattn
from sampleattn import _capi as C
from conftest import HEADER


@pytest.fixture(scope="module")
def header():
    if not HEADER.exists():
        pytest.fail("header not found at %s" % HEADER)
    text = HEADER.read_text()
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)   # without comments


def header_defines(header):
    values = {}
    for name, expr in re.findall(r"^#define\s+(SA_\w+)[ \t]+(.+)$", header, flags=re.M):
        if name in ("SA_API",):
            continue
        expr = re.sub(r"(\d+)u\b", r"\1", expr.strip())
        values[name] = eval(expr, {}, dict(values))   # noqa: S307 - our own header
    return values


def test_constants_match_header(header):
    defines = header_defines(header)
    assert len(defines) >= 39
    for name, value in defines.items():
        assert getattr(C, name) == value, name


def test_status_names_cover_all_codes(header):
    defines = header_defines(header)
    codes = {v: n for n, v in defines.items() if n == "SA_OK" or n.startswith("SA_ERR_")}
    assert sorted(codes) == list(range(defines["SA_STATUS_COUNT"]))
    for value, name in codes.items():
        assert C.status_name(value) == name


def header_functions(header):
    flat = " ".join(header.split())
    funcs = {}
    for m in re.finditer(r"SA_API\s+([\w\s\*]+?)\s*\**\s*(sa_\w+)\s*\(([^)]*)\)", flat):
        args = m.group(3).strip()
        funcs[m.group(2)] = 0 if args == "void" else args.count(",") + 1
    return funcs


def test_every_function_declared(header):
    funcs = header_functions(header)
    assert len(funcs) >= 17
    assert set(funcs) == set(C._PROTOTYPES)
    for name, nargs in funcs.items():
        assert len(C._PROTOTYPES[name][1]) == nargs, name
        assert callable(getattr(C, name))           # the loaded library exports it


STRUCTS = ["sa_tensor", "sa_params", "sa_stats", "sa_plan_head", "sa_features"]


def test_struct_layout_matches_c_compiler(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler to check struct layouts")
    lines = ["#include <stdio.h>", "#include <stddef.h>", '#include "sampleattn.h"', "int main(void) {"]
    for s in STRUCTS:
        lines.append('printf("%s sizeof %%zu\\n", sizeof(%s));' % (s, s))
        for f, _ in getattr(C, s)._fields_:
            lines.append('printf("%s %s %%zu\\n", offsetof(%s, %s));' % (s, f, s, f))
    lines += ["return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "layout"
    subprocess.run([cc, "-I", str(HEADER.parent), str(src), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    seen = 0
    for line in out.splitlines():
        s, f, value = line.split()
        t = getattr(C, s)
        got = ctypes.sizeof(t) if f == "sizeof" else getattr(t, f).offset
        assert got == int(value), line
        seen += 1
    assert seen == sum(len(getattr(C, s)._fields_) + 1 for s in STRUCTS)


def test_header_field_names_match(header):
    flat = " ".join(header.split())
    for s in STRUCTS:
        body = re.search(r"typedef struct %s \{(.*?)\} %s;" % (s, s), flat).group(1)
        names = re.findall(r"(\w+)\s*;", body)
        assert names == [f for f, _ in getattr(C, s)._fields_], s


def test_versions(header):
    d = header_defines(header)
    assert sampleattn.__version__ == "%d.%d.%d" % (d["SA_VERSION_MAJOR"], d["SA_VERSION_MINOR"],
                                                   d["SA_VERSION_PATCH"])
    assert sampleattn.version().split(".")[:2] == sampleattn.__version__.split(".")[:2]
    assert sampleattn.version_number() // 100 == d["SA_VERSION_NUMBER"] // 100


def test_features():
    f = sampleattn.features()
    assert set(f) == {"simd_level", "openmp", "max_threads", "max_head_dim", "head_dim_multiple",
                      "isa", "cpu_isa_mask"}
    mask = f["cpu_isa_mask"]
    best = (C.SA_ISA_AMX if mask & C.SA_CPU_AMX_BF16 else C.SA_ISA_AVX512 if mask & C.SA_CPU_AVX512
            else C.SA_ISA_AVX2)
    assert f["isa"] == best   # no SAMPLEATTN_ISA in the test environment
    assert f["max_head_dim"] == 256 and f["head_dim_multiple"] == 8 and f["max_threads"] >= 1


def test_params_default_via_capi():
    # The function (what programs built against the 0.1 header call) fills the 0.1 struct.
    p = C.sa_params()
    C.sa_params_default(ctypes.byref(p))
    assert p.struct_size == 72 and p.alpha_correction == 0
    assert p.mode == C.SA_MODE_SAMPLE and abs(p.alpha - 0.95) < 1e-7 and p.sink_tokens == 4
    p = C.sa_params()
    assert C.sa_params_init(ctypes.byref(p), ctypes.sizeof(p)) == C.SA_OK
    assert p.struct_size == ctypes.sizeof(C.sa_params) and p.alpha_correction == 2
    assert p.precision == C.SA_PRECISION_F32
