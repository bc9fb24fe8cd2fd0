"""Every key case.toml may hold survives the desk (issue 14): a case imported with all of
evidence/case.py's SCHEMA exports with all of it (and the CLI reads the same case from it),
export → import → export gives the same case.toml byte for byte, and the keys the desk had
no field for ([client] emails, [package], [redact], a screenshot's date_order, a document's
title) are edited under the same rules as the others (CSRF, 403, 409, audit, case.py's own
parsing). On SQLite and a throwaway PostgreSQL."""
from __future__ import annotations

import datetime as dt
import io
import re
import tomllib
import zipfile
from pathlib import Path

import pytest
import tomli_w
from sqlalchemy import select
from starlette.testclient import TestClient

from desk_support import Client, invoice_pdf
from evidence.case import (DATE, NUMBER_OR_STR, SCHEMA, STR, STR_OR_STRS, STRS, parse_case)
from evidence.dates.names import LANGUAGES
from evidence.desk.models import Audit, Case
from test_desk_edit import SHOT, desk, pg_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.postgres

# values that must look right (an email, a file in the zip, a known kind); every other key
# of SCHEMA gets a value made from its type, so a key added to case.py is tested too
SPECIAL = {
    ("client", "name"): "Jane Cooper", ("client", "email"): "jane.cooper@example.com",
    ("client", "emails"): ["jane@cooper-studio.example.com", "j.cooper@example.org"],
    ("client", "aliases"): ["Janie C", "Jane (Studio)"],
    ("dispute", "ticket"): "https://help.example.com/t/118", ("dispute", "reason"): "13.1",
    ("package", "output"): "out/package.pdf", ("package", "page_size"): "a4",
    ("package", "languages"): list(LANGUAGES[:2]),
    ("redact", "patterns"): [r"\b\d{4}-\d{4}-\d{4}\b", r" acct \d+ "],
    ("screenshot", "file"): "screenshots/IMG_4471.png", ("screenshot", "kind"): "site",
    ("screenshot", "proves"): ["acknowledgement"],
    ("screenshot", "date"): dt.datetime(2024, 10, 9, 14, 30, 5),  # a time of day is kept too
    ("document", "file"): "documents/inv.pdf", ("document", "kind"): "invoice",
    ("document", "proves"): ["invoice"], ("document", "title"): "Invoice 2024-118",
}
BY_TYPE = {STR: "some text", STRS: ["one", "two"], DATE: dt.date(2024, 10, 9),
           NUMBER_OR_STR: "249.00 USD", STR_OR_STRS: ["one"]}


def full_case() -> dict:
    data: dict = {}
    for table, keys in SCHEMA.items():
        row = {}
        for key, kind in keys.items():
            value = SPECIAL.get((table, key))
            if value is None:
                value = kind[-1] if isinstance(kind, tuple) else BY_TYPE[kind]
            row[key] = value
        data[table] = [row] if table in ("screenshot", "document") else row
    return data


def zipped(toml: bytes, name: str = "c") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{name}/case.toml", toml)
        z.writestr(f"{name}/screenshots/IMG_4471.png", SHOT.read_bytes())
        z.writestr(f"{name}/documents/inv.pdf", invoice_pdf())
    return buf.getvalue()


def keys(data: dict) -> set[tuple[str, str]]:
    out = set()
    for table, body in data.items():
        for row in body if isinstance(body, list) else [body]:
            out |= {(table, k) for k in row}
    return out


def case_toml_of(zip_bytes: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        [name] = [n for n in z.namelist() if n.endswith("/case.toml")]
        return z.read(name)


def parsed(toml: bytes, root: Path):
    return parse_case(tomllib.loads(toml.decode()), root=root, path=root / "case.toml")


def import_export(dev: Client, archive: bytes) -> tuple[int, bytes]:
    r = dev.post("/cases/import", files={"archive": ("c.zip", archive, "application/zip")})
    assert r.status_code == 200, r.text[:400]
    cid = int(str(r.url).rsplit("/", 1)[1])
    export = dev.get(f"/cases/{cid}/export.zip")
    assert export.status_code == 200
    return cid, export.content


def test_every_case_toml_key_survives_import_and_export(desk, tmp_path):
    cfg, app = desk
    original = full_case()
    assert keys(original) == {(t, k) for t, ks in SCHEMA.items() for k in ks}
    source = tomli_w.dumps(original).encode()
    with TestClient(app) as http:
        dev = Client(http, "dev@example.com")
        cid, first = import_export(dev, zipped(source))
        page = dev.get(f"/cases/{cid}").text
        _, second = import_export(dev, first)
    once, twice = case_toml_of(first), case_toml_of(second)
    assert keys(tomllib.loads(once.decode())) == keys(original), "a key was dropped"
    assert twice == once, "export → import → export changed case.toml"
    with zipfile.ZipFile(io.BytesIO(first)) as a, zipfile.ZipFile(io.BytesIO(second)) as b:
        assert ({n.split("/", 1)[1] for n in a.namelist()}
                == {n.split("/", 1)[1] for n in b.namelist()})
    # and the CLI reads the very same case from the export as from the original
    (tmp_path / "screenshots").mkdir()
    (tmp_path / "screenshots" / "IMG_4471.png").write_bytes(SHOT.read_bytes())
    assert parsed(once, tmp_path) == parsed(source, tmp_path)
    # an admin sees the settings on the case page, not only inside the export
    for shown in ("jane@cooper-studio.example.com", "Janie C", "YMD", LANGUAGES[1], "a4",
                  "out/package.pdf", r"\b\d{4}-\d{4}-\d{4}\b", "Invoice 2024-118"):
        assert shown in page.replace("&#34;", '"'), shown


def test_the_new_fields_are_edited_under_the_same_rules(desk):
    cfg, app = desk
    source = tomli_w.dumps({"client": {"name": "Jane Cooper",
                                       "email": "jane.cooper@example.com"}}).encode()
    with TestClient(app) as h1, TestClient(app) as h2:
        dev, other = Client(h1, "dev@example.com"), Client(h2, "other@example.com")
        cid, _ = import_export(dev, zipped(source))
        version = dev.version(cid)
        form = {"client_name": "Jane Cooper", "client_email": "jane.cooper@example.com",
                "version": version, "client_emails": "jane@studio.example.com\n",
                "date_order": "dmy", "languages": LANGUAGES[0], "page_size": "a4",
                "redact_patterns": "\r\n  IBAN \\w+\r\n\r\n", "package_output": "pkg.pdf"}
        # the CLI's own words for what case.toml refuses
        for bad, words in ((("languages", "xx"), "[package] languages: 'xx' is not one of"),
                           (("redact_patterns", "(unclosed"), "is not a valid regex"),
                           (("client_emails", "not-an-email"), "is not an email address"),
                           (("date_order", "DDD"), "is not one of DMY, MDY, YMD"),
                           (("package_output", "../../etc/x.pdf"), "inside the case folder")):
            r = dev.post(f"/cases/{cid}/edit", {**form, bad[0]: bad[1]})
            assert r.status_code == 400 and words in r.text.replace("&#39;", "'"), bad
        assert other.post(f"/cases/{cid}/edit", form).status_code == 403
        assert dev.http.post(f"/cases/{cid}/edit", data=form).status_code == 403  # no CSRF
        assert dev.post(f"/cases/{cid}/edit", form).status_code == 200
        assert dev.post(f"/cases/{cid}/edit", form).status_code == 409  # stale version
        page = dev.get(f"/cases/{cid}").text
        shot = re.search(r'action="/cases/\d+/shots/(\d+)"[^>]*>\s*<input[^>]*>'
                         r'<input type="hidden" name="version" value="(\d+)"', page)
        r = dev.post(f"/cases/{cid}/shots/{shot.group(1)}",
                     {"version": shot.group(2), "kind": "conversation", "date_order": "MDY",
                      "manual_date": "2024-10-09", "manual_time": "09:15"})
        assert r.status_code == 200
        # a date with a UTC offset is refused on import, with the file named, not dropped
        aware = tomli_w.dumps({"client": {"name": "A", "email": "a@example.com"},
                               "screenshot": [{"file": "screenshots/IMG_4471.png",
                                               "date": dt.datetime(2024, 10, 9, 9, 0,
                                                                   tzinfo=dt.timezone.utc)}]})
        r = dev.post("/cases/import", files={"archive": ("c.zip", zipped(aware.encode()))})
        assert r.status_code == 400 and "IMG_4471.png: its date" in r.text, r.text[:300]
        with cfg.db.session() as s:
            case = s.get(Case, cid)
            got = tomllib.loads((cfg.case_dir(case.folder) / "case.toml").read_text())
            audit = [a.detail for a in s.scalars(select(Audit).where(Audit.case_id == cid))]
    assert got["client"]["emails"] == ["jane@studio.example.com"]
    assert got["package"] == {"output": "pkg.pdf", "page_size": "a4", "date_order": "DMY",
                              "languages": [LANGUAGES[0]]}
    assert got["redact"] == {"patterns": ["  IBAN \\w+"]}  # spaces are part of a regex
    assert got["screenshot"][0]["date_order"] == "MDY"
    assert got["screenshot"][0]["date"] == dt.datetime(2024, 10, 9, 9, 15)
    assert any("client_emails" in d and "redact_patterns" in d and "languages" in d
               for d in audit), audit
    assert any("date_order = MDY" in d for d in audit), audit


def test_the_migration_keeps_existing_cases_and_their_case_toml(desk):
    """A desk at the previous head (login_attempts) with a case in it upgrades; the case
    reads back with empty new fields and writes the case.toml it wrote before."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text
    from evidence.desk.casefiles import case_toml
    from evidence.desk.db import MIGRATIONS
    cfg, _ = desk  # the app fixture migrated to head: start again below the new revision
    alembic = Config()
    alembic.set_main_option("script_location", str(MIGRATIONS))
    with cfg.db.engine.begin() as conn:
        alembic.attributes["connection"] = conn
        command.downgrade(alembic, "login_attempts")
    with cfg.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM cases"))
        conn.execute(text(
            "INSERT INTO cases (id, owner_id, folder, status, version, client_name, client_email,"
            " client_aliases, dispute_id, processor, amount, reason, ticket, review_comment,"
            " rebuttal_text, edited_at, processor_ref, created_at, updated_at) VALUES (900, 1,"
            " 'case-old', 'draft', 1, 'Jane Cooper', 'jane.cooper@example.com', 'Janie C', 'dp_1',"
            " 'stripe', '249.00', '13.1', '', '', '', :t, '', :t, :t)"), {"t": dt.datetime(2026, 1, 1)})
        conn.execute(text(
            "INSERT INTO shots (case_id, file, original_name, note, highlight, kind, manual_date,"
            " proves, version, created_at) VALUES (900, 'screenshots/a.png', 'a.png', 'thanks',"
            " '', 'conversation', :d, '', 1, :t)"), {"d": dt.date(2024, 10, 9),
                                                     "t": dt.datetime(2026, 1, 1)})
    cfg.db.migrate()
    with cfg.db.session() as s:
        case = s.get(Case, 900)
        assert (case.client_emails, case.languages, case.redact_patterns, case.date_order) == \
            ("", "", "", "")
        assert case.shots[0].date_order == "" and case.shots[0].manual_time is None
        assert tomllib.loads(case_toml(case, case.shots).decode()) == {
            "client": {"name": "Jane Cooper", "email": "jane.cooper@example.com",
                       "aliases": ["Janie C"]},
            "dispute": {"id": "dp_1", "processor": "stripe", "amount": "249.00", "reason": "13.1"},
            "screenshot": [{"file": "screenshots/a.png", "note": "thanks", "kind": "conversation",
                            "date": dt.date(2024, 10, 9)}]}
