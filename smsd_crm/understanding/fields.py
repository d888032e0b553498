"""A customer's name, address and birthday as typed after DAFTAR or UBAH (pure).

Customers type the fields every way they know: the pulsa-reseller form
``Budi#Jl. Mawar 5#17-08-1990``, ``Budi, Jl. Mawar 5``, ``Budi.Jl. Mawar 5``,
``Budi;Jl. Mawar 5``, one field a line, spaces only (``Budi Santoso Jl. Mawar 5``:
the address starts at a word such as ``Jl.`` or one with a digit), or labels
(``nama Budi alamat jl mawar 5``, ``nama: Nur, alamat: Jl. Cemara No 6``,
``name Ann Lee address Main Street 5``, ``tgl lahir``/``lahir``/``ttl``).

``parse_registration`` finds the three fields, ``parse_update`` the one field
of an UBAH, and ``person_name`` tidies a name for the greeting that every reply
and promotion starts with: ``"siti aminah ,,"`` -> ``"Siti Aminah"``.
The address is kept as typed, only its spaces and the separators at its ends
tidied.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

_DATE = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{2,4})")
# A date at the end, after a separator: with dots only when the year has four digits,
# since "Mawar 5.17.08" is more likely a house number.
_TRAILING_DATE = re.compile(r"[\s#.,;*]*(?<!\d)(\d{1,2}[-/]\d{1,2}[-/]\d{2,4}|\d{1,2}\.\d{1,2}\.\d{4})\s*$")
_STRONG = re.compile(r"[#;*\r\n]+")  # always between fields, never inside a name or an address
_EDGE = " \t\r\n#.,;*:=-"  # separators trimmed off the ends of a field
# A comma, or a dash with spaces round it, ends the name.
_SOFT = re.compile(r",|\s[-\u2013]\s")
_LETTERS_DOT = re.compile(r"([^\W\d_]+)\.")
# Words that start an Indonesian address when fields are separated by spaces only.
_ADDRESS_START = {"JL", "JLN", "JALAN", "GG", "GANG", "PERUM", "PERUMAHAN", "KOMP", "KOMPLEK",
                  "KOMPLEKS", "RT", "RW", "DUSUN", "DSN", "DESA", "DS", "KP", "KAMPUNG", "BLOK",
                  "NO", "KEL", "KEC", "ASRAMA", "PASAR", "LORONG", "LR"}
# Abbreviations in names that take a dot ("Muh. Rizki", "Hj. Siti"): that dot does not end the name.
# A single letter with a dot is an initial ("A. Yani") for the same reason.
_NAME_ABBREVIATIONS = {"MUH", "MUHD", "MOH", "MOHD", "MOCH", "MHD", "ABD", "HJ", "DR", "DRS", "DRA", "IR",
                       "PROF", "KH", "NY", "TN", "SDR", "SDRI", "BPK", "ST", "RD", "RR", "JR", "SR"}
# Kept in lower case inside a name: "Ahmad bin Abdullah", "Siti binti Hasan", "Van der Berg".
PARTICLES = frozenset({"bin", "binti", "bt", "bte", "van", "von", "de", "der", "den", "ter", "ten", "da",
                       "dos", "du", "del", "della"})
_ROMAN = {"ii", "iii", "iv", "vi", "vii", "viii", "ix"}
_LABEL_WORDS = {
    "name": r"nama\s+lengkap|nama\s+(?:saya|sy|aku)|namanya|nama|full\s+name|name",
    "address": r"alamat\s+(?:saya|sy|lengkap)|alamatnya|alamat|almt|address|addr"
               r"|(?:rumah|rmh|tinggal)(?:\s+(?:saya|sy))?\s+(?:di|dkt|dekat)",
    "birthday": r"(?:tgl|tanggal)\.?\s*lahir|lahir|ttl|tgl|birthday|date\s+of\s+birth|dob",
}
_FIELD = "|".join(f"(?P<{field}>{words})" for field, words in _LABEL_WORDS.items())
_LABEL = re.compile(rf"(?<!\w)(?:{_FIELD})(?!\w)\s*[:=]?\s*", re.IGNORECASE)
_UPDATE = re.compile(rf"^[{re.escape(_EDGE)}]*(?:{_FIELD})(?!\w)[{re.escape(_EDGE)}]*(?P<value>.*)$",
                     re.IGNORECASE | re.DOTALL)
_BEFORE_VALUE = re.compile(r"^(?:(?:sudah\s+|udah\s+|udh\s+)?pindah\s+)?(?:ke|jadi|jd|menjadi|to|di)\s+",
                           re.IGNORECASE)  # "alamat ke ...", "alamat di ..."
# A form of address with a comma before the fields: "kak, Eko, Jl. Beringin 3".
_VOCATIVE = re.compile(r"^(?:kak|kakak|ka|mas|mbak|mba|min|admin|gan|sis|bos|bang|om|pak|bu|halo|hallo|hai"
                       r"|hi|ok|oke|ya)\s*[,!]+\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Registration:
    """What a DAFTAR message says: a tidy name (``person_name``), the address as typed, the birthday."""

    name: str
    address: str | None
    birthday: str | None  # as typed; checked by parse_birthday


def parse_birthday(text: str) -> date | None:
    """``17-08-1990``, ``17/8/90``, ``17.08.1990`` -> a date; None when it is not a real date."""
    m = _DATE.fullmatch(text.strip())
    if not m:
        return None
    day, month, year = (int(g) for g in m.groups())
    if year < 100:
        year += 1900 if year > 30 else 2000
    try:
        born = date(year, month, day)
    except ValueError:
        return None
    return born if 1900 <= born.year <= date.today().year else None


def person_name(raw: str) -> str:
    """A name as it should stand in a greeting: ``"siti aminah ,,"`` -> ``"Siti Aminah"``.

    Title case, with particles kept lower case inside the name (``Ahmad bin
    Abdullah``, ``Siti binti Hasan``); punctuation and symbols (emoji too: one
    would make every promotion to that customer a 70-character UCS-2 SMS) are
    dropped, except apostrophes, hyphens and dots inside a word (``O'Neil``,
    ``Ma'ruf``, ``Nur-Aini``, ``S.Pd``) and the dot of an initial or a short
    form (``A. Yani``, ``Muh. Rizki``). ``""`` when nothing is left.
    """
    raw = re.sub(r"<[^<>]{0,40}>", " ", raw)  # markup is no part of a name ("Siti <b>Aminah</b>")
    words = [w for w in (_tidy_word(w) for w in _name_characters(raw).split()) if w]
    return " ".join(_title(word, first=i == 0) for i, word in enumerate(words))


def parse_registration(separator: str, rest: str) -> Registration:
    """Read what follows the keyword: ``Budi Santoso#Jl. Mawar 5#17-08-1990`` and its variants.

    ``"Ani, Jl. Kenanga 3"`` -> ``Registration("Ani", "Jl. Kenanga 3", None)``;
    ``"Siti Aminah.Jl. Kenanga 3"`` -> ``("Siti Aminah", "Jl. Kenanga 3", None)``;
    ``"nama budi alamat jl mawar 5"`` -> ``("Budi", "jl mawar 5", None)``;
    ``"budi santoso"`` -> ``("Budi Santoso", None, None)``. The name is ``""``
    when there is none. ``separator`` (what followed the keyword) is accepted
    for callers that pass it; the fields are found in ``rest`` alone, whatever
    separators it mixes.
    """
    text = _VOCATIVE.sub("", rest.strip(), count=1)
    labels = _labels(text)
    if not labels:
        name, address, birthday = _plain(text)
        return Registration(person_name(name), address, birthday)
    values = {m.lastgroup: text[m.end():after.start() if after else len(text)]
              for m, after in zip(labels, [*labels[1:], None])}
    # with a name label, the words before the first label are chat ("kak,"); else they are the name
    name, address, birthday = _plain(values.get("name", text[:labels[0].start()]))
    if "address" in values:
        born, value = _take_birthday(_BEFORE_VALUE.sub("", values["address"].strip(_EDGE)))
        address, birthday = _address(value), birthday or born
    if "birthday" in values:
        birthday = _date_text(values["birthday"])
    return Registration(person_name(name), address, birthday)


def parse_update(rest: str) -> tuple[str | None, str]:
    """What follows UBAH/UPDATE: ``(field, value)``, field ``name``, ``address`` or ``birthday``.

    ``"NAMA siti aminah"`` -> ``("name", "Siti Aminah")``; ``"ALAMAT ke Perum
    Puri Indah B7"`` and ``"alamat: Perum Puri Indah B7"`` -> ``("address",
    "Perum Puri Indah B7")``; ``"TGL LAHIR 17-08-1985"`` -> ``("birthday",
    "17-08-1985")``. The name is tidied by ``person_name``; the value is ``""``
    when nothing usable follows the field, and ``(None, "")`` means no field
    word was found.
    """
    m = _UPDATE.match(rest.strip())
    if m is None:
        return None, ""
    value = _BEFORE_VALUE.sub("", m.group("value").strip())
    field = next(f for f in _LABEL_WORDS if m.group(f))
    if field == "name":  # "jadi Siti Aminah ya kak, kemarin salah ketik": the name ends at a comma
        value = re.split(r"[,;\n]", value, maxsplit=1)[0]
        value = re.sub(r"(?i)(?:\s+(?:ya|yah|kak|kakak|mas|mbak|mba|pak|bu|min|dong|deh|nih|please|pls))+\s*$", "",
                       value)
        return field, person_name(value)
    if field == "address":
        return field, _address(value) or ""
    return field, _date_text(value)


def _labels(text: str) -> list[re.Match[str]]:
    """The first label of each field, unless the word before it shows it is part of an address."""
    found: dict[str, re.Match[str]] = {}
    for m in _LABEL.finditer(text):
        before = re.findall(r"[^\W_]+", text[:m.start()])
        if m.lastgroup in found or (before and before[-1].upper() in _ADDRESS_START):
            continue  # "Jl. Nama Baru 5" is a street, not a name label
        found[m.lastgroup or ""] = m
    return sorted(found.values(), key=lambda m: m.start())


def _plain(text: str) -> tuple[str, str | None, str | None]:
    """``(name, address, birthday)`` of fields without labels, the name not yet tidied."""
    birthday, text = _take_birthday(text)
    fields = [f for f in _STRONG.split(text) if f.strip(_EDGE)]
    if birthday is None and len(fields) > 1 and _DATE.fullmatch(fields[-1].strip(_EDGE)):
        birthday = fields.pop().strip(_EDGE)
    if not fields:
        return "", None, birthday
    # a first field followed by others is the name, unless punctuation inside it ends the name sooner
    name, address = _split_name_address(fields[0], by_words=len(fields) == 1)
    return name, _address(" ".join(filter(None, [address, *fields[1:]]))), birthday


def _split_name_address(chunk: str, by_words: bool) -> tuple[str, str | None]:
    """Where the name ends: at a comma, a dot after a word (not an initial), or an address word."""
    chunk = chunk.lstrip(_EDGE)
    cuts = []
    if m := _SOFT.search(chunk):
        cuts.append((m.start(), m.end()))
    for m in _LETTERS_DOT.finditer(chunk):  # "Aminah.Jl.", "Teguh. Jl." but not "A. Yani", "Muh. Rizki"
        if len(m.group(1)) > 1 and m.group(1).upper() not in _NAME_ABBREVIATIONS:
            cuts.append((m.end() - 1, m.end()))
            break
    if by_words:
        for m in list(re.finditer(r"\S+", chunk))[1:]:
            token = m.group()
            if token.upper().rstrip(".") in _ADDRESS_START or any(c.isdigit() for c in token):
                cuts.append((m.start(), m.start()))
                break
    if not cuts:
        return chunk, None
    end, start = min(cuts)
    return chunk[:end], chunk[start:]


def _take_birthday(text: str) -> tuple[str | None, str]:
    m = _TRAILING_DATE.search(text)
    if m and m.start() > 0:
        return m.group(1), text[:m.start()]
    return None, text


def _date_text(value: str) -> str:
    """The date in a birthday field ("ttl Solo, 17-08-1990"), else the field as typed (to be refused)."""
    m = _DATE.search(value)
    return m.group(0) if m else value.strip(_EDGE)


def _address(text: str | None) -> str | None:
    """Fields joined by spaces, white space collapsed, separators off the ends; None when empty."""
    parts = [p.strip(_EDGE) for p in _STRONG.split(text or "")]
    return " ".join(" ".join(parts).split()) or None


def _name_characters(raw: str) -> str:
    """Letters, digits, marks and the ' - . a name may hold; other punctuation and symbols become spaces."""
    out = []
    for ch in raw.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'").replace("\u2013", "-"):
        category = unicodedata.category(ch)
        keep = ch in "'-." or category[0] in "LMN" or ch.isspace()
        out.append(ch if keep else " ")
    return "".join(out)


def _tidy_word(word: str) -> str:
    word = re.sub(r"([-.'])[-.']+", r"\1", word).strip("'-").lstrip(".")
    bare = word.rstrip(".")
    if bare != word and (len(bare) == 1 or bare.upper() in _NAME_ABBREVIATIONS):
        return bare + "."  # an initial or a short form keeps its dot: "A. Yani", "Muh. Rizki"
    return bare.strip("'-")


def _title(word: str, first: bool) -> str:
    lower = word.lower()
    if not first and lower in PARTICLES:
        return lower
    if not first and lower in _ROMAN:
        return word.upper()
    pieces = re.split(r"([-.'])", lower)
    for i in range(0, len(pieces), 2):
        # after an apostrophe only when it follows one letter: "O'Neil", "D'Angelo" but "Ma'ruf", "Syafi'i"
        if i == 0 or pieces[i - 1] != "'" or len(pieces[i - 2]) == 1:
            pieces[i] = pieces[i][:1].upper() + pieces[i][1:]
    return "".join(pieces)
