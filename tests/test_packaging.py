"""The repository root is the `opslens` package: guard what that layout makes easy to miss.

A new subpackage (a folder with an __init__.py) left out of `[tool.setuptools] packages` passes
every test run from the clone, yet is absent from the wheel and the image; a data file that code
reads at run time needs a package-data glob; the Dockerfile copies folders by name. Files are
listed with git (tracked, or new and not ignored), so local data and build output do not count.
"""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "opslens"
NOT_IN_PACKAGE = {"tests", ".ci"}  # in the repository, not in the wheel
# Files inside package folders that are not package data, and why.
NOT_PACKAGE_DATA = {
    "training/data/SOURCES.md": "says where the local training copies come from; nothing reads it",
}


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def files() -> list[PurePosixPath]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    paths = [PurePosixPath(p) for p in listed.split("\0") if p]
    # A file deleted in the work tree but not yet in the index is still listed by --cached.
    return [p for p in paths if (ROOT / p).is_file() and p.parts[0] not in NOT_IN_PACKAGE]


def package_of(folder: PurePosixPath) -> str:
    return ".".join((PACKAGE, *folder.parts))


def folder_of(package: str) -> PurePosixPath:
    return PurePosixPath(*package.split(".")[1:])


def test_every_folder_with_an_init_is_a_listed_package(pyproject: dict, files: list[PurePosixPath]) -> None:
    assert pyproject["tool"]["setuptools"]["package-dir"] == {PACKAGE: "."}
    listed = set(pyproject["tool"]["setuptools"]["packages"])
    on_disk = {package_of(p.parent) for p in files if p.name == "__init__.py"}
    assert PACKAGE in on_disk
    missing, stale = sorted(on_disk - listed), sorted(listed - on_disk)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"
    assert not stale, f"listed in [tool.setuptools] packages, but no folder with an __init__.py: {stale}"


def test_package_data_globs_cover_the_data_files(pyproject: dict, files: list[PurePosixPath]) -> None:
    """Every non-Python file in a package's folders (below the root, whose own files are the
    repository's: README, pyproject, Dockerfile) is matched by a package-data glob of the
    package that holds it, and every glob matches something."""
    packages = sorted(pyproject["tool"]["setuptools"]["packages"], key=len, reverse=True)
    globs: dict[str, list[str]] = pyproject["tool"]["setuptools"].get("package-data", {})
    shipped: set[PurePosixPath] = set()
    for package, patterns in globs.items():
        assert package in packages, f"package-data for {package}, which is not in the package list"
        base = ROOT / folder_of(package)
        for pattern in patterns:
            matched = {
                PurePosixPath(p.relative_to(ROOT).as_posix()) for p in base.glob(pattern) if p.is_file()
            }
            assert matched, f"package-data glob {pattern!r} of {package} matches no file"
            shipped |= matched
    data = {
        p
        for p in files
        if len(p.parts) > 1 and p.suffix not in {".py", ".pyc"} and p.as_posix() not in NOT_PACKAGE_DATA
    }
    # Each data file belongs to the deepest listed package whose folder holds it.
    for path in sorted(data - shipped):
        owner = next(pkg for pkg in packages if folder_of(pkg) in (path.parents))
        raise AssertionError(
            f"{path} is not package data: add a glob for it under {owner!r} in "
            f"[tool.setuptools.package-data], or list it in NOT_PACKAGE_DATA with the reason"
        )


def _copied_by_the_dockerfile() -> set[str]:
    """Sources of the Dockerfile's COPY lines (from the build context), as written."""
    sources: set[str] = set()
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        words = line.split("#")[0].split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            args = [w for w in words[1:] if not w.startswith("--")]
            sources.update(a.rstrip("/") for a in args[:-1])
    return sources


def test_the_dockerfile_copies_the_whole_package(pyproject: dict, files: list[PurePosixPath]) -> None:
    copied = _copied_by_the_dockerfile()
    if "." in copied:
        return  # the whole context: .dockerignore decides, nothing to miss here
    top_level = {p.parts[0] for p in files if len(p.parts) > 1}  # folders holding package files
    modules = {p.name for p in files if len(p.parts) == 1 and p.suffix == ".py"}
    needed = {f.parts[0] for f in map(folder_of, pyproject["tool"]["setuptools"]["packages"]) if f.parts}
    data_roots = {
        p.split("/")[0] for p in pyproject["tool"]["setuptools"].get("package-data", {}).get(PACKAGE, [])
    }
    needed |= modules | (data_roots & top_level)
    needed |= {"pyproject.toml", "README.md", "requirements.lock"}
    missing = sorted(needed - copied)
    assert not missing, f"the Dockerfile does not COPY {missing}, which the package needs"
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert not needed & ignored, f".dockerignore leaves out {sorted(needed & ignored)}"


def test_the_locks_pin_the_cpu_build_of_torch_and_nothing_from_cuda() -> None:
    for name in ("requirements.lock", "requirements-test.lock"):
        pins = [
            line.split("==")[0].strip().lower()
            for line in (ROOT / name).read_text().splitlines()
            if "==" in line and not line.lstrip().startswith("#")
        ]
        assert "torch==2.13.0+cpu" in (ROOT / name).read_text(), name
        cuda = [p for p in pins if p.startswith(("nvidia-", "triton", "cuda"))]
        assert not cuda, f"{name} pins CUDA packages: {cuda}"
        assert len(pins) == len(set(pins)), f"{name} pins a package twice"


def test_the_test_lock_keeps_the_service_pins() -> None:
    def pins(name: str) -> dict[str, str]:
        out = {}
        for line in (ROOT / name).read_text().splitlines():
            if "==" in line and not line.lstrip().startswith("#"):
                package, _, version = line.partition("==")
                out[package.strip().lower()] = version.split()[0]
        return out

    service, test = pins("requirements.lock"), pins("requirements-test.lock")
    changed = {p: (v, test.get(p)) for p, v in service.items() if test.get(p) != v}
    assert not changed, f"requirements-test.lock differs from requirements.lock (run `make lock`): {changed}"
