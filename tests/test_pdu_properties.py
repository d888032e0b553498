"""Property tests: any text survives encode -> decode; random bytes only ever raise PduError."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from smsd_crm.errors import PduError
from smsd_crm.sms import compose, gsm7, pdu
from smsd_crm.sms.reassembly import Reassembler, join_text

any_text = st.text(max_size=600, alphabet=st.characters(blacklist_categories=("Cs",)))
zones = st.integers(min_value=-48, max_value=56).map(lambda q: timezone(timedelta(minutes=15 * q)))
stamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2089, 12, 31)).map(
    lambda d: d.replace(microsecond=0))


def _join(parts: list[compose.EncodedPdu]) -> tuple[str, list[pdu.Deliver | pdu.Submit]]:
    decoded = [pdu.decode(p.hex) for p in parts]
    return "".join(d.text for d in decoded), decoded


@settings(max_examples=300, deadline=None)
@given(text=any_text, ref=st.integers(0, 65535), bits=st.sampled_from([8, 16]))
def test_submit_round_trip_any_text(text, ref, bits):
    parts = compose.encode_submit("+6281234567890", text, concat_reference=ref, ref_bits=bits)
    joined, decoded = _join(parts)
    assert joined == text
    if len(parts) > 1:
        assert [d.concat.sequence for d in decoded] == list(range(1, len(parts) + 1))
        assert {d.concat.ref_bits for d in decoded} == {bits}
        assert {d.concat.reference for d in decoded} == {ref if bits == 16 else ref & 0xFF}
    for p in parts:
        assert p.tpdu_length <= 140 + 13 + 1  # header + at most 140 octets of user data


@settings(max_examples=200, deadline=None)
@given(text=any_text, when=stamps, tz=zones,
       sender=st.sampled_from(["+6281234567890", "081234567890", "TELKOMSEL", "INDOSAT_OOREDOO", "3636"]))
def test_deliver_round_trip_with_time_stamp(text, when, tz, sender):
    parts = compose.encode_deliver(sender, text, when.replace(tzinfo=tz), ref_bits=16, concat_reference=999)
    joined, decoded = _join(parts)
    assert joined == text
    assert all(d.sender.number == sender for d in decoded)
    assert all(d.scts == when.replace(tzinfo=tz) for d in decoded)


@settings(max_examples=2000, deadline=None)
@given(data=st.binary(max_size=200), smsc=st.booleans())
def test_random_bytes_raise_only_pdu_error(data, smsc):
    try:
        pdu.decode(data.hex(), with_smsc=smsc)
    except PduError:
        pass


@settings(max_examples=500, deadline=None)
@given(data=st.binary(min_size=1, max_size=60), cut=st.integers(0, 200))
def test_mutated_real_pdus_raise_only_pdu_error(data, cut):
    real = compose.encode_deliver("+6281234567890", "Halo € 😀 " * 20, datetime(2026, 1, 1, tzinfo=timezone.utc))
    raw = bytes.fromhex(real[0].hex)
    cut %= len(raw)
    try:
        pdu.decode((raw[:cut] + data + raw[cut + len(data):]).hex())
    except PduError:
        pass


def _parts(text: str, bits: int = 8):
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return [pdu.decode(p.hex) for p in compose.encode_deliver("+62811", text, when, ref_bits=bits,
                                                              concat_reference=300)]


def test_reassembly_out_of_order_and_duplicated():
    text = "x" * 400
    a, b, c = _parts(text, bits=16)
    clock = [0.0]
    r = Reassembler(60, lambda: clock[0])
    assert r.add(a, 1) is None
    assert r.add(c, 3) is None
    assert r.add(c, 4) is None  # the same part twice (read from two indices)
    group = r.add(b, 2)
    assert group is not None and group.text() == text and group.indices == {1, 2, 3, 4}
    assert r.groups == {}


def test_reassembly_missing_part_expires_incomplete():
    a, _, c = _parts("y" * 400)
    clock = [0.0]
    r = Reassembler(60, lambda: clock[0])
    r.add(a, 1)
    r.add(c, 3)
    clock[0] = 59.0
    assert r.expired() == []
    clock[0] = 60.0
    [group] = r.expired()
    assert group.text() == "y" * 153 + "[...]" + "y" * 94 and len(group.parts) == 2


def test_same_reference_from_two_senders_is_kept_apart():
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    p1 = [pdu.decode(p.hex) for p in compose.encode_deliver("+62811", "a" * 200, when, concat_reference=5)]
    p2 = [pdu.decode(p.hex) for p in compose.encode_deliver("+62822", "b" * 200, when, concat_reference=5)]
    r = Reassembler(60, lambda: 0.0)
    assert r.add(p1[0], 1) is None and r.add(p2[0], 2) is None
    assert r.add(p1[1], 3).text() == "a" * 200
    assert r.add(p2[1], 4).text() == "b" * 200


WHEN = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _cut(units, cuts, size: int = 1):
    """``units`` cut at ``cuts`` (counted in units of ``size`` items), wherever that falls."""
    points = sorted({0, len(units), *(c * size for c in cuts if 0 < c * size < len(units))})
    return [units[a:b] for a, b in zip(points, points[1:])] or [units]


def _parts_cut_anywhere(encoding: str, chunks, sender: str = "+62811", reference: int = 7,
                        when: datetime = WHEN) -> list[pdu.Deliver]:
    segs = [compose.Segment(encoding, c, "") for c in chunks]
    return [pdu.decode(p.hex) for p in compose.encode_deliver_segments(sender, segs, when,
                                                                       concat_reference=reference)]


def test_an_emoji_cut_between_two_parts_is_joined():
    units = ("Terima kasih " + "🙏" + " sampai jumpa").encode("utf-16-be")
    cut = units.index("🙏".encode("utf-16-be")) + 2  # between the high and the low surrogate
    parts = _parts_cut_anywhere(pdu.UCS2, [units[:cut], units[cut:]])
    assert [p.text.count("\ufffd") for p in parts] == [1, 1]  # each part alone has half an emoji
    assert join_text(parts) == "Terima kasih 🙏 sampai jumpa"
    assert join_text([parts[0], None]) == "Terima kasih \ufffd[...]"


def test_an_escape_at_the_end_of_a_part_joins_the_next_part():
    septets = gsm7.encode("Harga 10€ saja")
    cut = septets.index(gsm7.ESC) + 1  # the ESC ends part 1, the euro's code starts part 2
    parts = _parts_cut_anywhere(pdu.GSM7, [septets[:cut], septets[cut:]])
    assert join_text(parts) == "Harga 10€ saja"


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="ab€{}[]😀é ", min_size=1, max_size=300),
       cuts=st.lists(st.integers(1, 200), max_size=5))
def test_text_cut_at_any_unit_joins_back(text, cuts):
    if gsm7.is_gsm7(text):
        chunks = _cut(gsm7.encode(text), cuts)
        parts = _parts_cut_anywhere(pdu.GSM7, chunks)
    else:
        chunks = _cut(text.encode("utf-16-be"), cuts, size=2)
        parts = _parts_cut_anywhere(pdu.UCS2, chunks)
    assert join_text(parts) == text


def test_a_reused_reference_keeps_two_messages_apart():
    """One sender, one reference, two long messages with their parts interleaved."""
    first = _parts("pertama " * 30)
    second = [pdu.decode(p.hex) for p in compose.encode_deliver(
        "+62811", "kedua " * 40, datetime(2026, 1, 1, 0, 2, tzinfo=timezone.utc), ref_bits=8,
        concat_reference=300)]
    assert first[0].concat == second[0].concat and len(first) == len(second) == 2
    r = Reassembler(60, lambda: 0.0)
    assert r.add(first[0], 1) is None
    assert r.add(second[0], 2) is None  # the same sequence number, other content: not a duplicate
    assert r.add(first[0], 5) is None  # this one is a duplicate: the same PDU in another slot
    done = r.add(second[1], 3)  # nearest in time to the second's part 1
    assert done is not None and done.text() == "kedua " * 40 and done.indices == {2, 3}
    done = r.add(first[1], 4)
    assert done is not None and done.text() == "pertama " * 30 and done.indices == {1, 4, 5}
    assert r.groups == {}


def test_reused_reference_groups_expire_one_by_one():
    first = _parts("satu " * 50)
    second = [pdu.decode(p.hex) for p in compose.encode_deliver(
        "+62811", "dua " * 60, datetime(2026, 1, 1, 0, 5, tzinfo=timezone.utc), concat_reference=300)]
    clock = [0.0]
    r = Reassembler(60, lambda: clock[0])
    r.add(first[0], 1)
    clock[0] = 30.0
    r.add(second[0], 2)
    clock[0] = 61.0
    [old] = r.expired()
    assert old.text().startswith("satu") and old.text().endswith("[...]")
    clock[0] = 91.0
    [young] = r.expired()
    assert young.text().startswith("dua") and r.groups == {}
