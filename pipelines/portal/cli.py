"""`python -m pipelines portal ...`: accounts and API tokens are made here, never by editing the store, and the
portal is served by uvicorn."""

from __future__ import annotations

import argparse
import getpass
import sys

from pipelines.lib.config import load_config
from pipelines.portal.settings import PortalSettings
from pipelines.portal.store import Store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="portal_verb", required=True)
    user = verbs.add_parser("add-user", help="add an account, or set its role and password")
    user.add_argument("email")
    role = user.add_mutually_exclusive_group(required=True)
    role.add_argument("--agency", help="the one agency (its id in sources.yaml) the account uploads for and reads")
    role.add_argument("--central", action="store_true", help="reads every agency's returns, uploads none")
    role.add_argument("--admin", action="store_true", help="as central (accounts are managed here, not on the web)")
    user.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    token = verbs.add_parser("add-token", help="make an API token for an agency (printed once, stored as a digest)")
    token.add_argument("agency")
    token.add_argument("--label", default="api", help="what the token is for, to tell tokens apart")
    serve = verbs.add_parser("serve", help="serve the portal (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                       help="addresses of the reverse proxy whose X-Forwarded-For and -Proto are trusted")


def run(args: argparse.Namespace) -> int:
    settings = PortalSettings.from_environment()
    if args.portal_verb == "serve":
        import uvicorn

        from pipelines.portal.app import create_app  # staging's code, through preview: only serving needs it
        uvicorn.run(create_app(settings), host=args.host, port=args.port, proxy_headers=True,
                    forwarded_allow_ips=args.forwarded_allow_ips, server_header=False)
        return 0
    config = load_config(settings.config_dir)
    agency = getattr(args, "agency", None)
    if agency is not None and config.agency(agency) is None:
        print(f"there is no agency {agency!r} in {settings.config_dir}/sources.yaml", file=sys.stderr)
        return 1
    store = Store(settings.store_path)
    if args.portal_verb == "add-token":
        print(store.add_token(agency, args.label))
        return 0
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    role = "agency" if agency else "central" if args.central else "admin"
    try:
        store.add_account(args.email, password, role, agency)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{args.email.lower()}: a {role} account{f' of {agency}' if agency else ''}")
    return 0
