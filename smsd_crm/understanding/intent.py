"""What a customer's SMS asks for: the command, its arguments and the language (pure).

Read in this order, the first that applies wins:

1. **A keyword** as the first word, after any greeting or filler (``Pagi kak, PESAN ...``,
   ``mau pesan ...``); SMS shorthand counts (``psn``, ``pesen``). ``CEK`` followed by
   another keyword or intent means that one (``cek poin`` is POIN, not a price check).
2. **Inside an open dialogue** (a complaint waiting for details, ...) only an *exact*
   command leaves it: a keyword whose arguments fit it completely (``HARGA gula``,
   ``STOP`` on its own, ``BATAL 12``). Anything else joins the dialogue; no fuzzy
   matching, no free-wording guesses (``Stop dulu jual roti yg itu`` is a follow-up).
3. **Free wording**: intent cues (``jgn kirim promo lg``, ``brp harga gula``, ``tolong kirim
   beras 1 karung``, ``pesanan sy sdh dikirim?``), checked in ``PRIORITY`` order.
4. **A keyword with a small typo** (``KOMPLEN``).
5. **Just items** (``susu uht 1``): an order; a bare product name: a price check.
6. **Greetings** (``Assalamualaikum``, ``Selamat pagi kak``, ``P``) and **thanks** (``makasih``,
   ``ok``): commands ``greeting`` and ``thanks``.

The reply language follows the customer's words (``Stop ya`` is Indonesian), not the
keyword's spelling; ``None`` when the words do not tell.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from typing import Mapping, Sequence

from ..models import BUILTIN_PLUGINS, Keyword, Product
from . import catalog_match
from .fields import parse_registration
from .grammar import closest, split_keyword
from .items import parse_items
from .lexicon import NEGATIONS, PAST, TIME_WORDS, Lexicon
from .normalize import _INVISIBLE, Word, clean, words

GREETING, THANKS = "greeting", "thanks"
AUTOCORRECT = 0.8  # a keyword this close to exactly one registered keyword is read as it
# Free-wording intents, strongest first: opting out before ordering ("jangan kirim promo"),
# a cancel or a status question before a complaint ("pesanan belum sampai").
PRIORITY = ("stop", "start", "cancel", "help", "status", "complain", "info", "update", "register",
            "rewards", "balance", "price", "order")
# Words that only introduce what follows: "cek poin", "cek status", "cek harga".
LEADS = frozenset({"cek", "check", "lihat", "tanya"})
PIN = re.compile(r"\d{4,12}")  # what follows an owner keyword (plugins.owner.pin is 4-12 digits)
MAX_READ = 480  # characters read of one SMS (three parts): more is kept, not read
MAX_NARROW = 6  # words of a question tried in shorter runs
# Commands that take nothing after the keyword, and the words that may still follow them.
NO_ARGUMENTS: Mapping[str, frozenset[str]] = {
    "info": frozenset({"toko", "shop", "store"}),
    "balance": frozenset({"poin", "point", "points", "your", "you"}),
    "rewards": frozenset({"hadiah", "apa", "what"}),
    "help": frozenset({"menu", "apa"}),
    "stop": frozenset({"promo", "promos", "promosi", "sms", "iklan", "promotion", "promotions", "kirim", "dikirim",
                       "send", "sending", "me", "message", "messages", "lagi", "again", "broadcast", "spam"}),
    "start": frozenset({"promo", "promos", "promosi", "sms", "lagi", "again", "kirim", "dikirim", "send",
                        "promotion", "promotions", "iklan"}),
    "status": frozenset({"pesanan", "order", "status"}),
}
WITH_NUMBER = frozenset({"cancel", "status"})
# Words after which a number is an order's number ("pesanan 12", "no 12", "BATAL 12").
ORDER_NUMBER_BEFORE = frozenset({"no", "nomor", "nomer", "pesanan", "order", "batal", "cancel", "status",
                                 "nomornya", "yang", "orderan", "number"})
# Intents that win over a keyword whose arguments do not fit it ("beli gula kmrn tp kurang" is a complaint).
LABELS = frozenset({"nama", "name", "alamat", "address"})  # "jadi member. Nama Siti, rumah di ..."
QUESTION = frozenset({"kalau", "berapa", "apakah", "gimana", "bagaimana", "how", "what"})
STRONGER = frozenset({"stop", "complain", "rewards", "status", "cancel", "help", "info"})
ITEMS = frozenset({"order", "price"})
NEGATABLE = frozenset({"cancel", "stop", "start", "order"})
ORDER_VERBS = frozenset({"beli", "pesan", "order", "ganti", "tambah", "jadinya", "jadi"})
HALT = frozenset({"stop", "berhenti", "dihentikan", "hentikan", "distop", "diberhentikan", "putus"})  # cues that change something: not after "jangan"
PROMOTION_WORDS = frozenset({"promo", "promosi", "iklan", "diskon", "broadcast", "unsubscribe", "promotion",
                             "promotions"})
CONSENT = frozenset({"stop", "start"})  # by keyword only when the words after it fit ("Stop pesanan" is no opt-out)
FREE_ARGUMENTS = frozenset({"complain", "update"})  # built-in commands whose arguments are any text
CODES = frozenset({"redeem"})  # commands whose argument is a code (a reward's: V10)
FIELDS = frozenset({"register", "update"})  # polite words around the fields are not part of them
# Words Indonesians use as they are ("Stop ya", "mau order", "cancel aja"): they tell no language.
# "no" too: in Indonesian it is "nomor" ("no resi 8823", "no rumah 12").
LOAN_WORDS = frozenset({"stop", "start", "order", "info", "status", "menu", "promo", "oke", "cancel", "unreg", "no"})
EN_WORDS = frozenset("""
register update rewards redeem complaint complain
the my your you i me please want would like how much what is are of for to and with order price points
point rewards help thanks thank hello hi good morning evening cancel status sugar rice oil eggs
egg milk water where when open close shop store address deliver delivery can do does not no yes buy sorry please
""".split())
ID_WORDS = frozenset("""
yang saya mau pesan beli harga berapa tolong kirim ya kak dong sudah belum tidak jangan lagi ini itu ada
apa aja saja kok sama dan untuk dengan dari karena bisa bagaimana tadi kemarin sekarang pesanan poin hadiah
terima kasih makasih selamat pagi siang sore malam halo toko alamat jam buka tutup batal berhenti mulai
bantuan daftar nama ganti ubah dulu juga deh sih nih mas mbak pak bu promo jual
""".split())


@dataclass(frozen=True)
class Reading:
    """How one SMS was read.

    ``command`` is a plugin command (``order``), ``greeting``/``thanks``, or None (not understood,
    or a follow-up in a dialogue when ``how`` is ``"dialogue"``); ``keyword`` the registered keyword
    that names the command (None for free wording without one); ``word`` the first word as typed,
    upper case; ``args`` what the command works on (for ``order`` and ``price`` with filler words
    removed, otherwise as typed); ``language`` ``"id"``/``"en"`` or None; ``how`` one of
    ``keyword``, ``dialogue``, ``words``, ``typo``, ``items``, ``greeting``, ``thanks``, ``none``.
    """

    command: str | None
    keyword: Keyword | None
    word: str
    args: str
    language: str | None
    how: str


class Reader:
    """Reads SMS against the registered keywords and a lexicon; build once, call ``read`` per SMS."""

    def __init__(self, keywords: Mapping[str, Keyword], lexicon: Lexicon) -> None:
        self.keywords = dict(keywords)
        self.lexicon = lexicon
        self._by_command: dict[str, Keyword] = {}
        for kw in keywords.values():
            if not kw.secret_words:
                self._by_command.setdefault(kw.command, kw)
        self._words_of: tuple[Sequence[Product], frozenset[str]] | None = None
        self._found_for: Sequence[Product] | None = None
        self._found: dict[str, list[catalog_match.Match]] = {}
        self._known = frozenset({w.lower() for w in keywords} | {w for ps in lexicon.cues.values() for p in ps for w in p}
                                | set(lexicon.abbreviations.values()) | lexicon.fillers | lexicon.greetings)
        self._fuzzy = sorted(w for w, kw in keywords.items() if not kw.secret_words and len(w) >= 4)

    # ------------------------------------------------------------------ helpers

    def _norms(self, ws: Sequence[Word]) -> list[str]:
        out = []
        for w in ws:
            n = self.lexicon.expand(w.norm)
            # "menunya", "harganya", "pesannya": the suffix -nya on a word the reader knows
            if n.endswith("nya") and len(n) > 5 and n not in self._known:
                base = self.lexicon.expand(n[:-3])
                n = base if base in self._known else n
            out.append(n)
        return out

    def language(self, norms: Sequence[str]) -> str | None:
        """``"en"`` or ``"id"`` when the words lean one way, else None."""
        norms = [n for n in norms if n not in LOAN_WORDS]
        en = sum(1 for n in norms if n in EN_WORDS and n not in ID_WORDS)
        ind = sum(1 for n in norms if n in ID_WORDS and n not in EN_WORDS)
        ind += sum(1 for n in norms if n in self.lexicon.abbreviations.values() and n not in EN_WORDS
                   and n not in ID_WORDS)
        # "-nya" (barangnya, katanya, kapannya): Indonesian whatever the word
        ind += sum(1 for n in norms if len(n) > 5 and n.endswith("nya") and n not in ID_WORDS)
        # A plugin's own keywords tell their language too (LOCATION is English, LOKASI Indonesian).
        for n in norms:
            kw = self.keywords.get(n.upper()) if n.isalpha() and n not in EN_WORDS and n not in ID_WORDS else None
            if kw is not None and kw.language == "en":
                en += 1
            elif kw is not None and kw.language == "id":
                ind += 1
        if en > ind:
            return "en"
        if ind > en:
            return "id"
        return None

    def _keyword_at(self, w: Word) -> Keyword | None:
        for form in (w.raw.upper(), self.lexicon.expand(w.norm).upper()):
            if form in self.keywords:
                return self.keywords[form]
        return None

    def _skippable(self, norm: str) -> bool:
        lex = self.lexicon
        return norm in lex.fillers or norm in lex.greetings

    def _product_words(self, products: Sequence[Product]) -> frozenset[str]:
        if self._words_of is not None and self._words_of[0] is products:  # the same catalogue as last time
            return self._words_of[1]
        out: set[str] = set()
        for p in products:
            out.add(p.code.lower())
            for name in (p.name, *p.aliases):
                out.update(catalog_match.normalize(name).split())
        self._words_of = (products, frozenset(out))
        return self._words_of[1]

    def _content(self, norms: Sequence[str], extra: frozenset[str] = frozenset()) -> list[str]:
        """The words that carry meaning: not fillers, greetings, question marks or ``extra``."""
        lex = self.lexicon
        return [n for n in norms if n not in lex.fillers and n not in lex.greetings and n != "?"
                and n not in extra]

    def _item_text(self, cleaned: str, start: int) -> str:
        return cleaned[start:].strip(" #.,;*:-\n")

    def _query(self, ws: Sequence[Word], products: Sequence[Product], drop: frozenset[str],
               measures: bool = False) -> str:
        """The product a question names: its words without fillers, question and cue words; with
        ``measures``, a size typed with it stays (``minyak goreng 2 liter``: which pack is asked about)."""
        keep = self._product_words(products)
        if any(" " in k for k in self.lexicon.synonyms):  # "soy sauce" -> "kecap"
            ws = words(clean(self.lexicon.replace_phrases(" ".join(w.raw for w in ws))))
        ns = []
        for w in ws:
            n = self.lexicon.expand(w.norm)
            ns.append(self.lexicon.synonyms.get(n, n) if n not in keep else n)
        out = []
        for i, n in enumerate(ns):
            number = n.isdigit() or n in self.lexicon.numbers or bool(re.fullmatch(r"\d+[a-z]*|se[a-z]+", n)
                                                                        and self._unitish(n))
            if (measures and self._measure_at(ns, i)) or n in keep or not (
                    n in drop or self._skippable(n) or n == "?" or n in self.lexicon.thanks
                    or number or self.lexicon.is_unit(n)):
                out.append(n)
        return " ".join(out)

    def _measure_at(self, ns: Sequence[str], i: int) -> bool:
        """``ns[i]`` is part of a size: ``2`` or ``liter`` of ``2 liter``, or ``2l``, ``1/2kg``."""
        def measure(word: str) -> bool:
            unit = self.lexicon.units.get(word)
            return unit is not None and unit[0] != "count"

        def amount(word: str) -> bool:
            return bool(re.fullmatch(r"\d+(?:[.,/]\d+)?", word)) or word in self.lexicon.numbers
        n = ns[i]
        glued = re.fullmatch(r"\d+(?:[.,/]\d+)?([a-z]+)", n)
        return bool(glued and measure(glued[1])) or (amount(n) and i + 1 < len(ns) and measure(ns[i + 1])) or (
            measure(n) and i > 0 and amount(ns[i - 1]))

    def _split_size(self, query: str) -> tuple[str, str]:
        """(the name, the size typed after it): ``minyak goreng 2 liter`` -> (``minyak goreng``, ``2 liter``)."""
        ns = query.split()
        at = next((i for i in range(len(ns)) if self._measure_at(ns, i)), len(ns))
        return " ".join(ns[:at]), " ".join(ns[at:])

    def _narrow(self, query: str, products: Sequence[Product]) -> str:
        """``query``, or its longest run of words that names a product ("gas elpiji teh" -> "gas
        elpiji": the last word was the Sundanese "teh", a way to address a woman)."""
        words_ = query.split()
        if not words_ or len(words_) > MAX_NARROW or self._resolves(query, products):
            return query
        for size in range(len(words_) - 1, 0, -1):
            for start in range(0, len(words_) - size + 1):
                part = " ".join(words_[start:start + size])
                if self._resolves(part, products):
                    return part
        return query

    def _unitish(self, word: str) -> bool:
        """``2kg``, ``sekilo``: a quantity written as one word."""
        return bool(parse_items(word, self.lexicon)) and not parse_items(word, self.lexicon)[0].query

    def _find(self, query: str, products: Sequence[Product]) -> list[catalog_match.Match]:
        """``catalog_match.find``, remembered for the catalogue in use (one SMS asks several times)."""
        if self._found_for is not products:
            self._found_for, self._found = products, {}
        if query not in self._found:
            if len(self._found) > 4096:
                self._found.clear()
            self._found[query] = catalog_match.find(query, list(products))
        return self._found[query]

    def _resolves(self, query: str, products: Sequence[Product]) -> bool:
        if not query:
            return False
        matches = self._find(query, products)
        return bool(matches) and (len(matches) == 1 or matches[0].score - matches[1].score >= catalog_match.MARGIN)

    def _items_resolve(self, text: str, products: Sequence[Product]) -> bool:
        items = parse_items(text, self.lexicon, self._product_words(products))
        return bool(items) and all(i.query and self._resolves(i.query, products) for i in items)

    def _exact(self, kw: Keyword, args_words: Sequence[Word], args: str, products: Sequence[Product],
               in_dialogue: bool = True) -> bool:
        """A keyword's arguments fit its command completely (used inside a dialogue)."""
        norms = self._norms(args_words)
        command = kw.command
        if not self._content(norms):
            return True  # the keyword alone ("HARGA", "STOP"): nobody adds that to a complaint
        if in_dialogue and command in CONSENT:
            return False  # inside a dialogue, STOP on its own ("Stop kirim yg itu" is about the complaint)
        if command in NO_ARGUMENTS:
            rest = self._content(norms, NO_ARGUMENTS[command])
            if command in WITH_NUMBER:
                rest = [n for n in rest if n.lstrip("#") != args]
            return not rest
        if command in WITH_NUMBER:
            return bool(args)
        if command == "price":  # every word names a product ("HARGA susu" asks about two kinds)
            query = self._query(args_words, products, frozenset())
            return bool(query) and bool(self._find(query, products))
        if command == "order":
            return self._items_resolve(args, products)
        if command == "register":  # a name, not "daftar harga dong"; in a dialogue, with an address
            reg = parse_registration(" ", args)
            head = self._norms(words(reg.name)[:1])
            if not reg.name or (head and head[0] in self._known):
                return False
            return not in_dialogue or ("#" in args or bool(re.search(
                r"(?i)\b(nama|alamat|jl|jln|jalan|gg|gang|perum|komplek|blok|rt|rw)\b", args)))
        if command in CODES:  # "TUKAR V10"; "tukar poin apa aja" asks for the list instead
            rest = self._content(norms)
            return bool(rest) and bool(re.fullmatch(r"[a-z]*\d+[a-z0-9]*", rest[0]))
        # Free text after the keyword: a new complaint, a changed field, an owner's command. Any other
        # command (a third-party plugin's, whose arguments the reader cannot judge) fits only alone:
        # "JAM sy mau ambil kembalian" inside a complaint is more about the complaint.
        return command in FREE_ARGUMENTS or bool(kw.secret_words)

    # ------------------------------------------------------------------ reading

    def _owner_form(self, text: str) -> str | None:
        """An owner's command typed loosely, as ``KEYWORD PIN rest``: the PIN glued to the keyword
        (``LAPORAN4321``) or before it (``4321 laporan``), the keyword mistyped (``Laporn 4321``) or
        without its vowels (``lprn 4321``); None for anything else. Only owner keywords (secret words)."""
        secret = [w.upper() for w, kw in self.keywords.items() if kw.secret_words]
        if not secret:
            return None
        folded = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
        for pattern, spaced in _OWNER_FORMS:
            found = pattern.fullmatch(folded)
            if found is not None:
                break
        else:
            return None
        typed = found["word"].upper()
        if spaced and typed in secret:
            return None  # "LAPORAN 4321", as it should be: read as it always was
        word = typed if typed in secret else closest(typed, secret) or next(
            (w for w in secret if _consonants(w) == _consonants(typed)), None)
        return None if word is None else f"{word} {found['pin']}{found['rest']}"

    def read(self, text: str, products: Sequence[Product] = (), in_dialogue: bool = False) -> Reading:
        """Read one SMS (``text`` as received). ``products`` is the active catalogue."""
        text = self._owner_form(text) or text
        cleaned = clean(text[:MAX_READ * 2])[:MAX_READ]
        ws = words(cleaned)
        norms = self._norms(ws)
        language = self.language(norms)
        first = ws[0].raw.upper() if ws else ("?" if "?" in text else "")
        if not ws:
            if "?" in text and "?" in self.keywords:
                return Reading("help", self.keywords["?"], "?", "", language, "keyword")
            if text.strip() and not cleaned:  # "👍", "🙏🙏": a reaction, nothing to answer
                return Reading(THANKS, None, "", "", language, "thanks")
            return Reading(None, None, first, "", language, "none")
        found = self._leading_keyword(cleaned, ws, products, in_dialogue)
        if found is not None:
            kw, at = found
            args_words = ws[at + 1:]
            start = at + 1
            if at > 0:  # "mau daftar kak, nama Eko": polite words after a keyword typed mid-sentence
                while start < len(ws) and self._skippable(norms[start]):
                    start += 1
            args = cleaned[ws[at].end:].lstrip(" #.,;*:!-\n").rstrip()
            if kw.secret_words:  # the owner's PROMO text goes out as typed, emoji and all
                args = owner_arguments(text, ws[at].raw)
            if start > at + 1:
                args = self._item_text(cleaned, ws[start].start) if start < len(ws) else ""
            if kw.command in FIELDS:  # "daftar dong kak, Hendra ...", "UBAH ALAMAT Jl. X kak"
                args = self._span(cleaned, ws, norms, at + 1)
            if kw.command in ITEMS:
                args = self._item_args(kw.command, cleaned, ws, at + 1, products)
            if kw.command in WITH_NUMBER:  # "BATAL pesanan 12": the order's number, never "2" of "gula 2"
                args = self._order_number(norms, at + 1, products)
            reading = Reading(kw.command, kw, ws[at].raw.upper(), args, language, "keyword")
            fits = self._exact(kw, args_words, args, products, in_dialogue)
            if in_dialogue and fits and kw.command != "complain" and \
                    self._cue_position("complain", self._norms(args_words)) >= 0:
                fits = False  # "Daftar yg kurang: sampo ...": more about the complaint, not a command
            if fits:
                return reading
            if not in_dialogue and kw.plugin not in BUILTIN_PLUGINS:
                return reading  # a plugin's own command ("DELIVERY 2"): its words are its plugin's to judge
            if not in_dialogue:
                # "beli gula 2 kg kmrn tp ... kurang", "POIN bisa dituker apa aja": the words after the
                # keyword do not fit it, and show another intent
                other = self._by_cues(cleaned, ws, norms, products, language, skip=kw.command)
                if other is not None and kw.command not in STRONGER and other.command in STRONGER:
                    return other
                changes = kw.command == "cancel" and any(  # "batal beli 2 aja, jadinya 3": a change
                    n in ORDER_VERBS and i + 1 < len(norms) and norms[i + 1][:1].isdigit()
                    for i, n in enumerate(norms[at + 1:], start=at + 1))
                if kw.command not in CONSENT | FIELDS and not changes:
                    return reading
                # "Stop pesanan", "mulai besok saya pesan": no change of consent; read on ("mulai lagi aja deh
                # kak promonya, ternyata butuh" still says it in words)
                if kw.command in CONSENT and self._cue_position(kw.command, norms) >= 0:
                    return Reading(kw.command, kw, ws[at].raw.upper(), "", language, "words")
                if other is not None:
                    return other
                return self._rest(cleaned, ws, norms, products, language, first)
        if in_dialogue:
            if PROMOTION_WORDS & set(norms):
                # "jgn kirim promo lg" during a complaint: an opt-out in so many words, not a note on the
                # ticket ("Stop kirim yg itu" names no promotion and stays the complaint's)
                cue = self._by_cues(cleaned, ws, norms, products, language)
                if cue is not None and cue.command in CONSENT and cue.command in self._by_command:
                    return cue
            if self._courtesy(norms, first, cleaned, language).command == THANKS:
                return Reading(THANKS, None, first, "", language, "thanks")  # "makasih kak": no SMS to pay
            return Reading(None, None, first, cleaned, language, "dialogue")
        cue = self._by_cues(cleaned, ws, norms, products, language)
        return cue if cue is not None else self._rest(cleaned, ws, norms, products, language, first)

    def _rest(self, cleaned: str, ws: Sequence[Word], norms: Sequence[str], products: Sequence[Product],
              language: str | None, first: str) -> Reading:
        """After keywords and cues: a keyword with a typo, just items, greetings and thanks."""
        for reading in (self._typo(cleaned, ws, products, language),
                        self._just_items(cleaned, ws, norms, products, language)):
            if reading is not None:
                return reading
        return self._courtesy(norms, first, cleaned, language)

    def _order_number(self, norms: Sequence[str], start: int, products: Sequence[Product]) -> str:
        """The order number in what follows (``12``, ``#12``, ``no 12``): not a quantity ("gula 2"), a
        time ("2 jam") or a size ("2 kg"); "" when there is none."""
        for i in range(start, len(norms)):
            n = norms[i].lstrip("#")
            if not n.isdigit() or len(n) > 9:
                continue
            after = norms[i + 1] if i + 1 < len(norms) else ""
            before = norms[i - 1] if i > 0 else ""
            if after in TIME_WORDS or self.lexicon.is_unit(after):
                continue
            if norms[i].startswith("#") or before in ORDER_NUMBER_BEFORE or (i == start and start > 0):
                return n  # "BATAL 12", "batal pesanan 12", "no. 12", "#12"; not "batal beli 2"
        return ""

    def _courtesy(self, norms: Sequence[str], first: str, cleaned: str, language: str | None) -> Reading:
        """Greetings and thanks: only such words, or a short text with one and nothing else understood
        ("ok makasih infonya", "makasih kak, ditunggu ya")."""
        lex = self.lexicon
        content = self._content(norms)
        thanks = [n for n in norms if n in lex.thanks and n not in lex.greetings]
        greets = [n for n in norms if n in lex.greetings]
        rest = [n for n in content if n not in lex.thanks and n not in lex.greetings]
        if not thanks and (greets or not content) and not rest:
            return Reading(GREETING, None, first, "", language, "greeting")
        if thanks and (not rest or len(rest) <= SHORT and len(norms) <= 2 * SHORT):
            return Reading(THANKS, None, first, "", language, "thanks")
        if greets and not thanks and len(rest) <= 1 and len(norms) <= SHORT + 2 and not any(
                r.isdigit() for r in rest):
            return Reading(GREETING, None, first, "", language, "greeting")
        return Reading(None, None, first, cleaned, language, "none")

    def _leading_keyword(self, cleaned: str, ws: Sequence[Word], products: Sequence[Product],
                         in_dialogue: bool) -> tuple[Keyword, int] | None:
        """The keyword opening the text (after greetings and fillers) and its word index."""
        for at, w in enumerate(ws):
            kw = self._keyword_at(w)
            if kw is not None and kw.secret_words:
                # the owner's commands: the very first word, and a PIN after it ("STOK gula ada?" is a
                # customer's question, "Laporan kak, gas bocor" a complaint)
                if at == 0 and at + 1 < len(ws) and PIN.fullmatch(ws[at + 1].norm):
                    return kw, at
                return None
            norm = self.lexicon.expand(w.norm)
            if kw is not None and norm in self.lexicon.greetings and at + 1 < len(ws) and self._content(
                    self._norms(ws[at + 1:])):
                continue  # "HALO kak, mau pesan ..." / "hello, what time do you open?": the greeting opens it
            if kw is not None:
                if norm in LEADS and at + 1 < len(ws):
                    # "cek poin", "cek status pesanan": the word after CEK says what is meant
                    nxt = self._keyword_at(ws[at + 1])
                    if nxt is not None and not nxt.secret_words and self.lexicon.expand(ws[at + 1].norm) not in LEADS:
                        return nxt, at + 1
                    cue = self._cue_command(self._norms(ws[at + 1:at + 6]))
                    if cue is not None and cue not in ITEMS and cue in self._by_command:
                        return None
                return kw, at
            if not self._skippable(norm):
                return None
        return None

    def _item_args(self, command: str, cleaned: str, ws: Sequence[Word], start: int,
                   products: Sequence[Product]) -> str:
        if command == "price":
            drop = frozenset(p for ps in self.lexicon.cues.get("price", ()) for p in ps)
            return self._query(ws[start:], products, drop, measures=True)
        return self._item_text(cleaned, ws[start].start) if start < len(ws) else ""

    def _cue_command(self, norms: Sequence[str]) -> str | None:
        for command in PRIORITY:
            if self._cue_position(command, norms) >= 0:
                return command
        return None

    def _cue_position(self, command: str, norms: Sequence[str]) -> int:
        """Index of the last word of the earliest cue of ``command`` in ``norms``, or -1.

        A cue right after a negation does not count for a change of state ("jangan batal", "gak jadi
        batal", "dont cancel"); "tidak jadi" counts only as two words in a row."""
        gap = 0 if command == "cancel" else GAP
        ends = []
        for phrase in self.lexicon.cues.get(command, ()):
            for start, end in _occurrences(phrase, norms, gap):
                before = norms[max(0, start - 2):start]
                if command in NEGATABLE and (any(n in NEGATIONS for n in before) or
                                             (before and before[-1] in ("jadi", "usah", "perlu"))):
                    continue  # "jangan kirim gula 2", "tidak usah pesan", "gak jadi batal", "dont cancel"
                if command == "stop" and any(w in NEGATIONS for w in phrase) and any(
                        n in HALT for n in norms[start + 1:end + 3]):
                    continue  # "promo nya jangan dihentikan", "jangan stop kirim promonya"
                if phrase[0] == "jangan" and start + 1 < len(norms) and norms[start + 1] == "lupa":
                    continue  # "jangan lupa kirim promo ya": the opposite of stop
                if command == "cancel" and tuple(phrase) == ("tidak", "jadi") and end + 1 < len(norms) and \
                        norms[end + 1] in ("batal", "cancel", "membatalkan", "beli", "pesan", "order", "ganti"):
                    continue  # "gak jadi batal": keep it; "ga jadi beli 2, 1 aja": a change, ask a person
                if command in ("cancel", "update", "register") and any(n in PAST for n in norms[:start]):
                    continue  # "kmrn mau batal 2 pesanan tp ga jadi", "kemarin sy sdh ganti alamat"
                ends.append(end)
                break
        return min(ends) if ends else -1

    def _by_cues(self, cleaned: str, ws: Sequence[Word], norms: Sequence[str], products: Sequence[Product],
                 language: str | None, skip: str | None = None) -> Reading | None:
        """Free wording: the strongest intent (other than ``skip``) whose cue words are in the text."""
        if any(n in self.lexicon.thanks and n not in ("sudah", "ya", "iya", "baik", "sama") for n in norms) and \
                "sudah" in norms and any(n in ("sampai", "datang", "diterima", "terima") for n in norms):
            return Reading(THANKS, None, ws[0].raw.upper(), "", language, "thanks")  # "udh nyampe, makasih"
        for command in PRIORITY:
            kw = self._by_command.get(command)
            if kw is None or command == skip or self._cue_position(command, norms) < 0:
                continue
            reading = self._cue_reading(command, kw, cleaned, ws, norms, products, language)
            if reading is not None:
                return reading
        return None

    def _cue_reading(self, command: str, kw: Keyword, cleaned: str, ws: Sequence[Word], norms: Sequence[str],
                     products: Sequence[Product], language: str | None) -> Reading | None:
        first = ws[0].raw.upper()
        at = self._cue_position(command, norms)
        if command in CONSENT and "?" in norms:
            return None  # "did I unsubscribe?": a question about it, no change
        if command in WITH_NUMBER:  # the order's number, not "2" of "It's been 2 hours"
            return Reading(command, kw, first, self._order_number(norms, 0, products), language, "words")
        if command == "info" and self._mentions_items(norms, products):
            return None  # "bisa antar gas 1?": an order that asks for delivery
        if command in NO_ARGUMENTS:
            return Reading(command, kw, first, "", language, "words")
        if command == "price":
            asks = "?" in norms or any(n in QUESTION for n in norms)
            if not asks and self._cue_position("order", norms) >= 0 and self._mentions_items(norms, products):
                return None  # "ada arisan, tolong siapin teh 2 kotak": an order that mentions "ada"
            drop = frozenset(p for ps in self.lexicon.cues.get("price", ()) for p in ps)
            name, size = self._split_size(self._query(ws, products, drop, measures=True))
            query = " ".join(filter(None, (self._narrow(name, products), size)))
            strong = any(n in ("harga", "berapa", "price", "much") for n in norms) or (
                norms[0] == "ada" and "?" in norms)  # "Ada rokok kak?": tell them it is not sold
            named = any(n in self._product_words(products) for n in query.split())
            if not query or not (strong or named):
                return None
            return Reading(command, kw, first, query, language, "words")
        if command == "order":
            if any(n in PAST for n in norms[:max(at, 0) + 1]) or any(n in QUESTION for n in norms):
                return None  # "sdh pesan gula 2 td pagi", "kalau beli gula 2 berapa?": no new order
            at = self._order_verb(norms, at)
            args = self._item_text(cleaned, ws[at + 1].start) if 0 <= at < len(ws) - 1 else ""
            items = parse_items(args, self.lexicon, self._product_words(products)) if args else []
            if not any(i.query and self._find(i.query, products) for i in items) and \
                    not any(i.raw_quantity for i in items):
                return None  # "kirim" without anything to send
            return Reading(command, kw, first, args, language, "words")
        if command == "update":
            field_at = next((i for i, n in enumerate(norms) if n in ("alamat", "nama", "lahir", "address", "name")),
                            None)
            if field_at is None or (field_at + 1 < len(norms) and norms[field_at + 1] == "?"):
                return None
            args = self._span(cleaned, ws, norms, field_at)
            value = self._content(self._norms(ws[field_at + 1:]))
            if not [n for n in value if n not in NEGATIONS and n not in ("usah", "baru", "ke", "jadi", "nanti")]:
                return None  # "ganti nama? ga usah kak"
            if norms[field_at] in ("alamat", "address") and not re.search(
                    r"(?i)\d|\b(jl|jln|jalan|gg|gang|perum|komplek|kompleks|blok|rt|rw|desa|dusun|kp|kampung)\b", args):
                return None  # "alamat baru saya nanti saya kabari": no address in it
            return Reading(command, kw, first, args, language, "words")
        if command == "register":
            args = self._span(cleaned, ws, norms, at + 1)
            head = self._norms(words(args)[:1])
            if any(n in PAST for n in norms[:at]) or (head and head[0] in self._known and head[0] not in LABELS) \
                    or "?" in norms:
                return None  # "saya sudah daftar kemarin, kok poin ga nambah", "daftar harga dong"
            return Reading(command, kw, first, args, language, "words")
        return Reading(command, kw, first, cleaned, language, "words")  # a complaint in their own words

    def _order_verb(self, norms: Sequence[str], first: int) -> int:
        """Where the items start: after the last order word before the first number ("I'd like to order
        2 galon": after "order", not "like")."""
        verbs = {p[0] for p in self.lexicon.cues.get("order", ()) if len(p) == 1}
        first_number = next((i for i, n in enumerate(norms) if n[:1].isdigit() or n in self.lexicon.numbers),
                            len(norms))
        later = [i for i, n in enumerate(norms) if n in verbs and first <= i < first_number]
        return max(later) if later else first

    def _span(self, cleaned: str, ws: Sequence[Word], norms: Sequence[str], start: int) -> str:
        """The text from word ``start`` on, without polite words around it ("kak, nama Eko ... ya kak")."""
        end = len(ws)
        begin = ws[start - 1].end if 0 < start <= len(ws) else 0  # what follows the keyword, as typed
        while start < end and self._skippable(norms[start]):
            start += 1
            begin = ws[start].start if start < end else len(cleaned)
        finish = len(cleaned)
        while end > start and (self._skippable(norms[end - 1]) or norms[end - 1] in self.lexicon.thanks):
            end -= 1
            finish = ws[end - 1].end if end > start else begin
        return cleaned[begin:finish].strip(" #.,;*:-\n")

    def _typo(self, cleaned: str, ws: Sequence[Word], products: Sequence[Product],
              language: str | None) -> Reading | None:
        """The first meaningful word is a keyword with a small typo (``KOMPLEN``, ``POINTT``)."""
        at = next((i for i, w in enumerate(ws) if not self._skippable(self.lexicon.expand(w.norm))), None)
        if at is None or len(ws[at].raw) < 4:
            return None
        if self._keyword_at(ws[at]) is not None:
            return None  # an exact keyword was read (or refused) already; a typo it is not
        meant = _closest(ws[at].raw.upper(), self._fuzzy)
        if meant is None:
            return None
        kw = self.keywords[meant]
        norms = self._norms(ws)
        if kw.command in NEGATABLE | FIELDS and (any(n in PAST for n in norms) or "?" in norms):
            return None  # "I ordered rice 2 yesterday": no new order from a near-keyword
        args = cleaned[ws[at].end:].strip(" #.,;*:!-\n")
        if kw.command in ITEMS:
            args = self._item_args(kw.command, cleaned, ws, at + 1, products)
        return Reading(kw.command, kw, ws[at].raw.upper(), args, language, "typo")

    def _mentions_items(self, norms: Sequence[str], products: Sequence[Product]) -> bool:
        """A product's word and a quantity somewhere in the text ("bisa antar gas 1?")."""
        keep = self._product_words(products)
        return any(n in keep and not self.lexicon.is_unit(n) for n in norms) and any(
            n.isdigit() or n in self.lexicon.numbers or self._unitish(n) for n in norms)

    def _just_items(self, cleaned: str, ws: Sequence[Word], norms: Sequence[str], products: Sequence[Product],
                    language: str | None) -> Reading | None:
        """``susu uht 1``: every word is a product's, a number or a unit: an order (a price check without
        a number)."""
        content = self._content(norms)
        if not content or not products:
            return None
        keep = self._product_words(products)
        items = parse_items(cleaned, self.lexicon, keep)
        if not items or not all(i.query and self._find(i.query, products) for i in items):
            return None
        if any(i.raw_quantity for i in items) and "order" in self._by_command and "?" not in norms:
            return Reading("order", self._by_command["order"], ws[0].raw.upper(), cleaned, language, "items")
        query = " ".join(i.query for i in items)
        if len(items) == 1 and "price" in self._by_command:  # "gula?", "gula 2 habis ya?": ask, not order
            return Reading("price", self._by_command["price"], ws[0].raw.upper(), query, language, "items")
        return None

SHORT = 2  # words besides thanks that a thank-you may carry ("ok makasih infonya", "makasih, ditunggu ya")
GAP = 2  # words a phrase's words may have between them ("jangan kirim promo" matches "jangan promo")


def owner_arguments(text: str, keyword: str) -> str:
    """What follows an owner keyword, as typed, with its PIN written plainly: ``ＬＡＰＯＲＡＮ ９７５３１０``,
    ``LAPORAN #975310``, ``LAPORAN 9\u200b75310``, ``LAPORAN+975310`` -> ``975310 ...``; the rest
    (a PROMO's text) keeps its emoji."""
    folded = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    m = re.match(rf"^\W*{re.escape(keyword)}[\W_]*(.*)$", folded, re.IGNORECASE | re.DOTALL)
    rest = m.group(1) if m else split_keyword(folded)[2]
    head, _, tail = rest.partition(" ")
    pin = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in head.strip("#+\"'“”…:.=-*"))
    return f"{pin} {tail}".strip()


def _occurrences(phrase: Sequence[str], norms: Sequence[str], gap: int = GAP):
    """(start, end) of each place ``phrase`` occurs in ``norms``: its words in order, at most ``gap``
    words apart."""
    for start, n in enumerate(norms):
        if n != phrase[0]:
            continue
        at, ok = start, True
        for word in phrase[1:]:
            nxt = next((i for i in range(at + 1, min(len(norms), at + 2 + gap)) if norms[i] == word), None)
            if nxt is None:
                ok = False
                break
            at = nxt
        if ok:
            yield start, at


# (pattern, whether the keyword and the PIN are apart): PIN first, glued, or apart after a mistyped word
_OWNER_FORMS = (
    (re.compile(r"\W*(?P<pin>\d{4,12})\W*(?P<word>[^\W\d_]{3,12})\b(?P<rest>.*)", re.S), False),
    (re.compile(r"\W*(?P<word>[^\W\d_]{3,12})(?P<pin>\d{4,12})\b(?P<rest>.*)", re.S), False),
    (re.compile(r"\W*(?P<word>[^\W\d_]{3,12})[\s#:.=-]+(?P<pin>\d{4,12})\b(?P<rest>.*)", re.S), True),
)


def _consonants(word: str) -> str:
    """``LAPORAN`` -> ``LPRN``: SMS shorthand drops the vowels."""
    return re.sub(r"[AEIOU]", "", word.upper())


def _closest(word: str, candidates: list[str]) -> str | None:
    matches = difflib.get_close_matches(word, candidates, n=2, cutoff=AUTOCORRECT)
    if not matches:
        return None
    if len(matches) > 1:
        first = difflib.SequenceMatcher(None, word, matches[0]).ratio()
        second = difflib.SequenceMatcher(None, word, matches[1]).ratio()
        if first == second:
            return None  # ambiguous: better to ask than to guess
    return matches[0]
