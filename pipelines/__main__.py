"""Command-line verbs of the pipelines package:

    python -m pipelines check-config [--config-dir DIR]
    python -m pipelines preview AGENCY FILE [--month YYYY-MM] [--config-dir DIR] [--services]
    python -m pipelines portal add-user EMAIL (--agency ID | --central | --admin) [--password-stdin]
    python -m pipelines portal add-token AGENCY | serve [--host H] [--port P]

check-config reads and checks the configuration (DIR, else $PIPELINE_CONFIG_DIR, else config/) as a run would
before it starts, prints every problem with its file, entry and key, and exits 1 if there is any.
preview reads one file as a run would (pipelines/preview.py), writes nothing, prints what would come out, and
exits 1 when nothing would be published.
portal manages the submission portal's accounts and API tokens, and serves it (README, "The submission portal").
"""

import argparse
import datetime as dt
import sys
from pathlib import Path

from pipelines.lib.config import ConfigError, load_config
from pipelines.lib.resources import data_store_now, settings_now
from pipelines.portal import cli as portal_cli


def check_config(config_dir: Path) -> int:
    try:
        config = load_config(config_dir)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{config_dir}: the configuration holds: {len(config.agencies)} agencies, {len(config.mappings)} mappings")
    return 0


def preview(config_dir: Path, agency_id: str, path: Path, month: str | None, services: bool) -> int:
    from pipelines.preview import preview_file, render, service_lines  # staging's code: only this verb needs it
    try:
        config = load_config(config_dir)
        found = preview_file(config, agency_id, path, dt.date.fromisoformat(f"{month}-01") if month else None,
                             landing=data_store_now().landing)
    except (ConfigError, ValueError) as error:
        print(error, file=sys.stderr)
        return 1
    print(render(found))
    if services:
        print("\n".join(service_lines(found)))
    return 0 if found.publishes else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    check = verbs.add_parser("check-config", help="check the configuration, print every problem")
    check.add_argument("--config-dir", type=Path, help="default: $PIPELINE_CONFIG_DIR, else config/")
    look = verbs.add_parser("preview", help="what a run would make of one file; writes nothing")
    look.add_argument("agency")
    look.add_argument("file", type=Path)
    look.add_argument("--month", help="YYYY-MM, the return's month (default: the file's folder)")
    look.add_argument("--config-dir", type=Path, help="default: $PIPELINE_CONFIG_DIR, else config/")
    look.add_argument("--services", action="store_true", help="also each service's KPIs and why not")
    portal = verbs.add_parser("portal", help="the submission portal: accounts, API tokens, serve")
    portal_cli.add_arguments(portal)
    args = parser.parse_args(argv)
    if args.verb == "portal":
        return portal_cli.run(args)
    config_dir = args.config_dir or Path(settings_now().config_dir)
    if args.verb == "preview":
        return preview(config_dir, args.agency, args.file, args.month, args.services)
    return check_config(config_dir)


if __name__ == "__main__":
    sys.exit(main())
