"""An installed Frontline (from a wheel, away from this checkout) still finds the shipped content."""

from __future__ import annotations

import pytest

import subprocess
import sys
import zipfile
from pathlib import Path

pytestmark = pytest.mark.shipped  # the real shipped scenarios, not the frozen test copies

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_carries_scenarios_rubrics_and_heads(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w",
         str(tmp_path)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(tmp_path.glob("frontline-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for path in (ROOT / "scenarios").glob("*.yaml"):
        assert f"simulator/_shipped/scenarios/{path.name}" in names
    assert "simulator/_shipped/rubrics/service.yaml" in names

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "from simulator.content.library import Library; from simulator import settings;"
        "lib = Library(); print(settings.scenarios_dir()); print(len([l for l in lib.scenarios() if l.model]));"
        "print(lib.rubric('service').id)"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    where, count, rubric = proc.stdout.split()
    assert where.startswith(str(site)) and where.endswith("_shipped/scenarios")
    assert int(count) == len(list((ROOT / "scenarios").glob("*.yaml")))
    assert rubric == "service"
