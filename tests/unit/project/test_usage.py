"""`stats`' units as Docker's go-units prints them, and the readers of cgroup and
/proc files the samples come from."""

from stackup.engine.runtime import usage as engine_usage
from stackup.engine.runtime.usage import Sample
from stackup.project import usage


def test_memory_in_binary_units_with_four_digits():
    assert usage.human(0) == "0B"
    assert usage.human(316 * 1024) == "316KiB"
    assert usage.human(24683772 * 1024) == "23.54GiB"
    assert usage.human(1536 * 1024 * 1024) == "1.5GiB"


def test_io_in_decimal_units_with_three_digits():
    assert usage.decimal(872) == "872B"
    assert usage.decimal(1570) == "1.57kB"
    assert usage.decimal(12_345_678) == "12.3MB"


def test_row_has_composes_fields_and_host_memory_as_the_limit():
    before = Sample(0, 0, 0, 1)
    after = Sample(500_000_000, 1024 * 1024, 0, 2, 4096, 0, 1570, 0)
    row = usage.row("p-web-1", "a" * 64, before, after, 1.0, 4 * 1024 ** 3)
    assert list(row) == ["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"]
    assert row["CPUPerc"] == "50.00%" and row["MemPerc"] == "0.02%"
    assert row["MemUsage"] == "1MiB / 4GiB" and row["NetIO"] == "1.57kB / 0B"
    assert row["BlockIO"] == "4.1kB / 0B" and row["ID"] == "a" * 12 and row["PIDs"] == "2"


def test_cgroup_readers():
    assert engine_usage._io_stat("8:0 rbytes=10 wbytes=20 rios=1\n8:16 rbytes=1 wbytes=2\n") == (11, 22)
    assert engine_usage._blkio("8:0 Read 5\n8:0 Write 7\n8:0 Sync 9\nTotal 12\n") == (5, 7)
    assert engine_usage._without_inactive(1000, "anon 10\ninactive_file 300\n", "inactive_file") == 700
    assert engine_usage._without_inactive(100, "inactive_file 300\n", "inactive_file") == 100
