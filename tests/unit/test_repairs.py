"""What the engine repaired is reported once, in one line, when the command ends."""

from stackup.cli import main
from stackup.engine import notices


def test_repairs_are_reported_in_one_line_and_forgotten(capsys):
    notices.take_repairs()  # what earlier tests in this process left
    notices.repaired("container a-web-1: finished its interrupted removal")
    notices.repaired("volume a_data: removed what an interrupted create made")
    notices.repaired("container a-web-1: finished its interrupted removal")   # once only
    main.report_repairs()
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "stackup: repaired what an interrupted command left: container a-web-1: finished its "
        "interrupted removal; volume a_data: removed what an interrupted create made"]
    main.report_repairs()
    assert capsys.readouterr().err == ""


def test_nothing_repaired_nothing_said():
    notices.take_repairs()
    assert notices.repairs_summary() is None
