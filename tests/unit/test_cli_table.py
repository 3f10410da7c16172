"""The CLI's one table printer (stackup.cli.table)."""

from __future__ import annotations

from stackup.cli.table import print_table


def test_columns_are_left_aligned_three_spaces_apart_without_trailing_blanks(capsys):
    print_table([("PID", "CMD", "X"), (1, "sleep 10", ""), (1234, "sh", "")])
    assert capsys.readouterr().out == "PID    CMD        X\n1      sleep 10\n1234   sh\n"


def test_header_alone_is_printed(capsys):
    print_table([["REPOSITORY", "TAG"]])
    assert capsys.readouterr().out == "REPOSITORY   TAG\n"
