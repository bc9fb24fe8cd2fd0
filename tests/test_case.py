import datetime as dt

import pytest

from evidence.case import load_case
from evidence.errors import CaseError

GOOD = """
[client]
name = "Jane Cooper"
email = "jane.cooper@example.com"

[dispute]
id = "dp_1Q2w3E"
processor = "stripe"
amount = "249.00 USD"
respond_by = 2024-11-15

[package]
output = "out/package.pdf"

[[screenshot]]
file = "screenshots/IMG_4471.png"
note = "Client says the preview looks great"
highlight = "looks great"
date = 2024-10-10

[[screenshot]]
file = "screenshots/site.png"
kind = "site"
"""


def write(tmp_path, text):
    (tmp_path / "case.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_loads_every_field(tmp_path):
    case = load_case(write(tmp_path, GOOD))
    assert case.client.name == "Jane Cooper"
    assert case.client.email == "jane.cooper@example.com"
    assert case.dispute.respond_by == dt.date(2024, 11, 15)
    assert case.dispute.processor == "stripe"
    assert case.default_output == tmp_path.resolve() / "out/package.pdf"
    e = case.entries["screenshots/IMG_4471.png"]
    assert e.note.startswith("Client says")
    assert e.highlight == "looks great"
    assert e.date == dt.datetime(2024, 10, 10)
    assert case.entries["screenshots/site.png"].kind == "site"


def test_default_output_is_in_case_folder(tmp_path):
    case = load_case(write(tmp_path, '[client]\nname = "A B"\nemail = "a@b.co"\n'))
    assert case.default_output == tmp_path.resolve() / "evidence.pdf"
    assert case.entries == {}


@pytest.mark.parametrize("text, message", [
    ('[client]\nname = "A B"\n', "email is missing"),
    ('[client]\nemail = "a@b.co"\n', "name is missing"),
    ('[client]\nname = "A"\nemail = "not-an-email"\n', "not an email"),
    ('[client\nname = "A"', "TOML syntax error"),
    ('[dispute]\nid = "x"\n', "[client] table is missing"),
    ('[client]\nname="A"\nemail="a@b.co"\n[dispute]\nrespond_by = "soon"\n', "is not a date"),
    ('[client]\nname="A"\nemail="a@b.co"\n[[screenshot]]\nfile = "../../etc/passwd"\n', "outside the case folder"),
    ('[client]\nname="A"\nemail="a@b.co"\n[[screenshot]]\nfile = "/etc/passwd"\n', "outside the case folder"),
    ('[client]\nname="A"\nemail="a@b.co"\n[[screenshot]]\nfile = "a.png"\nkind = "photo"\n', "kind"),
    ('[client]\nname="A"\nemail="a@b.co"\n[redact]\npatterns = ["("]\n', "not a valid regex"),
])
def test_bad_case_files_give_one_line_naming_the_file(tmp_path, text, message):
    with pytest.raises(CaseError) as e:
        load_case(write(tmp_path, text))
    line = str(e.value)
    assert message in line
    assert "case.toml" in line
    assert "\n" not in line


def test_missing_case_toml(tmp_path):
    with pytest.raises(CaseError, match="no case.toml"):
        load_case(tmp_path)


def test_symlink_entry_escaping_the_case_is_refused(tmp_path):
    (tmp_path / "screenshots").mkdir()
    (tmp_path / "screenshots" / "evil.png").symlink_to("/etc/passwd")
    with pytest.raises(CaseError, match="outside the case folder"):
        load_case(write(tmp_path, '[client]\nname="A"\nemail="a@b.co"\n'
                                  '[[screenshot]]\nfile = "screenshots/evil.png"\n'))


# --------------------------------------------------------------------------- fuzzing

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_toml_scalars = st.one_of(st.text(max_size=30), st.integers(), st.floats(allow_nan=False),
                          st.booleans(), st.dates(), st.datetimes())
_toml_values = st.recursive(_toml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(min_size=1, max_size=10), inner,
                                                 max_size=4)), max_leaves=12)
_keys = st.sampled_from(["client", "dispute", "package", "redact", "screenshot", "name",
                         "email", "file", "note", "kind", "date", "respond_by", "patterns",
                         "output", "highlight"])
_docs = st.dictionaries(_keys, st.one_of(_toml_values,
                                         st.dictionaries(_keys, _toml_values, max_size=5),
                                         st.lists(st.dictionaries(_keys, _toml_values,
                                                                  max_size=5), max_size=3)),
                        max_size=5)


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=_docs)
def test_loader_only_raises_case_error_on_any_structure(tmp_path, doc):
    import tomli_w
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):
        return
    (tmp_path / "case.toml").write_text(text, encoding="utf-8")
    try:
        case = load_case(tmp_path)
    except CaseError as e:
        assert "\n" not in str(e)
        return
    assert case.client.name and "@" in case.client.email
    for rel in case.entries:  # whatever loaded stays inside the case folder
        assert (tmp_path.resolve() / rel).resolve().is_relative_to(tmp_path.resolve())


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_loader_only_raises_case_error_on_any_bytes(tmp_path, raw):
    (tmp_path / "case.toml").write_bytes(raw)
    try:
        load_case(tmp_path)
    except CaseError as e:
        assert "\n" not in str(e)
