"""Housekeeping from the command line: the retention policy now, and backup and restore of warehouse and archive.

    python -m pipelines.housekeeping retention [--dry-run]
    python -m pipelines.housekeeping backup DEST     # DEST must not exist yet
    python -m pipelines.housekeeping restore SRC     # into $PIPELINE_DATA_DIR, which must hold no warehouse/archive

Each holds the data folder's run lock while it works: a run in progress is waited for (and a run started meanwhile
waits for it), at most --wait minutes.
"""

import argparse
import json
import sys
from pathlib import Path

import dagster as dg

from pipelines.defs.housekeeping.backup import backup, restore
from pipelines.defs.housekeeping.retention import apply_retention, retention_policy
from pipelines.lib import warehouse
from pipelines.lib.resources import data_store_now, settings_now


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=warehouse.LOCK_WAIT_MINUTES, metavar="MINUTES",
                        help="how long to wait for a run in progress on the same data (default %(default)g)")
    commands = parser.add_subparsers(dest="command", required=True)
    retention = commands.add_parser("retention", help="apply config/housekeeping.yaml now")
    retention.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    commands.add_parser("backup", help="back up warehouse and archive").add_argument("dest", type=Path)
    commands.add_parser("restore", help="restore a backup into an empty data folder").add_argument("src", type=Path)
    args = parser.parse_args()
    store = data_store_now()
    try:
        with warehouse.exclusive(store.warehouse, args.command, args.wait):
            if args.command == "retention":
                with dg.DagsterInstance.get() as instance:
                    config = settings_now().config
                    report = apply_retention(store, instance, retention_policy(config.housekeeping),
                                             dry_run=args.dry_run, storage=config.registry.spark.storage)
            elif args.command == "backup":
                report = backup(store, args.dest, settings_now().config.registry.spark.storage)
                if "archive_not_copied" in report:
                    print(f"warning: {report['archive_not_copied']}", file=sys.stderr)
            else:
                report = restore(args.src, store)
    except (warehouse.WarehouseBusy, warehouse.CorruptWarehouse) as error:  # what to do instead of a traceback
        print(error, file=sys.stderr)
        return 1
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
