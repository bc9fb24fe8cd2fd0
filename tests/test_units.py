import pytest
from hypothesis import given, strategies as st

from evidence.units import format_size, parse_size


@pytest.mark.parametrize("text, value", [
    ("636065", 636065), ("4.5MB", 4_500_000), ("4MiB", 4_194_304), ("2 mb", 2_000_000),
    ("512KiB", 524_288), ("1.5kb", 1500), ("10M", 10_000_000),
])
def test_sizes(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "MB", "4.5 XB", "-3MB", "0", "four"])
def test_bad_sizes(text):
    with pytest.raises(ValueError):
        parse_size(text)


@given(st.integers(min_value=1, max_value=10**12))
def test_plain_bytes_round_trip(n):
    assert parse_size(str(n)) == n
    assert format_size(n)
