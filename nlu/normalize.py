"""Vietnamese text normalization used before tokenization (standard library only).

Members type with or without diacritics, with abbreviations and teen code. Everything is mapped
to one form: NFC, lower case, diacritics removed (đ -> d), common abbreviations expanded, so that
"luong toi thieu vung" and "lương tối thiểu vùng" give the same tokens.
"""

from __future__ import annotations

import re
import unicodedata

# Abbreviations as workers type them, keyed by their diacritic-free form.
ABBREVIATIONS: dict[str, str] = {
    "ko": "khong",
    "k": "khong",
    "kg": "khong",
    "hok": "khong",
    "hk": "khong",
    "khg": "khong",
    "kh": "khong",
    "hong": "khong",
    "dc": "duoc",
    "dk": "duoc",
    "cty": "cong ty",
    "ct": "cong ty",
    "nld": "nguoi lao dong",
    "nsdld": "nguoi su dung lao dong",
    "bhxh": "bao hiem xa hoi",
    "bhyt": "bao hiem y te",
    "bhtn": "bao hiem that nghiep",
    "hd": "hop dong",
    "hdld": "hop dong lao dong",
    "lm": "lam",
    "j": "gi",
    "ji": "gi",
    "bn": "bao nhieu",
    "bnh": "bao nhieu",
    "bnhieu": "bao nhieu",
    "bnhiu": "bao nhieu",
    "baonhieu": "bao nhieu",
    "bh": "bao hiem",
    "e": "em",
    "a": "anh",
    "ad": "admin",
    "tr": "trieu",
    "tc": "tang ca",
    "cd": "cong doan",
    "cdcs": "cong doan co so",
    "lg": "luong",
    "ng": "nguoi",
    "ngta": "nguoi ta",
    "vs": "voi",
    "r": "roi",
    "ntn": "nhu the nao",
    "trc": "truoc",
    "sn": "sinh nhat",
    "mik": "minh",
    "mn": "moi nguoi",
    "mk": "minh",
    "z": "vay",
    "v": "vay",
    "dz": "vay",
    "wa": "qua",
    "kpcd": "kinh phi cong doan",
    "tcxh": "tro cap xa hoi",
    "tctn": "tro cap that nghiep",
    "ltt": "luong toi thieu",
    "ltv": "luong toi thieu vung",
    "lcs": "luong co so",
    "tnld": "tai nan lao dong",
    "bnn": "benh nghe nghiep",
    "ldld": "lien doan lao dong",
    "tncn": "thu nhap ca nhan",
}

WORD_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_NUMBER_WORD_RE = re.compile(r"^(\d+)(tr|k|d|đ)(\d*)$")

# Telex leftovers: a member typing without a Vietnamese keyboard layout leaves the tone and
# vowel keys in the word ("dongf", "luongw", "tieenf", "ddinh"). No Vietnamese syllable ends in
# f, j, r, s, x or z, or holds w after a vowel, a doubled vowel or a doubled d.
_TELEX_DOUBLE_RE = re.compile(r"^dd|aa|ee|oo")
_TELEX_W_RE = re.compile(r"(?<=[aou])w|(?<=[a-z]{2})w$")
_TELEX_TONE_RE = re.compile(r"(?<=[a-z]{2})[fjrsxz]$")


def strip_diacritics(text: str) -> str:
    """Remove Vietnamese diacritics: "Lương tối thiểu" -> "Luong toi thieu"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def untelex(word: str) -> str:
    """Remove telex keys left in a word typed without diacritics: "tieenf" -> "tien"."""
    if word in ABBREVIATIONS or not word.isascii() or not word.isalpha():
        return word
    word = _TELEX_W_RE.sub("", _TELEX_TONE_RE.sub("", word))
    return _TELEX_DOUBLE_RE.sub(lambda match: match.group()[0], word)


def _expand(word: str, typed_plain: bool) -> list[str]:
    expansion = ABBREVIATIONS.get(word) if typed_plain else None
    if expansion is not None:
        return expansion.split()
    number = _NUMBER_WORD_RE.match(word)
    if number:  # "4tr2" -> "4 trieu 2": keeps the unit as its own token
        head, unit, tail = number.groups()
        unit_word = {"tr": "trieu", "k": "nghin"}.get(unit, "dong")
        return [head, unit_word] + ([tail] if tail else [])
    return [word]


def normalize_words(text: str) -> list[str]:
    """Split ``text`` into normalized words (punctuation dropped)."""
    text = unicodedata.normalize("NFC", text).lower()
    words: list[str] = []
    for raw in WORD_RE.findall(text):
        if not any(ch.isalnum() for ch in raw):
            continue
        plain = strip_diacritics(raw)
        # abbreviations and telex keys are typed without diacritics ("đ" aside): "à" is not "a"
        typed_plain = plain == raw.replace("đ", "d")
        words.extend(_expand(untelex(plain) if typed_plain else plain, typed_plain))
    return words


def normalize(text: str) -> str:
    """The normalized form of ``text`` as one string of space-separated words."""
    return " ".join(normalize_words(text))
