"""pyproject's dependencies are what the code uses: every declared package is imported (or has a
named indirect use), and the security pins hold."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

INDIRECT = {
    "sentence-transformers": "langchain_huggingface.HuggingFaceEmbeddings loads models through it",
    "asyncpg": "the driver of SQLAlchemy's postgresql+asyncpg dialect (chatbot/store.py)",
    "pytest-asyncio": "a pytest plugin (asyncio_mode = auto)",
    "pytest": "the test runner",
    "ruff": "a tool run from the Makefile",
    "mypy": "a tool run from the Makefile",
}
"""Declared packages no module imports by name, and why they are declared anyway."""

TRANSITIVE = {
    "transformers": "only to quiet its progress bar, inside `except ImportError` (retrieval/embeddings.py)",
}
"""Packages the code imports without declaring them, and why that is safe."""
OURS = {"chatbot", "retrieval", "eval", "prompts", "tests"}


def _canonical(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()  # PEP 503: llama_cpp_python = llama-cpp-python


def _name(requirement: str) -> str:
    return _canonical(re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0])


def _imported(*folders: str) -> set[str]:
    """Every dotted module name imported anywhere under the folders (lazy imports included)."""
    names: set[str] = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module)
                    names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _provided(distribution: str) -> set[str]:
    """Dotted names of the modules an installed distribution ships."""
    out = set()
    for f in metadata.files(distribution) or ():
        if f.suffix == ".py" and not str(f).startswith((".", "..")):
            out.add(".".join(f.with_suffix("").parts).removesuffix(".__init__"))
    return out


def _unused(requirements: list[str], imported: set[str]) -> list[str]:
    return [
        name for name in map(_name, requirements)
        if name not in INDIRECT and not (_provided(name) & imported)
    ]


def _undeclared(imported: set[str], requirements: list[str], local: set[str] = frozenset()) -> list[str]:
    """Top-level third-party modules imported that no declared distribution provides."""
    declared = {_name(r) for r in requirements}
    by_module = metadata.packages_distributions()
    out = []
    for top in sorted({n.split(".")[0] for n in imported}):
        if top in sys.stdlib_module_names or top in OURS or top in local or top in TRANSITIVE:
            continue
        if top in by_module:
            known = bool({_canonical(d) for d in by_module[top]} & declared)
        else:  # an extra not installed here: its module is named after the distribution
            known = any(d.replace("-", "_").startswith(top) for d in declared)
        if not known:
            out.append(top)
    return out


def _extras(*names: str) -> list[str]:
    return [r for name in names for r in PROJECT["optional-dependencies"][name]]


def test_every_third_party_import_of_the_packages_is_declared() -> None:
    requirements = PROJECT["dependencies"] + _extras("real-llm") + ["psycopg-pool"]  # psycopg[pool]
    assert _undeclared(_imported("chatbot", "retrieval", "eval", "prompts"), requirements) == []


def test_every_third_party_import_of_the_tests_is_declared() -> None:
    local = {p.stem for p in (ROOT / "tests").glob("*.py")}
    requirements = PROJECT["dependencies"] + _extras("dev", "real-llm") + ["psycopg-pool"]
    assert _undeclared(_imported("tests"), requirements, local) == []


def test_every_runtime_dependency_is_imported_by_the_packages() -> None:
    assert _unused(PROJECT["dependencies"], _imported("chatbot", "retrieval", "eval", "prompts")) == []


def test_every_dev_dependency_is_imported_by_the_tests_or_is_a_tool() -> None:
    assert _unused(PROJECT["optional-dependencies"]["dev"], _imported("tests")) == []


def test_the_checks_see_an_unused_and_an_undeclared_package() -> None:
    assert _unused(["pyyaml>=6", "tqdm>=4"], {"yaml"}) == ["tqdm"]
    assert _undeclared({"yaml", "numpy.linalg", "json"}, ["pyyaml>=6"]) == ["numpy"]


def test_chainlit_is_pinned_past_its_file_read_and_ssrf_fixes() -> None:
    (pin,) = [r for r in PROJECT["dependencies"] if _name(r) == "chainlit"]
    assert ">=2.10.1" in pin.replace(" ", "")
    installed = tuple(int(p) for p in metadata.version("chainlit").split(".")[:3])
    assert installed >= (2, 10, 1)
