"""Staff commands speak the shop's language (issue 14): `smsd-crm order` and `smsd-crm complaint`
print their words from the one message catalogue, Indonesian in an Indonesian shop with no English
status word, and English when the shop is English or the person asks with --lang en (the pages'
ID / EN switch). Times stay shop time. The real command, in its own process."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

from .conftest import SMSD_CRM, write_config

ENGLISH_STATES = ("new", "ready", "done", "cancelled", "open", "answered", "closed")
INDONESIAN_STATES = ("baru", "siap", "selesai", "dibatalkan", "terbuka", "dijawab", "ditutup")
STAMP = "2025-01-01T02:50:00+00:00"  # 09.50 WIB


def cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SMSD_CRM, *args, "-c", str(config)], capture_output=True, text=True, timeout=60)


def _shop(tmp_path: Path) -> Path:
    """An Indonesian shop (store.language left at its default) with an order and a complaint in
    every state; staff have written on each complaint."""
    config = write_config(tmp_path, "/dev/null")
    assert cli(config, "migrate").returncode == 0
    with sqlite3.connect(tmp_path / "data" / "test.sqlite3") as conn:
        for number, state in enumerate(("new", "ready", "done", "cancelled"), start=1):
            conn.execute("INSERT INTO orders (id, phone, state, total, language, created_at, updated_at) "
                         "VALUES (?, '+6281234567890', ?, 5000, 'id', ?, ?)", (number, state, STAMP, STAMP))
            conn.execute("INSERT INTO order_lines VALUES (?, 1, 1, 'B01', 'Beras', 2, 2500, 2000)", (number,))
        for number, state in enumerate(("open", "answered", "closed"), start=1):
            conn.execute("INSERT INTO complaints (id, phone, state, language, opened_at) "
                         "VALUES (?, '+6281234567890', ?, 'id', ?)", (number, state, STAMP))
            conn.executemany("INSERT INTO complaint_notes (complaint_id, at, author, text) VALUES (?, ?, ?, ?)",
                             [(number, STAMP, "customer", "telur pecah"), (number, STAMP, "staff", "maaf, diganti")])
    conn.close()
    return config


def _words(text: str, words: tuple[str, ...]) -> set[str]:
    return {w for w in words if re.search(rf"\b{w}\b", text)}


def _session(config: Path, *lang: str) -> tuple[str, dict[str, subprocess.CompletedProcess]]:
    """What a cashier reads in a morning: lists, one order and one ticket, moves that work and moves
    that cannot be done (every output, and each command's result)."""
    runs = {
        "orders": cli(config, "order", "list", "--state", "all", *lang),
        "order": cli(config, "order", "show", "#2", *lang),
        "complaints": cli(config, "complaint", "list", "--state", "all", *lang),
        "ticket": cli(config, "complaint", "show", "K2", *lang),
        "cannot_move": cli(config, "order", "ready", "#3", *lang),  # done: it cannot become ready
        "closed_ticket": cli(config, "complaint", "answer", "K3", "maaf", *lang),
        "no_number": cli(config, "order", "show", *lang),
        "moved": cli(config, "order", "ready", "#1", *lang),
        "answered": cli(config, "complaint", "answer", "K1", "maaf, besok diganti", *lang),
    }
    for name, run in runs.items():
        assert run.returncode == {"cannot_move": 1, "closed_ticket": 1, "no_number": 2}.get(name, 0), (name, run)
        assert "Traceback" not in run.stderr, (name, run.stderr)
    return "\n".join(run.stdout for run in runs.values()), runs


def test_an_indonesian_shop_reads_indonesian_words_and_no_english_status_word(tmp_path):
    said, runs = _session(_shop(tmp_path))
    assert _words(said, INDONESIAN_STATES) == set(INDONESIAN_STATES), said
    assert not _words(said, ENGLISH_STATES), said
    assert "4 pesanan" in runs["orders"].stdout and "3 keluhan" in runs["complaints"].stdout
    assert runs["order"].stdout.startswith("#2 siap +6281234567890 total Rp5.000 · dipesan 1 Jan 2025 09.50")
    assert runs["ticket"].stdout.startswith("K2 dijawab +6281234567890 dibuka 1 Jan 2025 09.50")
    assert "1 Jan 2025 09.50 pelanggan: 'telur pecah'" in runs["ticket"].stdout
    assert "1 Jan 2025 09.50 staf: 'maaf, diganti'" in runs["ticket"].stdout
    assert "pesanan #3 berstatus selesai; tidak bisa menjadi siap" in runs["cannot_move"].stdout
    assert "keluhan K3 sudah ditutup" in runs["closed_ticket"].stdout
    assert "pesanan #1 kini siap; pelanggan dikirimi SMS" in runs["moved"].stdout
    assert "K1 dijawab; pelanggan dikirimi SMS" in runs["answered"].stdout


def test_english_when_the_person_asks_for_it_or_the_shop_is_english(tmp_path):
    config = _shop(tmp_path)
    said, runs = _session(config, "--lang", "en")
    assert _words(said, ENGLISH_STATES) == set(ENGLISH_STATES), said
    assert not _words(said, INDONESIAN_STATES), said
    assert "4 order(s)" in runs["orders"].stdout and "3 complaint(s)" in runs["complaints"].stdout
    assert runs["order"].stdout.startswith("#2 ready +6281234567890 total Rp5.000 · ordered 1 Jan 2025 09:50")
    assert "1 Jan 2025 09:50 staff: 'maaf, diganti'" in runs["ticket"].stdout  # shop time, English clock
    assert "order 3 is done; it cannot become ready" in runs["cannot_move"].stdout
    assert "order 1 is ready; the customer gets an SMS" in runs["moved"].stdout
    # an English shop needs no --lang; an Indonesian person there asks for Indonesian
    english = tmp_path / "english.yaml"
    english.write_text(config.read_text().replace("  name: Toko Uji\n", "  name: Toko Uji\n  language: en\n"))
    listed = cli(english, "complaint", "list", "--state", "all")
    assert listed.returncode == 0 and _words(listed.stdout, ENGLISH_STATES) == {"answered", "closed"}, listed
    listed = cli(english, "complaint", "list", "--state", "all", "--lang", "id")
    assert listed.returncode == 0 and _words(listed.stdout, INDONESIAN_STATES) == {"dijawab", "ditutup"}, listed
    assert not _words(listed.stdout, ENGLISH_STATES)
