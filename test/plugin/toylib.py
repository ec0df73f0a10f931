"""An OpenStack-style toy library, made the way the real ones are (oslo.config,
python-novaclient): pbr metadata in setup.cfg, the version from a git tag, requirements.txt and
test-requirements.txt, stestr as the runner, and a tox.ini whose constraints default to
https://releases.openstack.org/constraints/upper/master. It is itself pinned in the served
constraints (conftest.TOYLIB_PIN), one release behind the checkout, as every OpenStack library
is; that pin is what pip clashed with before the plugin left it out.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

# python-novaclient's shape: an editable install of the project, `-c` in deps
TOX_INI_DEVELOP = """[tox]
envlist = py3
minversion = 4.6.0

[testenv]
usedevelop = true
passenv =
  TOYLIB_EXACT
deps =
  -c{env:TOX_CONSTRAINTS_FILE:https://releases.openstack.org/constraints/upper/master}
  -r{toxinidir}/test-requirements.txt
  -r{toxinidir}/requirements.txt
commands =
  stestr run {posargs}
"""
# oslo.config's shape: the project built as a package, tox's `constraints` setting
TOX_INI_PACKAGE = """[tox]
minversion = 4.28.0
envlist = py3

[testenv]
passenv =
  TOYLIB_EXACT
constraints =
  {env:TOX_CONSTRAINTS_FILE:https://releases.openstack.org/constraints/upper/master}
deps =
  -r{toxinidir}/test-requirements.txt
commands =
  stestr run {posargs}
"""
FILES = {
    "setup.cfg": """[metadata]
name = depcanary-toylib
summary = OpenStack-style toy library for depcanary's tests
python_requires = >=3.9

[files]
packages =
    toylib
""",
    "setup.py": "import setuptools\n\nsetuptools.setup(setup_requires=['pbr>=6.0.0'], pbr=True)\n",
    "pyproject.toml": """[build-system]
requires = ["pbr>=6.0.0", "setuptools>=64.0.0"]
build-backend = "pbr.build"
""",
    "requirements.txt": "depcanary-fakelib>=1.0.0 # Apache-2.0\n",
    "test-requirements.txt": "stestr>=4.0.0 # Apache-2.0\n",
    ".stestr.conf": "[DEFAULT]\ntest_path=./toylib/tests\ntop_dir=./\n",
    "toylib/__init__.py": "import depcanary_fakelib\n\n\ndef answer():\n    return depcanary_fakelib.answer()\n",
    "toylib/tests/__init__.py": "",
    "toylib/tests/test_toylib.py": """import os
import unittest

import toylib


class TestAnswer(unittest.TestCase):
    def test_answer_is_a_number(self):
        self.assertIsInstance(toylib.answer(), int)

    @unittest.skipUnless(os.environ.get("TOYLIB_EXACT"), "set TOYLIB_EXACT=1")
    def test_exact_answer(self):
        self.assertEqual(42, toylib.answer())
""",
}
STESTR_FAILING_ID = "toylib.tests.test_toylib.TestAnswer.test_exact_answer"


def git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Toy", "-c", "user.email=toy@example.org", *args],
        cwd=project,
        check=True,
        capture_output=True,
        timeout=30,
    )


def write_toylib(project: Path, tox_ini: str | None = None) -> None:
    for old in ("tests/test_consumer.py", "tests", "pyproject.toml", "default-constraints.txt"):
        path = project / old
        if path.is_file():
            path.unlink()
        elif path.is_dir():
            path.rmdir()
    for name, text in {**FILES, "tox.ini": tox_ini or TOX_INI_DEVELOP}.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    (project / ".gitignore").write_text(".tox/\n.stestr/\n*.egg-info/\nAUTHORS\nChangeLog\n")
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "Release 2.0.0")
    git(project, "tag", "-a", "2.0.0", "-m", "2.0.0")
    (project / "README.rst").write_text("toylib\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "One change after the release")  # pbr: 2.0.1.dev1
