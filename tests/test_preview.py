"""`python -m pipelines preview` (pipelines/preview.py): what a run would make of one real file, counted here
independently from the raw file; a mapping that would publish nothing exits 1; and the preview writes nothing."""

import csv
import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from pipelines.__main__ import main
from pipelines.lib.config import load_config
from pipelines.preview import preview_file, render
from tests.test_real_data import AU, CA, CA_CHANNELS, REAL, UK, land_australia, uk_expected

ROOT = Path(__file__).parents[1]
REAL_CONFIG = ROOT / "config" / "examples" / "real"


@pytest.fixture(scope="module")
def config():
    return load_config(REAL_CONFIG)


def dropped(tmp_path: Path, source: Path, month: str) -> Path:
    """The file in a month folder, as an agency would drop it."""
    (tmp_path / month).mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(source, tmp_path / month / source.name))


def test_uk_explorer_layout_rows_services_and_warnings(config, tmp_path):
    found = preview_file(config, "uk_transactions_explorer", dropped(tmp_path, UK, "2017-12"))
    expected, above = uk_expected()
    with UK.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r.return_type, r.pattern, r.layout) for r in found.recognised] == [
        ("transactions", "services.csv", "headers"), ("service_catalogue", "services.csv", "catalogue")]
    assert found.source_file == "uk_transactions_explorer/2017-12/services.csv" and found.problem is None
    assert (found.rows_read, found.rows_quarantined) == (len(rows), len({slug for slug, _, _ in above}))
    assert [(r.rule, r.rows) for r in found.rules] == [("digital_above_total", len(above))]
    assert set(found.services) == {slug for slug, _, _ in expected}
    uses = {c.column: c.use for c in found.columns}
    assert uses["Slug"] == "transactions: service_id; catalogue: service_id"
    assert uses["2016-Q1 Vol."] == "transactions: the reported total, 2016-Q1 (the 12 months to it)"
    assert uses["Digital transactions\nJan - Mar 2015"] == "transactions: channel online, Jan - Mar 2015"
    assert uses["Hi-vol"] == "ignored"
    first = next(q for q in found.quarantined if q.rule == "digital_above_total")
    assert (first.row_number, first.service_id) == (
        next(i for i, r in enumerate(rows, 1) if r["Slug"] in {s for s, _, _ in above}),
        next(r["Slug"] for r in rows if r["Slug"] in {s for s, _, _ in above}))
    with_cpt = {slug for (slug, _, _), (_, _, cpt) in expected.items() if cpt is not None}
    cpt_gap = next(g for g in found.gaps if g.kpi == "cost_per_transaction")
    assert (cpt_gap.services_affected, cpt_gap.services) == (len(found.services) - len(with_cpt),
                                                              len(found.services))
    assert cpt_gap.reason == "costs not provided"
    with_take_up = {slug for (slug, _, _), (total, digital, _) in expected.items() if total and digital is not None}
    take_up = {o.service_id for o in found.outcomes for k in o.kpis if k.kpi == "digital_take_up" and k.periods_formed}
    assert take_up == with_take_up and found.publishes
    assert "28 figures of transactions quarantined as a total below its channels (digital_above_total)" in \
        found.suspicious
    assert render(found).endswith("something would be published")


@pytest.mark.parametrize("month", sorted(CA))
def test_canadian_inventory_without_channels_offered_publishes_nothing_and_says_why(config, tmp_path, month):
    source = REAL / "ca_service_inventory" / f"{CA[month]}_services.csv"
    with source.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    ids = [r["service_id"] for r in rows]
    complete = {r["service_id"] for r in rows if ids.count(r["service_id"]) == 1
                and all(r[c].strip().isdigit() for c in CA_CHANNELS)}
    found = preview_file(config, "ca_service_inventory", dropped(tmp_path, source, month))
    assert found.rows_read == len(rows) and found.rows_accepted + found.rows_quarantined == len(rows)
    take_up = {o.service_id for o in found.outcomes for k in o.kpis if k.kpi == "digital_take_up" and k.periods_formed}
    assert take_up == complete
    gap = next(g for g in found.gaps if g.kpi == "digital_take_up")
    assert (gap.agency_id, gap.services_affected, gap.services) == (
        "ca_service_inventory", len(found.services) - len(complete), len(found.services))
    assert gap.fix.endswith("declare the channels offered in the mapping or the catalogue")
    assert found.publishes == bool(complete)
    code = main(["preview", "ca_service_inventory", str(tmp_path / month / source.name), "--config-dir",
                 str(REAL_CONFIG)])
    assert code == (0 if complete else 1)


def test_australian_series_with_the_central_catalogue(config, tmp_path):
    land_australia(tmp_path / "landing")
    for name, service in AU.items():
        found = preview_file(config, "au_dta", tmp_path / "landing" / "au_dta" / "2017-01" / name,
                             landing=tmp_path / "landing")
        assert [r.layout for r in found.recognised] == ["series and headers"]
        assert found.services == [service] and found.rows_quarantined == 0
    without = preview_file(config, "au_dta", tmp_path / "landing" / "au_dta" / "2017-01" / "dibp-data.json")
    assert {r.rule for r in without.rules} == {"unknown_service"} and not without.publishes


def test_a_file_no_mapping_reads_says_so_and_exits_1(config, tmp_path):
    (tmp_path / "2017-12").mkdir()
    (tmp_path / "2017-12" / "Transactions.csv").write_text("a,b\n1,2\n")
    found = preview_file(config, "uk_transactions_explorer", tmp_path / "2017-12" / "Transactions.csv")
    assert found.problem.startswith("no return of agency uk_transactions_explorer's mapping reads a file named "
                                    "'Transactions.csv'") and not found.publishes


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if ".venv" not in p.parts and "node_modules" not in p.parts
            and ".git" not in p.parts and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts}


def test_preview_writes_nothing(tmp_path, monkeypatch):
    data = tmp_path / "data"
    land_australia(data / "landing")
    inbox = dropped(tmp_path / "inbox", UK, "2017-12")
    monkeypatch.setenv("PIPELINE_DATA_DIR", str(data))
    before, checkout = snapshot(tmp_path), snapshot(ROOT / "data") if (ROOT / "data").exists() else {}
    assert main(["preview", "uk_transactions_explorer", str(inbox), "--config-dir", str(REAL_CONFIG)]) == 0
    assert main(["preview", "au_dta", str(data / "landing" / "au_dta" / "2017-01" / "dibp-data.json"),
                 "--config-dir", str(REAL_CONFIG)]) == 0
    assert snapshot(tmp_path) == before and not (data / "warehouse.duckdb").exists()
    assert (snapshot(ROOT / "data") if (ROOT / "data").exists() else {}) == checkout
    assert os.environ["PIPELINE_DATA_DIR"] == str(data)


def test_month_from_the_folder_or_given(config, tmp_path):
    (tmp_path / "upload").mkdir()
    path = Path(shutil.copy(UK, tmp_path / "upload" / "services.csv"))
    with pytest.raises(ValueError, match="is not a month"):
        preview_file(config, "uk_transactions_explorer", path)
    assert preview_file(config, "uk_transactions_explorer", path, dt.date(2017, 12, 1)).month == dt.date(2017, 12, 1)
