"""`movie-rag chat [--host H] [--port P]` — the Chainlit chat app (chatbot/app.py), headless.

Chainlit keeps its config, translations and uploads in an "app root" directory. Ours is
`$MOVIE_RAG_HOME/chainlit`, written afresh at each start from what the package ships
(config below, `public/` theme and elements, the repository's `chainlit.md`), so nothing lands
in the checkout. Chainlit reads its own CHAINLIT_* variables, so this command sets them for the
server it runs in-process.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import secrets
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from chatbot.cli import EXIT_OK, UserError

PACKAGE_DIR = Path(__file__).resolve().parents[1]
APP_FILE = PACKAGE_DIR / "app.py"
PUBLIC_DIR = PACKAGE_DIR / "public"
REPO_WELCOME = PACKAGE_DIR.parent / "chainlit.md"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

_FALLBACK_WELCOME = """# movie-rag

Ask about the movies in your catalog: similar titles, plot searches, structured questions
(director, years, genres, sorting) and follow-ups. Answers cite the catalog rows they use.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="run the chat app (Chainlit) and print its URL")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    p.set_defaults(handler=run)


def chainlit_config(version: str) -> str:
    """Chainlit's config.toml for this app (the parts that differ from Chainlit's defaults)."""
    return f"""# Written by `movie-rag chat` at each start; edits here are overwritten.
[project]
session_timeout = 3600

[features]
unsafe_allow_html = false
latex = false
edit_message = false
user_message_markdown = false
allow_thread_sharing = false

[features.spontaneous_file_upload]
enabled = false

[features.audio]
enabled = false

[features.mcp]
enabled = false

[UI]
name = "Marquee"
description = "Ask your movie catalog: every title it names is a row you loaded."
cot = "full"
default_theme = "light"
confirm_new_chat = false
custom_css = "/public/movie-rag.css"
custom_js = "/public/movie-rag.js"

[meta]
generated_by = "{version}"
"""


def prepare_app_root(root: Path, version: str) -> Path:
    """Write Chainlit's app root: config, welcome page and public files."""
    (root / ".chainlit").mkdir(parents=True, exist_ok=True)
    (root / ".chainlit" / "config.toml").write_text(chainlit_config(version), encoding="utf-8")
    welcome = REPO_WELCOME.read_text(encoding="utf-8") if REPO_WELCOME.is_file() else _FALLBACK_WELCOME
    (root / "chainlit.md").write_text(welcome, encoding="utf-8")
    if (root / "public").exists():
        shutil.rmtree(root / "public")
    shutil.copytree(PUBLIC_DIR, root / "public")
    _write_translation(root / ".chainlit" / "translations")
    return root


WATERMARK = "Answers come from your catalog's rows; open “How I found this” to see how."
"""Replaces Chainlit's "LLMs can make mistakes" footer (often no LLM answers at all)."""


def _write_translation(folder: Path) -> None:
    """Chainlit's English texts with our footer; other languages stay Chainlit's own."""
    import importlib.util
    import json

    spec = importlib.util.find_spec("chainlit")
    if spec is None or spec.origin is None:
        return
    source = Path(spec.origin).parent / "translations" / "en-US.json"
    if not source.is_file():
        return
    texts = json.loads(source.read_text(encoding="utf-8"))
    chat = texts.get("chat", {})
    if isinstance(chat, dict) and "watermark" in chat:
        chat["watermark"] = WATERMARK
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "en-US.json").write_text(json.dumps(texts, indent=2, ensure_ascii=False), encoding="utf-8")


def auth_secret(home: Path | None) -> str:
    """A secret that signs logins, kept under `home` so sessions survive a restart."""
    if home is None:
        return secrets.token_urlsafe(48)
    path = home / "chainlit-auth-secret"
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def _check_port(host: str, port: int) -> None:
    if not 0 < port < 65536:
        raise UserError(f"--port {port} is not a port number; use 1-65535.")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise UserError(f"--host {host!r} is not an address this machine can listen on.") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError:
            raise UserError(f"Port {port} on {host} is already in use; pick another with --port.") from None


def run(args: argparse.Namespace) -> int:
    from chatbot.settings import Settings, SettingsError

    _check_port(args.host, args.port)
    try:
        settings: Settings | None = Settings.from_env()
    except SettingsError as exc:
        # The app still starts and shows this in the chat, so the person sees it where they look.
        print(f"movie-rag: {exc}", file=sys.stderr)
        settings = None

    home = settings.home if settings else None
    root = (home / "chainlit") if home else Path(tempfile.mkdtemp(prefix="movie-rag-chainlit-"))
    # The version without importing chainlit: its config module fixes the app root on import.
    prepare_app_root(root, importlib.metadata.version("chainlit"))
    secret = (settings.auth_secret if settings else None) or auth_secret(home)

    if settings is not None:
        _start_database(settings)

    os.environ.update({
        "CHAINLIT_APP_ROOT": str(root),
        "CHAINLIT_HOST": args.host,
        "CHAINLIT_PORT": str(args.port),
        "CHAINLIT_AUTH_SECRET": secret,
    })
    shown_host = "localhost" if args.host in ("127.0.0.1", "0.0.0.0", "::") else args.host
    print(f"movie-rag chat: open http://{shown_host}:{args.port} in your browser (Ctrl+C stops it)", flush=True)

    # Imported only now: chainlit.config reads CHAINLIT_APP_ROOT when it is first imported.
    from chainlit.cli import run_chainlit
    from chainlit.config import config

    config.run.headless = True
    run_chainlit(str(APP_FILE))
    return EXIT_OK


def _start_database(settings: object) -> None:
    """Start the embedded server now, so the first page does not wait; a failure only warns
    (the chat shows it too)."""
    from chatbot.wiring import database_url
    from retrieval.database import DatabaseError

    try:
        database_url(settings)  # type: ignore[arg-type]
    except DatabaseError as exc:
        print(f"movie-rag: {exc}", file=sys.stderr)
