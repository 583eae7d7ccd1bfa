"""Identifiers and names are data: a site whose service ids, agency ids, benefit ids and department, agency and
service names hold '/', '#', '?', '%', quotes and non-ASCII letters builds (strict), and every such page is reached by
its link, loaded whole from its address and followed in the browser (screenshots in screenshots/dashboards-names/)."""

import shutil
from pathlib import Path
from urllib.parse import quote

import polars as pl
import pytest

from tests.test_dashboards import browser, build_site, screenshots, serving, visit  # noqa: F401

pytestmark = [pytest.mark.site, pytest.mark.browser]

# Two agencies of the small test data and their services, renamed; the other agencies are left out (a small site).
SERVICES = {"REV-001": ("REV/001", "File a tax return / self assessment #1?"),
            "REV-002": ("REV#2?x=1&y", "Register for VAT at 20%"),
            "VEH-001": ("VEH%20'3\"", "Renew a \"driving\" licence: adnewyddu trwydded yrru ✓"),
            "VEH-002": ("VÉH-ø/2%", "Tax a vehicle (Ü) ?")}
AGENCIES = {"revenue": ("revenue #1?%é", "Revenue & Customs / HMRC #1"),
            "vehicles": ("véhicules'", "Driver \"Véhicule\" Agency 100%")}
DEPARTMENTS = {"Treasury": "Treasury / Finance #1?", "Transport": "Transport 100% \"Ünïcode\" 'quoted'"}
DEPARTMENT_OF = {"revenue": "Treasury", "vehicles": "Transport"}  # each agency's, as config/sources.yaml has it
PREFIX = {"revenue": "REV-", "vehicles": "VEH-"}  # of each agency's service ids (examples/services.py)
BENEFITS = {"B001": "B/001#?", "B002": "B%002 'é'"}


def renamed(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame's rows of the two agencies, each identifier and name of theirs renamed (every new value computed
    from the row's old ones)."""
    columns = set(frame.columns)
    service_ids, service_names = ({old: new[i] for old, new in SERVICES.items()} for i in (0, 1))
    agency_ids, agency_names = ({old: new[i] for old, new in AGENCIES.items()} for i in (0, 1))
    services = pl.col("service_id").str.split(";")  # a benefit may name several services
    level = pl.col("level") if "level" in columns else None
    kept = {"agency_id": pl.col("agency_id").is_null() | pl.col("agency_id").is_in(list(AGENCIES)),
            "service_id": services.list.eval(pl.element().is_in(list(SERVICES))).list.any(),
            "group_id": (level == "government") | pl.col("group_id").is_in([*AGENCIES, *DEPARTMENTS])}
    new = {"service_id": services.list.eval(pl.element().replace(service_ids)).list.join(";"),
           "service_name": pl.col("service_id").replace_strict(service_names, default=pl.col("service_name")),
           "agency_id": pl.col("agency_id").replace(agency_ids),
           "agency_name": pl.col("agency_id").replace_strict(agency_names, default=pl.col("agency_name")),
           "department": pl.col("department").replace(DEPARTMENTS),
           "benefit_id": pl.col("benefit_id").replace(BENEFITS)}
    if level is not None:
        new |= {"group_id": pl.when(level == "agency").then(pl.col("group_id").replace(agency_ids))
                .otherwise(pl.col("group_id").replace(DEPARTMENTS)),
                "group_name": pl.when(level == "agency").then(pl.col("group_id").replace_strict(
                    agency_names, default=pl.col("group_name"))).otherwise(pl.col("group_name").replace(DEPARTMENTS))}
    for column, rows in kept.items():
        if column in columns:
            frame = frame.filter(rows)
    return frame.with_columns(value.alias(column) for column, value in new.items() if column in columns)


@pytest.fixture(scope="module")
def named_site(built, tmp_path_factory):
    """The address of the site built from the small test data renamed, served on loopback."""
    root = tmp_path_factory.mktemp("named-site")
    published = root / "published"
    shutil.copytree(built[0].published, published)
    for path in published.glob("*.parquet"):
        renamed(pl.read_parquet(path)).write_parquet(path)
    with serving(build_site(published, root)) as address:
        yield address


def link(kind: str, identifier: str) -> str:
    return f"/{kind}/{quote(identifier, safe='')}"


def followed(browser, address: str, index: str, text: str, href: str, shots: Path, name: str):  # noqa: F811
    """The page the index's link named `text` leads to, which must be `href`: loaded from its address, then reached
    again by a click on the link (the browser's own navigation); the clicked page is returned."""
    page = visit(browser, address, index, shots, f"{name}-index")
    anchor = page.locator("article ul a").filter(has_text=text).first
    assert anchor.get_attribute("href") == href
    loaded = visit(browser, address, href, shots, name)
    heading = loaded.inner_text("article h1").strip()
    loaded.close()
    anchor.click()
    page.wait_for_url(f"{address}{href}/")  # the site adds the trailing slash of its pages
    page.wait_for_function("!document.body.innerText.includes('Loading...')")
    assert page.inner_text("article h1").strip() == heading
    return page, heading


def listed(page) -> dict[str, str]:
    """The services a group's page lists: {name: link}."""
    return {a.inner_text(): a.get_attribute("href") for a in page.locator("article ul.columns-1 a").all()}


def test_every_page_of_a_name_with_address_characters_is_reached_by_its_link(named_site, browser):  # noqa: F811
    shots = screenshots("dashboards-names")
    for number, (service_id, name) in enumerate(SERVICES.values()):
        page, heading = followed(browser, named_site, "/services/", name, link("services", service_id), shots,
                                 f"service-{number}")
        assert heading == name
        page.close()
    for number, (old, (agency_id, name)) in enumerate(AGENCIES.items()):
        page, heading = followed(browser, named_site, "/agencies/", name, link("agencies", agency_id), shots,
                                 f"agency-{number}")
        assert heading == name
        department = DEPARTMENTS[DEPARTMENT_OF[old]]
        assert page.locator("article p a", has_text=department).get_attribute("href") == link("departments",
                                                                                              department)
        assert listed(page) == {name: link("services", service_id) for old_id, (service_id, name) in SERVICES.items()
                                if old_id.startswith(PREFIX[old])}
        page.close()
    for number, (old, name) in enumerate(DEPARTMENTS.items()):
        page, heading = followed(browser, named_site, "/departments/", name, link("departments", name), shots,
                                 f"department-{number}")
        assert heading == name
        [agency] = [agency for agency, department in DEPARTMENT_OF.items() if department == old]
        assert listed(page) == {name: link("services", service_id) for old_id, (service_id, name) in SERVICES.items()
                                if old_id.startswith(PREFIX[agency])}
        page.close()
    for number, benefit_id in enumerate(BENEFITS.values()):
        page, heading = followed(browser, named_site, "/benefits/", f"{benefit_id}: ", link("benefits", benefit_id),
                                 shots, f"benefit-{number}")
        assert heading.startswith(f"{benefit_id}: ")
        page.close()
