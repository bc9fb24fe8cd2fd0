"""Reasons, the checklist and the rebuttal letter: pure functions over templates/."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from evidence import reasons, rebuttal
from evidence.case import Case, Client, Dispute, load_case
from evidence.errors import CaseError

CATEGORIES = ["fraudulent", "product_not_received", "product_unacceptable",
              "subscription_canceled", "credit_not_processed", "duplicate", "unrecognized",
              "general"]
CODES = {"10.4": "fraudulent", "13.1": "product_not_received", "13.2": "subscription_canceled",
         "13.3": "product_unacceptable", "13.6": "credit_not_processed",
         "13.7": "credit_not_processed", "4837": "fraudulent", "4853": "product_unacceptable",
         "4855": "product_not_received", "4841": "subscription_canceled"}


@pytest.mark.parametrize("name", CATEGORIES)
def test_every_processor_category_is_known_with_sourced_items(name):
    r = reasons.resolve_reason(name)
    assert r.known and r.category == name and r.items
    for item in r.items:
        assert item.sources, item.id
        assert all(s["url"].startswith("https://") and s["title"] for s in item.sources)


@pytest.mark.parametrize("code,category", sorted(CODES.items()))
def test_network_codes_map_onto_categories(code, category):
    r = reasons.resolve_reason(code)
    assert r.category == category and r.code == code
    assert r.network in ("Visa", "Mastercard") and code in r.display
    assert reasons.resolve_reason(f"{r.network} {code}").category == category


def test_free_text_is_kept_but_not_known():
    r = reasons.resolve_reason("He just changed his mind")
    assert not r.known and r.label == "He just changed his mind"
    assert reasons.checklist(r, []) == []
    assert reasons.resolve_reason("Product not as described").category == "product_unacceptable"
    assert reasons.resolve_reason("  ") is None


def _ex(n, note=None, kind="conversation", proves=(), text="", highlight=None, day=1):
    return reasons.Exhibit(n, f"screenshots/{n}.png", kind, reasons.group_of(kind),
                           f"Oct {day}, 2024", note, highlight, tuple(proves), text,
                           dt.datetime(2024, 10, day))


def test_checklist_covers_by_proves_kind_note_and_text_and_names_the_missing():
    r = reasons.resolve_reason("product_not_received")
    exhibits = [_ex(1, "Client orders the logo package"),
                _ex(2, "Client says thanks", proves=["acknowledgement"]),
                _ex(3, None, kind="invoice"),
                _ex(4, "Client reopened the chat")]  # "opened" is not the word "open"
    rows = {row.item.id: row for row in reasons.checklist(r, exhibits)}
    assert [e.number for e, _ in rows["order"].covered_by] == [1]
    assert rows["order"].covered_by[0][1] == "note: package" or \
        rows["order"].covered_by[0][1].startswith("note:")
    assert [(e.number, why) for e, why in rows["acknowledgement"].covered_by] == [(2, "proves")]
    assert [(e.number, why) for e, why in rows["invoice"].covered_by] == [(3, "kind invoice")]
    assert not rows["delivery"].covered
    j = rows["delivery"].to_json()
    assert j == {"item": "delivery", "label": rows["delivery"].item.label, "covered": False,
                 "exhibits": [], "sources": j["sources"]} and j["sources"]
    text_only = _ex(5, None, kind="delivery", text="Tracking: delivered Oct 3")
    assert reasons.covers(rows["delivery"].item, text_only) == "kind delivery"
    other = _ex(6, None, kind="other", text="Your parcel was delivered on Oct 3")
    assert reasons.covers(rows["delivery"].item, other) == "text: delivered"


def test_groups_order_communications_before_delivered_policies_invoices():
    order = [reasons.group_of(k) for k in ("conversation", "site", "policy", "invoice", "other")]
    assert order == ["communications", "delivered", "policies", "invoices", "other"]
    assert [reasons.group_order(g) for g in order] == [0, 1, 2, 3, 4]
    assert reasons.group_label("invoices") == "Invoices and receipts"


def _case(tmp_path: Path, reason: str, extra: str = "") -> Case:
    (tmp_path / "case.toml").write_text(
        f'[client]\nname = "Jane Cooper"\nemail = "jane@example.com"\n'
        f'[dispute]\nid = "dp_1"\namount = "249.00 USD"\nreason = "{reason}"\n' + extra)
    return load_case(tmp_path)


def _sample_exhibits():
    return [_ex(1, "Client orders the Logo Starter package", highlight="Logo Starter", day=8),
            _ex(2, "Client says the preview looks great", highlight="looks great", day=11),
            _ex(3, "Client confirms the final files open", day=15),
            _ex(4, "Client says the logo is already on the shop signs", day=18,
                highlight="already on our shop signs"),
            _ex(5, "Files delivered by download link", kind="site", day=20),
            _ex(6, None, kind="invoice", day=5)]


@pytest.mark.parametrize("reason", ["product_not_received", "13.3"])
def test_draft_names_reason_client_amount_and_cites_exhibits_within_budget(tmp_path, reason):
    case = _case(tmp_path, reason)
    r = reasons.resolve_reason(reason)
    exhibits = _sample_exhibits()
    text = rebuttal.draft(case, r, exhibits, reasons.checklist(r, exhibits))
    words = rebuttal.word_count(text)
    assert 200 <= words <= 400, (words, text)
    assert r.label in text and "Jane Cooper" in text and "249.00 USD" in text
    if r.code:
        assert "Visa 13.3" in text
    cited = set(re.findall(r"Exhibit (\d) \((Oct \d+, 2024)\)", text))
    assert len(cited) >= 3 and ("2", "Oct 11, 2024") in cited
    assert "\u201clooks great\u201d" in text


def test_many_exhibits_stay_under_the_word_budget(tmp_path):
    case = _case(tmp_path, "product_not_received")
    r = reasons.resolve_reason("product_not_received")
    exhibits = [_ex(i, f"Client says the files open fine, message number {i}", day=1 + i % 28)
                for i in range(1, 60)]
    text = rebuttal.draft(case, r, exhibits, reasons.checklist(r, exhibits))
    assert 200 <= rebuttal.word_count(text) <= 400


def test_rebuttal_md_and_case_text_replace_the_draft(tmp_path):
    case = _case(tmp_path, "general", '[rebuttal]\ntext = "We delivered. See **Exhibit 1**."\n')
    letter = rebuttal.letter(case, reasons.resolve_reason("general"), [], [])
    assert (letter.source, letter.text) == ("case.toml", "We delivered. See Exhibit 1.\n")
    (tmp_path / "rebuttal.md").write_text("# Our answer\n\n* Exhibit 2 shows the *delivery*.\n")
    letter = rebuttal.letter(case, reasons.resolve_reason("general"), [], [])
    assert letter.source == "rebuttal.md"
    assert letter.text == "Our answer\n\n- Exhibit 2 shows the delivery.\n"


def test_text_field_limit_cuts_at_a_paragraph():
    text = "First paragraph here.\n\n" + "word " * 50
    assert rebuttal.for_text_field(text, None) == text
    cut = rebuttal.for_text_field(text, 60)
    assert len(cut) <= 60 and cut.endswith("…")
    assert rebuttal.for_text_field("short", 20_000) == "short"


def test_case_toml_documents_proves_and_rebuttal(tmp_path):
    (tmp_path / "documents").mkdir()
    case = _case(tmp_path, "13.1", '[[screenshot]]\nfile = "screenshots/a.png"\n'
                 'proves = ["Delivery", "approval"]\n'
                 '[[document]]\nfile = "documents/inv.pdf"\nkind = "invoice"\n'
                 'date = 2024-10-05\nproves = "invoice"\n')
    assert case.entries["screenshots/a.png"].proves == ("delivery", "approval")
    d = case.documents["documents/inv.pdf"]
    assert (d.kind, d.date, d.proves) == ("invoice", dt.datetime(2024, 10, 5), ("invoice",))
    with pytest.raises(CaseError, match="kind 'receipt' is not one of"):
        _case(tmp_path, "13.1", '[[document]]\nfile = "documents/x.pdf"\nkind = "receipt"\n')
    with pytest.raises(CaseError, match="outside the case"):
        _case(tmp_path, "13.1", '[[document]]\nfile = "../x.pdf"\n')
    with pytest.raises(CaseError, match="proves must be a list"):
        _case(tmp_path, "13.1", '[[screenshot]]\nfile = "a.png"\nproves = 3\n')


def test_unknown_proves_are_reported():
    r = reasons.resolve_reason("product_not_received")
    out = reasons.unknown_proves(r, [_ex(1, proves=["delivery", "delivry"])])
    assert len(out) == 1 and "'delivry'" in out[0]


def test_case_without_a_reason_has_no_checklist():
    case = Case(root=Path("."), client=Client("A B", "a@b.co"), dispute=Dispute())
    assert reasons.resolve_reason(case.dispute.reason) is None


def test_no_reason_and_no_letter_means_no_letter_page(tmp_path):
    (tmp_path / "case.toml").write_text('[client]\nname = "A B"\nemail = "a@b.co"\n')
    case = load_case(tmp_path)
    assert rebuttal.letter(case, None, [], []) is None
    drafted = rebuttal.letter(case, None, [], [], always=True)
    assert drafted.source == "draft" and "not stated" in drafted.text
