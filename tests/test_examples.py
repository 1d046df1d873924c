"""examples/github-actions.yml, run as a CI runner would: its `run` steps,
in order, with bash -e, in a fresh workspace holding a project with a C
extension whose suite leaks (tests/data/ci_project), and the newest
release interpreter as `python`.  The steps `uses:` stand for (checkout,
setup-python) are done by the test; pip finds python-debug's sdist built
from this tree (PIP_FIND_LINKS), as it would find the release on PyPI."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import ROOT, two_interpreters

WORKFLOW = os.path.join(ROOT, "examples", "github-actions.yml")
PROJECT = os.path.join(ROOT, "tests", "data", "ci_project")


def run_steps(path):
    """[(name, script)] of the workflow's `run:` steps, and the actions
    of its `uses:` steps."""
    steps, uses, lines = [], [], open(path).read().splitlines()
    name = None
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        if s.startswith("- uses:"):
            uses.append(s.split(":", 1)[1].strip())
        elif s.startswith("- name:"):
            name = s.split(":", 1)[1].strip()
        elif s.startswith("run: |"):
            indent = len(lines[i + 1]) - len(lines[i + 1].lstrip())
            body = []
            i += 1
            while i < len(lines) and (not lines[i].strip() or
                                      len(lines[i]) - len(lines[i].lstrip()) >= indent):
                body.append(lines[i][indent:])
                i += 1
            steps.append((name, "\n".join(body)))
            continue
        i += 1
    return steps, uses


def test_workflow_parses_as_expected():
    steps, uses = run_steps(WORKFLOW)
    assert [u.split("@")[0] for u in uses] == ["actions/checkout", "actions/setup-python"]
    assert len(steps) == 2 and all(script.strip() for _, script in steps), steps


NEWEST = two_interpreters()[-1:]


@pytest.mark.skipif(not NEWEST, reason="needs a release interpreter 3.12 or newer")
def test_workflow_steps_in_a_fresh_venv(sdist, tmp_path):
    py = NEWEST[0]
    ws = tmp_path / "workspace"
    shutil.copytree(PROJECT, ws)
    shutil.copy(os.path.join(ROOT, "tests", "ext", "pdleaky.c"), ws / "pdleaky.c")
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    bin_dir = tmp_path / "setup-python"
    bin_dir.mkdir()
    os.symlink(py["exe"], bin_dir / "python")
    env = dict(os.environ, GITHUB_WORKSPACE=str(ws), RUNNER_TEMP=str(runner_temp),
               PATH=str(bin_dir) + os.pathsep + os.environ["PATH"],
               PIP_FIND_LINKS=os.path.dirname(sdist), XDG_CACHE_HOME=str(tmp_path / "cache"))
    for var in ("PYDEBUG_CACHE", "PYDEBUG_PYTHON", "PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(var, None)
    (install_name, install), (leaks_name, leaks) = run_steps(WORKFLOW)[0]
    r = subprocess.run(["bash", "-e", "-c", install], cwd=str(ws), env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, (install_name, r.stdout, r.stderr)
    r = subprocess.run(["bash", "-e", "-c", leaks], cwd=str(ws), env=env,
                       capture_output=True, text=True, timeout=900)
    # The leak fails the job, and is named; the clean test is not.
    assert r.returncode == 1, (leaks_name, r.stdout, r.stderr)
    assert "test_project.py::test_leaks_a_reference leaked" in r.stdout, r.stdout
    results = {x["name"].split("::")[-1]: x["leaked"]
               for x in json.loads((runner_temp / "leaks.json").read_text())}
    assert results == {"test_leaks_a_reference": True, "test_clean": False}, results
