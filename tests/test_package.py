"""The package as users get it: a cheap import, one version everywhere, a wheel that works."""

import importlib.metadata
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

import orescope

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "orescope"
SCRIPT = Path(sys.executable).parent / "orescope"  # the console script beside this python

IMPORT_IS_LAZY = """
import sys
import orescope

heavy = {"torch", "matplotlib"}
assert not heavy & sys.modules.keys(), "import orescope"
assert orescope.__version__ and not heavy & sys.modules.keys(), "orescope.__version__"
assert set(orescope.__all__) <= set(dir(orescope))
config = orescope.ParticleConfig
from orescope.jobs.particles import ParticleConfig
assert config is ParticleConfig
assert all(getattr(orescope, name) for name in orescope.__all__)
"""

CLI_IS_LAZY = """
import sys
from orescope.cli.main import app

try:
    app(["--version"])
except SystemExit as done:
    assert done.code == 0, done.code
assert not {"torch", "matplotlib"} & sys.modules.keys()
"""


def run_python(code: str) -> None:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_import_orescope_loads_neither_torch_nor_matplotlib():
    run_python(IMPORT_IS_LAZY)


def test_the_command_line_answers_version_without_torch():
    run_python(CLI_IS_LAZY)


def test_an_unknown_top_level_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        orescope.no_such_name  # noqa: B018


def test_one_version_for_the_command_the_module_and_the_metadata():
    result = subprocess.run([SCRIPT, "--version"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    version = importlib.metadata.version("orescope")
    assert result.stdout == f"orescope {version}\n"
    assert orescope.__version__ == version


def _build_wheel(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", folder],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = folder.glob("orescope-*.whl")
    return wheel


def _fresh_venv(folder: Path, wheel: Path) -> Path:
    """A venv holding only the wheel's orescope; its dependencies come from this interpreter's
    site-packages through a ``.pth`` line, written after the install so that pip does not see
    the development install there. Returns the venv's bin folder."""
    venv.create(folder)  # without pip: this interpreter's pip installs into it
    python = folder / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel],
        check=True,
        capture_output=True,
    )
    (site_packages,) = folder.glob("lib/python*/site-packages")
    (site_packages / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return folder / "bin"


@pytest.mark.slow
def test_the_wheel_holds_the_models_and_runs_the_demo_from_a_fresh_venv(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = [
        *PACKAGE.glob("zoo/*/card.yaml"),
        *PACKAGE.glob("zoo/*/model.safetensors"),
        *(p for p in PACKAGE.glob("samples/**/*") if p.is_file()),
    ]
    assert any(p.name == "model.safetensors" for p in bundled)
    missing = [str(p) for p in bundled if f"orescope/{p.relative_to(PACKAGE)}" not in names]
    assert not missing, f"left out of the wheel: {missing}"

    bin_folder = _fresh_venv(tmp_path / "venv", wheel)
    where = subprocess.run(
        [bin_folder / "python", "-c", "import orescope; print(orescope.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(tmp_path / "venv"), where.stderr
    version = subprocess.run(
        [bin_folder / "orescope", "--version"], cwd=tmp_path, capture_output=True, text=True
    )
    assert version.stdout == f"orescope {orescope.__version__}\n", version.stderr
    demo = subprocess.run(
        [bin_folder / "orescope", "demo", "--out", tmp_path / "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert (tmp_path / "demo" / "report.html").is_file()
