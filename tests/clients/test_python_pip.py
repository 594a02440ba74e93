#!/usr/bin/python3
"""`pip install ./clients/python` works offline in a fresh virtualenv
with the system's site packages, and the installed package runs the
README's example against a real gateway."""

import os
import shutil
import subprocess
import sys
import tempfile

from test_python import ROOT, run_example
from harness import check, child_env, run, scaled


def sh(*argv, cwd=None):
    try:
        r = subprocess.run(argv, cwd=cwd, env=child_env({"PIP_NO_INPUT": "1"}),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=scaled(120))
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{argv} still running after "
                             f"{scaled(120):.0f} s") from None
    check(r.returncode == 0, f"{argv} exited {r.returncode}:\n{r.stdout}"
                             f"{r.stderr}")
    return r.stdout


async def test_pip_install(h):
    """pip install ./clients/python offline (--no-index) in a fresh
    virtualenv with the system's site packages (websockets from Debian),
    then the README example with the installed package. A copy of the
    directory is installed: pip's setuptools build writes build/ and
    *.egg-info beside setup.py."""
    with tempfile.TemporaryDirectory(prefix="sluice-pip-") as tmp:
        src = os.path.join(tmp, "clients", "python")
        shutil.copytree(os.path.join(ROOT, "clients", "python"), src,
                        ignore=shutil.ignore_patterns(
                            "build", "*.egg-info", "__pycache__"))
        venv = os.path.join(tmp, "venv")
        sh(sys.executable, "-m", "venv", "--system-site-packages", venv)
        py = os.path.join(venv, "bin", "python")
        sh(py, "-m", "pip", "install", "--no-index", "--no-cache-dir",
           "--disable-pip-version-check", "./clients/python", cwd=tmp)
        where = sh(py, "-c", "import sluice_client; "
                   "print(sluice_client.__file__)", cwd=venv).strip()
        check(where.startswith(os.path.join(venv, "lib")), f"{where}")
        gw = await h.start(workers=(4,))
        await run_example(py, gw.url, cwd=venv)


if __name__ == "__main__":
    run([test_pip_install])
