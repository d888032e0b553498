"""Log lines under systemd's journal (no second time stamp, the level as a syslog priority) and a log
file that logrotate moves away (the next line goes to the new file)."""

from __future__ import annotations

import logging
import os

import pytest

from smsd_crm.cli import logs


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def test_under_the_journal_a_line_has_a_priority_and_no_time(tmp_path, restore_logging):
    with open(tmp_path / "journal", "w+", encoding="utf-8") as stream:
        st = os.fstat(stream.fileno())
        logs.set_up("INFO", stream=stream, environ={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        logging.getLogger("smsd_crm.pool").warning("sim1 stopped answering")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("smsd_crm").exception("a bug")
        stream.seek(0)
        lines = stream.read().splitlines()
    assert lines[0] == "<4>smsd_crm.pool: sim1 stopped answering"
    assert lines[1] == "<3>smsd_crm: a bug"
    # every line of the traceback is one journal entry of the same priority
    assert len(lines) > 3 and all(line.startswith("<3>") for line in lines[1:])


def test_another_stream_keeps_its_time_stamp(tmp_path, restore_logging):
    with open(tmp_path / "redirected", "w+", encoding="utf-8") as stream:
        # the variable is inherited by a child whose stderr goes elsewhere: not the journal
        logs.set_up("INFO", stream=stream, environ={"JOURNAL_STREAM": "1:2"})
        logging.getLogger("smsd_crm").info("hello")
        stream.seek(0)
        line = stream.read().strip()
    assert line.endswith("INFO    smsd_crm: hello") and line[:4].isdigit()


def test_a_rotated_log_file_is_left_behind_and_a_new_one_written(tmp_path, restore_logging):
    log = tmp_path / "var" / "smsd-crm.log"
    with open(tmp_path / "stderr", "w", encoding="utf-8") as stream:
        logs.set_up("INFO", log, stream=stream, environ={})
        logging.getLogger("smsd_crm").info("before rotation")
        log.rename(log.with_suffix(".log.1"))  # what logrotate does (without copytruncate)
        logging.getLogger("smsd_crm").info("after rotation")
    assert "before rotation" in log.with_suffix(".log.1").read_text()
    assert "after rotation" not in log.with_suffix(".log.1").read_text()
    assert "after rotation" in log.read_text()
    assert oct(log.stat().st_mode & 0o777) == "0o600"
