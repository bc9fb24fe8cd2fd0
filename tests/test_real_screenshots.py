"""Field checks and the filed date on the 47 real app screenshots of ../shared/real-screenshots.

The images are read from there (never copied into the repository); each one is its own
case as its README says, OCR'd once per test session with the real engine (rapidocr),
its OCR cached in a temporary folder, then checked exactly as `evidence check` does
(`pipeline.check_one`). Per screenshot: name, email and date verdicts equal truth.json,
the filed date (`when`) equals `message_date` (or its month and day `message_month_day`),
and a look-alike client (one letter of name and email changed to one OCR does not
confuse) fails. `bench/real_fields.py` prints the same comparison as a table.
"""
from __future__ import annotations

import json

import pytest

from bench.real_fields import REAL_DIR, evaluate, looker, ocr_all

TRUTH_FILE = REAL_DIR / "truth.json"
TRUTH = json.loads(TRUTH_FILE.read_text()) if TRUTH_FILE.is_file() else {}
FILES = sorted(TRUTH)

# What the bundled OCR model cannot read, named: (file, check) -> why.
CANNOT_READ = {
    ("fairemail-01.png", "name"): "the name is in Hangul, a script the bundled rapidocr "
                                  "model does not read",
}

pytestmark = pytest.mark.skipif(
    not TRUTH, reason=f"the real screenshots are not here ({REAL_DIR}); CI has them")


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    cache = tmp_path_factory.mktemp("real-ocr")
    results = ocr_all(REAL_DIR, TRUTH, cache, None)
    return {v.file: v for v in evaluate(REAL_DIR, TRUTH, results, looker(cache))}


def _params(files, what):
    """The files, those the OCR model cannot read marked as expected (strict) failures."""
    return [pytest.param(f, marks=pytest.mark.xfail(strict=True, reason=CANNOT_READ[(f, what)]))
            if (f, what) in CANNOT_READ else f for f in files]


@pytest.mark.parametrize("file", _params(FILES, "name"))
def test_name_email_date_verdicts(verdicts, file):
    v = verdicts[file]
    assert v.name[0] == v.name[1], f"name found={v.name[0]}, truth {v.name[1]}"
    assert v.email[0] == v.email[1], f"email found={v.email[0]}, truth {v.email[1]}"
    assert v.date[0] == v.date[1], f"date found={v.date[0]}, truth {v.date[1]}"


@pytest.mark.parametrize("file", _params([f for f in FILES if TRUTH[f]["message_date"]
                                          or TRUTH[f]["message_month_day"]], "filed"))
def test_filed_under_the_client_message_date(verdicts, file):
    v = verdicts[file]
    assert v.filed_ok, (f"filed {v.filed} from {v.when_text!r} ({v.when_reason}), "
                        f"truth {v.filed_want}")
    assert v.when_reason, "when.reason says where the date sits"


@pytest.mark.parametrize("file", FILES)
def test_lookalike_client_fails(verdicts, file):
    assert verdicts[file].probe_ok, "a client one letter away passed"
