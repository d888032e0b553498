"""The command line: --help everywhere, python -m, and a standalone emulator process."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from .conftest import SMSD_CRM, sim_send, wait_until, write_config

SUBCOMMANDS = [["run"], ["demo"], ["check-config"], ["plugins"], ["migrate"], ["sim"], ["sim", "send"],
               ["emulator"], ["campaign"], ["user"], ["user", "disable"], ["user", "password"]]


@pytest.mark.parametrize("args", [[]] + SUBCOMMANDS)
def test_help_everywhere(args):
    result = subprocess.run([SMSD_CRM, *args, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("usage: smsd-crm")


def test_python_dash_m_is_the_same_command():
    result = subprocess.run([sys.executable, "-m", "smsd_crm", "--version"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("smsd-crm ")


def test_migrate_creates_the_schema(tmp_path):
    config = write_config(tmp_path, "/dev/null")
    result = subprocess.run([SMSD_CRM, "migrate", "-c", str(config)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "test.sqlite3").exists()


def test_campaign_mistakes_get_one_clear_line(tmp_path):
    config = write_config(tmp_path, "/dev/null")

    def campaign(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([SMSD_CRM, "campaign", *args, "-c", str(config)], capture_output=True, text=True,
                              timeout=60)
    for args, says in ((["create", "--name", "x"], "--text is required"),
                       (["create", "--text", "x", "--segment", "Whales"], "unknown segment 'Whales'"),
                       (["create", "--text", "x", "--class", "regular", "--category", "Sembako"], "choose one audience"),
                       (["create", "--text", "x", "--start", "besok pagi"], "use YYYY-MM-DD HH:MM"),
                       (["create", "--text", "x", "--promo-code", "a b;"], "a promo code is letters and digits"),
                       (["start", "99"], "no campaign 99"), (["pause"], "needs a campaign id")):
        result = campaign(*args)
        assert result.returncode != 0 and says in result.stderr and "Traceback" not in result.stderr, (args, result)
    made = campaign("create", "--text", "Halo {nama} 🎉", "--name", "emoji")
    assert made.returncode == 0 and "UCS-2 because of '🎉'" in made.stdout
    assert campaign("start", "1").returncode == 0
    again = campaign("start", "1")
    assert again.returncode == 1 and "not a draft" in again.stderr
    assert campaign("resume", "1").returncode == 1  # it is not paused
    assert "campaign 1 cancelled" in campaign("cancel", "1").stdout


async def test_standalone_emulator_process_with_a_separate_daemon(tmp_path, daemons):
    link, sock = tmp_path / "ttyEMU0", tmp_path / "emu.sock"
    emu = await asyncio.create_subprocess_exec(
        SMSD_CRM, "emulator", "--link", str(link), "--control", str(sock),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        line = await asyncio.wait_for(emu.stdout.readline(), 30)
        assert f"port {link}" in line.decode()
        config = write_config(tmp_path, str(link), extra=f"emulator:\n  control_socket: {sock}\n")
        await daemons(config, tmp_path / "daemon.log")
        code, out, err = await sim_send(config, "085712345678", "REG Wati#Gg. Mawar 2")
        assert code == 0, err
        assert out.startswith("Selamat datang Wati")
        # the emulator tells what it put on the air (how a shop counts duplicates after a crash)
        on_air = (await asyncio.wait_for(emu.stdout.readline(), 30)).decode()
        assert on_air.startswith("on the air: to +6285712345678") and "Selamat datang Wati" in on_air
    finally:
        emu.terminate()
        assert await asyncio.wait_for(emu.wait(), 30) == 0
    await wait_until(lambda: not link.exists() and not sock.exists(), 10, "emulator cleaned up")


def _json_cli(*args: str) -> tuple[int, dict | None, str]:
    import json
    result = subprocess.run([SMSD_CRM, *args], capture_output=True, text=True, timeout=60)
    return result.returncode, json.loads(result.stdout) if result.returncode == 0 else None, result.stderr


def test_pdu_decode_prints_every_field():
    code, info, _ = _json_cli("pdu", "decode",
                              "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07")
    assert code == 0
    assert info["type"] == "SMS-DELIVER" and info["smsc"] == "+31624000000"
    assert info["sender"] == {"number": "+31641600986", "toa": "91", "type": "international"}
    assert info["scts"] == "2002-08-26T19:37:41+00:00" and info["text"] == "How are you?"
    assert info["dcs"]["alphabet"] == "gsm7"


def test_pdu_encode_shows_lengths_and_what_forces_ucs2():
    code, info, _ = _json_cli("pdu", "encode", "--to", "0812-3456-7890", "--text", "Diskon “10%”", "--srr")
    assert code == 0
    assert info["encoding"] == "ucs2" and info["forces_ucs2"] == "“" and info["parts"] == 1
    [part] = info["pdus"]
    code, decoded, _ = _json_cli("pdu", "decode", part["pdu"])
    assert decoded["destination"]["number"] == "+6281234567890" and decoded["status_report_request"]
    assert part["command"] == f"AT+CMGS={len(part['pdu']) // 2 - 1}"


def test_pdu_decode_of_junk_is_one_line():
    code, _, err = _json_cli("pdu", "decode", "07911326040000F004")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "cannot decode" in err


def test_catalog_export_to_a_file_it_cannot_write_is_one_line(tmp_path):
    config = write_config(tmp_path, "/dev/null")
    for output in (tmp_path / "no" / "such" / "dir" / "x.csv", tmp_path):  # no such folder; a folder
        out = subprocess.run([SMSD_CRM, "catalog", "export", "-o", str(output), "-c", str(config)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 1 and out.stderr.startswith(f"error: cannot write {output}: "), out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr, out.stderr


def test_user_add_hashes_the_password_and_refuses_weak_or_duplicate(tmp_path):
    import sqlite3
    config = write_config(tmp_path, "/dev/null")
    add = lambda name, pw, role="staff": subprocess.run(  # noqa: E731
        [SMSD_CRM, "user", "add", name, "--role", role, "--password-stdin", "-c", str(config)],
        input=pw + "\n", capture_output=True, text=True, timeout=60)
    ok = add("pemilik", "mawar-sore-48", "owner")
    assert ok.returncode == 0 and "user pemilik (owner) created" in ok.stdout
    assert "mawar-sore-48" not in ok.stdout + ok.stderr
    assert add("pemilik", "lain-lagi-456").returncode == 1
    weak = add("kasir", "1234")
    assert weak.returncode == 1 and "at least 8 characters" in weak.stderr
    for named in ("Wulandari2025!", "tokouji-99"):  # the login's name, the shop's (Toko Uji)
        refused = add("wulandari", named)
        assert refused.returncode == 1 and "the login's name or the shop's name" in refused.stderr, refused.stderr
    row = sqlite3.connect(tmp_path / "data" / "test.sqlite3").execute(
        "SELECT role, password_hash FROM users WHERE username = 'pemilik'").fetchone()
    assert row[0] == "owner" and row[1].startswith("scrypt$") and "rahasia" not in row[1]


def test_user_disable_enable_password_and_role_share_the_pages_rules(tmp_path):
    import sqlite3
    config = write_config(tmp_path, "/dev/null")
    user = lambda *args, stdin=None: subprocess.run(  # noqa: E731
        [SMSD_CRM, "user", *args, "-c", str(config)], input=stdin, capture_output=True, text=True, timeout=60)
    assert user("add", "pemilik", "--role", "owner", "--password-stdin", stdin="mawar-sore-48\n").returncode == 0
    assert user("add", "kasir", "--password-stdin", stdin="mawar-sore-48\n").returncode == 0
    last = user("disable", "pemilik")
    assert last.returncode == 1 and "at least one active owner" in last.stderr
    assert user("role", "pemilik", "staff").returncode == 1
    db = sqlite3.connect(tmp_path / "data" / "test.sqlite3")
    db.execute("INSERT INTO web_sessions (token_hash, user_id, csrf, created_at, expires_at) "
               "SELECT 'h', id, 'c', '2026-01-01', '2999-01-01' FROM users WHERE username = 'kasir'")
    db.commit()
    out = user("disable", "kasir")
    assert out.returncode == 0 and "Login kasir disabled" in out.stdout
    assert db.execute("SELECT COUNT(*) FROM web_sessions").fetchone()[0] == 0  # its sessions ended
    listing = user("list").stdout.splitlines()
    assert [line.split()[:3] for line in listing] == [["kasir", "staff", "disabled"], ["pemilik", "owner", "active"]]
    assert user("enable", "kasir").returncode == 0
    weak = user("password", "kasir", "--password-stdin", stdin="1234\n")
    assert weak.returncode == 1 and "at least 8 characters" in weak.stderr
    assert user("password", "kasir", "--password-stdin", stdin="baru-sekali-9\n").returncode == 0
    assert user("role", "kasir", "owner").returncode == 0
    assert user("disable", "pemilik").returncode == 0  # another owner is active now
    assert user("disable", "nobody").returncode == 1
    row = db.execute("SELECT role, disabled_at, password_hash FROM users WHERE username = 'kasir'").fetchone()
    assert row[0] == "owner" and row[1] is None and "baru" not in row[2]
