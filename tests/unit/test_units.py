"""Durations and byte sizes (`stackup.units`), as every layer reads them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackup.errors import UserError
from stackup.units import UnitError, format_duration, parse_bytes, parse_duration, parse_seconds

NS = 1_000_000_000


@pytest.mark.parametrize("text,ns", [
    ("90s", 90 * NS), ("1m30s", 90 * NS), ("1h2m3s", 3723 * NS), ("1.5s", 1_500_000_000),
    ("500ms", 500_000_000), ("10us", 10_000), ("10µs", 10_000), ("7ns", 7), (".5s", NS // 2),
    ("-1m", -60 * NS), ("+2s", 2 * NS), ("0", 0), (90, 90 * NS), (0.5, NS // 2),
])
def test_parse_duration(text, ns):
    assert parse_duration(text) == ns


def test_seconds():
    assert parse_seconds("1m30s") == 90.0 and parse_seconds(5) == 5.0


def test_format_duration_as_go_prints_it():
    assert format_duration(parse_duration("90s")) == "1m30s"
    assert format_duration(parse_duration("1h")) == "1h0m0s"
    assert format_duration(parse_duration("1.5s")) == "1.5s"
    assert format_duration(1500) == "1.5µs" and format_duration(-2 * NS) == "-2s" and format_duration(0) == "0s"


@pytest.mark.parametrize("bad", ["10 parsecs", "", "s", "5", "1.2.3s", "-", True, "9999999999h"])
def test_bad_durations(bad):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)


def test_errors_are_user_errors_that_name_the_place():
    """The engine lets them through to the user (exit code 2); the stack file's checks
    catch them as ValueErrors and add the position."""
    with pytest.raises(UserError, match=r"^mount /t: invalid size 'lots' \(use a number"):
        parse_bytes("lots", "mount /t")
    with pytest.raises(UserError, match=r"^invalid --memory 'lots' \(use a number"):
        parse_bytes("lots", what="--memory")
    with pytest.raises(UnitError, match=r"^invalid duration 'soon' \(use a number and a unit"):
        parse_duration("soon")


@pytest.mark.parametrize("text,value", [("512", 512), ("64m", 64 << 20), ("1g", 1 << 30), ("1G", 1 << 30),
                                        ("1.5k", 1536), ("2MiB", 2 << 20), ("3 kb", 3072), ("5b", 5),
                                        (7, 7), (7.9, 7)])
def test_parse_bytes(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("bad", ["lots", "", "1x", "-1m", "1.m", True])
def test_bad_sizes(bad):
    with pytest.raises(ValueError, match="invalid size"):
        parse_bytes(bad)


@given(st.integers(min_value=-(1 << 63) + 1, max_value=(1 << 63) - 1))
def test_every_printed_duration_reads_back_exactly(ns):
    assert parse_duration(format_duration(ns)) == ns


@given(st.integers(min_value=0, max_value=1 << 20), st.sampled_from(["", "k", "m", "g", "t", "p"]),
       st.sampled_from(["", "b", "ib", "B", "iB"]), st.booleans())
def test_a_size_is_its_number_times_its_unit(number, unit, suffix, upper):
    text = f"{number}{unit.upper() if upper else unit}{suffix if unit else suffix.lstrip('i')}"
    assert parse_bytes(text) == number * 1024 ** "_kmgtp".index(unit or "_")
