#!/usr/bin/env python3
"""The two set-up commands. Needs only the system Python 3.11+.

    python3 dev.py start   # venv + dependencies, demo database, web app on http://127.0.0.1:5000/
    python3 dev.py test    # venv + test dependencies + Chromium, then the whole test suite

Everything a test needs is installed here: the Python packages into .venv/, and Debian's
chromium (for the browser tests) through apt-get when it is missing.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".installed-from"
CHROMIUM = "/usr/bin/chromium"


def run(*cmd, **kwargs) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, **kwargs)


def ensure_venv() -> None:
    """Create .venv and (re)install the project whenever pyproject.toml changed."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        if run(sys.executable, "-m", "venv", VENV) != 0:
            sys.exit("could not create the virtual environment (is python3-venv installed?)")
    steps = [(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip"),
             (PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[test]")]
    for step in steps:
        if run(*step) != 0:
            sys.exit("installing the Python dependencies failed")
    STAMP.write_text(wanted)


def ensure_chromium() -> None:
    """Debian's chromium for the Playwright tests (Playwright's own browser download is not used)."""
    if Path(CHROMIUM).exists():
        return
    apt = shutil.which("apt-get")
    if apt is None:
        sys.exit(f"{CHROMIUM} is missing and there is no apt-get to install it")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if run(*sudo, apt, "update", "-qq", env=env) != 0 or run(*sudo, apt, "install", "-y", "-qq", "chromium", "fonts-dejavu-core", env=env) != 0:
        sys.exit("installing chromium failed")


def compile_translations() -> None:
    translations = ROOT / "surveyapp" / "translations"
    if any(translations.glob("*/LC_MESSAGES/*.po")):
        if run(VENV / "bin" / "pybabel", "-q", "compile", "-d", translations) != 0:
            sys.exit("compiling the translations failed")


def start(args: list[str]) -> int:
    ensure_venv()
    compile_translations()
    db = os.environ.get("SURVEYAPP_DB", str(ROOT / "instance" / "surveyapp.db"))
    surveyapp = [VENV / "bin" / "surveyapp", "--db", db]
    if run(*surveyapp, "init") != 0 or run(*surveyapp, "demo") != 0:
        return 1
    port = os.environ.get("PORT", "5000")
    print(f"""
surveyapp is starting on http://127.0.0.1:{port}/
  log in at http://127.0.0.1:{port}/login with one of the demo logins above
  (admin: everything; evaluator: read-only results and exports; unit_lead: the listed units)
  personal answer links of the open round: .venv/bin/surveyapp --db {db} invitations links "September 2014"
  stop with Ctrl+C
""", flush=True)
    env = {**os.environ, "SURVEYAPP_BASE_URL": os.environ.get("SURVEYAPP_BASE_URL", f"http://127.0.0.1:{port}")}
    return run(*surveyapp, "serve", "--port", port, *args, env=env)


def test(args: list[str]) -> int:
    ensure_venv()
    ensure_chromium()
    compile_translations()
    code = run(PYTHON, "-m", "pytest", *args)
    if code == 5:
        print("pytest collected no tests: that is a failure here", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    commands = {"start": start, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    sys.exit(commands[sys.argv[1]](sys.argv[2:]))
