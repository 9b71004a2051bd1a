"""Library lookup: $SAMPLEATTN_LIBRARY, beside the package, the system; version refusal.
Each case runs in a fresh interpreter (the library is loaded once per process)."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import sampleattn

PKG = pathlib.Path(sampleattn.__file__).resolve().parent
LIB = pathlib.Path(os.environ.get("SAMPLEATTN_LIBRARY", ""))


@pytest.fixture
def real_lib():
    if not LIB.is_file():
        pytest.fail("SAMPLEATTN_LIBRARY must point at the library for the tests (got %r)" % str(LIB))
    return LIB.resolve()


def copy_package(dest):
    target = dest / "sampleattn"
    shutil.copytree(PKG, target, ignore=shutil.ignore_patterns("__pycache__", "*.so*"))
    return target


def run(code, env_updates, pythonpath=None):
    env = dict(os.environ)
    env.pop("SAMPLEATTN_LIBRARY", None)
    env.update(env_updates)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, cwd="/")


PROBE = ("import sampleattn\n"
         "try:\n"
         "    print('OK', sampleattn.library_path(), sampleattn.version())\n"
         "except sampleattn.LibraryNotFoundError as e:\n"
         "    print('ERR', e)\n")


def test_env_var_bad_path_lists_it(tmp_path, real_lib):
    pkg_root = tmp_path / "site"
    copy_package(pkg_root)
    missing = tmp_path / "nope" / "libsampleattn.so.0"
    r = run(PROBE, {"SAMPLEATTN_LIBRARY": str(missing)}, pkg_root)
    assert r.stdout.startswith("ERR"), r.stdout + r.stderr
    assert str(missing) in r.stdout and "SAMPLEATTN_LIBRARY" in r.stdout
    assert "no such file" in r.stdout


def test_env_var_not_a_library(tmp_path, real_lib):
    bogus = tmp_path / "libsampleattn.so.0"
    bogus.write_text("not an ELF file")
    r = run(PROBE, {"SAMPLEATTN_LIBRARY": str(bogus)}, copy_package(tmp_path / "site").parent)
    assert r.stdout.startswith("ERR") and "cannot load" in r.stdout, r.stdout + r.stderr


def test_env_var_is_used(tmp_path, real_lib):
    r = run(PROBE, {"SAMPLEATTN_LIBRARY": str(real_lib)})
    assert r.stdout.split()[:2] == ["OK", str(real_lib)], r.stdout + r.stderr


def test_beside_package(tmp_path, real_lib):
    pkg = copy_package(tmp_path / "site")
    (pkg / "libsampleattn.so.0").symlink_to(real_lib)
    r = run(PROBE, {}, tmp_path / "site")
    assert r.stdout.split()[:2] == ["OK", str(pkg / "libsampleattn.so.0")], r.stdout + r.stderr


def test_pkg_config_libdir_is_a_candidate(tmp_path, real_lib):
    if shutil.which("pkg-config") is None:
        pytest.skip("pkg-config not installed")
    libdir = tmp_path / "prefix" / "lib"
    (libdir / "pkgconfig").mkdir(parents=True)
    (libdir / "libsampleattn.so.0").symlink_to(real_lib)
    (libdir / "pkgconfig" / "sampleattn.pc").write_text(
        "prefix=%s\nlibdir=${prefix}/lib\nincludedir=${prefix}/include\n\n"
        "Name: sampleattn\nDescription: test\nVersion: 0.1.0\nLibs: -L${libdir} -lsampleattn\n"
        % (tmp_path / "prefix"))
    code = ("from sampleattn import _loader\n"
            "print(_loader.candidates())\n" + PROBE)
    r = run(code, {"PKG_CONFIG_PATH": str(libdir / "pkgconfig")}, copy_package(tmp_path / "site").parent)
    assert "('pkg-config libdir', '%s')" % (libdir / "libsampleattn.so.0") in r.stdout, r.stdout + r.stderr
    assert "\nOK " in r.stdout, r.stdout + r.stderr


def test_dynamic_loader_search(tmp_path, real_lib):
    libdir = tmp_path / "lib"
    libdir.mkdir()
    (libdir / "libsampleattn.so.0").symlink_to(real_lib)
    r = run(PROBE, {"LD_LIBRARY_PATH": str(libdir)}, copy_package(tmp_path / "site").parent)
    assert r.stdout.startswith("OK"), r.stdout + r.stderr


def test_version_mismatch_is_refused(tmp_path, real_lib):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build a fake library")
    src = tmp_path / "fake.c"
    src.write_text('unsigned sa_version_number(void) { return 20300; }\n'
                   'const char *sa_version_string(void) { return "2.3.0"; }\n')
    fake = tmp_path / "libsampleattn.so.0"
    subprocess.run([cc, "-shared", "-fPIC", str(src), "-o", str(fake)], check=True)
    r = run(PROBE, {"SAMPLEATTN_LIBRARY": str(fake)}, copy_package(tmp_path / "site").parent)
    assert r.stdout.startswith("ERR"), r.stdout + r.stderr
    assert "2.3.0" in r.stdout and "does not match" in r.stdout and str(fake) in r.stdout


def test_import_works_without_library(tmp_path):
    """`import sampleattn` never needs the library; the first call does."""
    code = ("import sampleattn, numpy as np\n"
            "try:\n"
            "    sampleattn.attention(np.ones((8, 1, 8), np.float32), np.ones((8, 1, 8), np.float32),"
            " np.ones((8, 1, 8), np.float32))\n"
            "except OSError as e:\n"
            "    print('ERR', type(e).__name__)\n")
    r = run(code, {"SAMPLEATTN_LIBRARY": str(tmp_path / "missing.so")},
            copy_package(tmp_path / "site").parent)
    assert r.stdout.strip() == "ERR LibraryNotFoundError", r.stdout + r.stderr
