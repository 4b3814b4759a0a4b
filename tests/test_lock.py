"""The lock must install exactly one version of each package on every platform we support.

Poetry once locked torch's CUDA 13 wheels twice (two versions whose markers both matched Linux x86_64); the
two installs wrote the same shared libraries in parallel and `import torch` crashed with a segfault on a
fresh install. This reads poetry.lock the way the installer does and fails before that can ship again.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from packaging.markers import Marker

tomllib = pytest.importorskip("tomllib")

LOCK = Path(__file__).resolve().parents[1] / "poetry.lock"

PLATFORMS = {
    "linux-x86_64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"},
    "linux-aarch64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64"},
    "macos-arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"},
    "windows-amd64": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64"},
}
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


def _environment(platform: dict[str, str], python: str) -> dict[str, str]:
    return {
        **platform,
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "nt" if platform["sys_platform"] == "win32" else "posix",
        "extra": "",
    }


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_no_package_is_locked_twice_for_one_platform(platform: str, python: str) -> None:
    packages = tomllib.loads(LOCK.read_text(encoding="utf-8"))["package"]
    environment = _environment(PLATFORMS[platform], python)
    versions: dict[str, list[str]] = defaultdict(list)
    for package in packages:
        markers = package.get("markers")
        if isinstance(markers, dict):  # older lock formats keep markers per group
            markers = " or ".join(f"({m})" for m in markers.values())
        if not markers or Marker(markers).evaluate(environment):
            versions[package["name"]].append(package["version"])
    twice = {name: found for name, found in versions.items() if len(found) > 1}
    assert not twice, f"these would be installed more than once on {platform} / Python {python}: {twice}"
