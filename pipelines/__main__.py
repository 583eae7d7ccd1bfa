"""Command-line verbs of the pipelines package:

    python -m pipelines check-config [--config-dir DIR]
    python -m pipelines portal add-user EMAIL (--agency ID | --central | --admin) [--password-stdin]
    python -m pipelines portal add-token AGENCY | serve [--host H] [--port P]

check-config reads and checks the configuration (DIR, else $PIPELINE_CONFIG_DIR, else config/) as a run would
before it starts, prints every problem with its file, entry and key, and exits 1 if there is any.
portal manages the submission portal's accounts and API tokens, and serves it (README, "The submission portal").
"""

import argparse
import sys
from pathlib import Path

from pipelines.lib.config import ConfigError, load_config
from pipelines.lib.resources import settings_now
from pipelines.portal import cli as portal_cli


def check_config(config_dir: Path) -> int:
    try:
        config = load_config(config_dir)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{config_dir}: the configuration holds: {len(config.agencies)} agencies, {len(config.mappings)} mappings")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    check = verbs.add_parser("check-config", help="check the configuration, print every problem")
    check.add_argument("--config-dir", type=Path, help="default: $PIPELINE_CONFIG_DIR, else config/")
    portal = verbs.add_parser("portal", help="the submission portal: accounts, API tokens, serve")
    portal_cli.add_arguments(portal)
    args = parser.parse_args(argv)
    if args.verb == "portal":
        return portal_cli.run(args)
    return check_config(args.config_dir or Path(settings_now().config_dir))


if __name__ == "__main__":
    sys.exit(main())
