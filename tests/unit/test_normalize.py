from nlu.normalize import normalize, strip_diacritics


def test_accented_and_plain_input_normalize_alike():
    assert normalize("Lương tối thiểu vùng 1") == normalize("luong toi thieu vung 1")
    assert normalize("LƯƠNG Tối Thiểu") == "luong toi thieu"


def test_decomposed_unicode_is_treated_like_composed():
    decomposed = "lu\u031bo\u031b\u0300ng"  # "lường" typed with combining marks
    assert normalize(decomposed) == normalize("lường") == "luong"


def test_d_with_stroke_becomes_d():
    assert strip_diacritics("Đóng đoàn phí") == "Dong doan phi"


def test_abbreviations_expand():
    assert normalize("cty ko đóng bhxh dc ko") == ("cong ty khong dong bao hiem xa hoi duoc khong")
    assert normalize("nld hdld") == "nguoi lao dong hop dong lao dong"


def test_money_shorthand_splits_unit():
    assert normalize("luong 4tr2") == "luong 4 trieu 2"
    assert normalize("500k") == "500 nghin"


def test_punctuation_is_dropped():
    assert normalize("bao nhiêu???!!") == "bao nhieu"
    assert normalize("...") == ""


def test_telex_leftovers_are_removed_from_plain_words():
    # typed without a Vietnamese keyboard layout: tone and vowel keys stay in the word
    assert normalize("hop dongf lao dongj") == "hop dong lao dong"
    assert normalize("tieenf luongw thuwr vieecj") == "tien luong thu viec"
    assert normalize("ddinh coong") == "dinh cong"
    # abbreviations are left alone ("wa" is "qua", not a telex key)
    assert normalize("wa bhxh") == "qua bao hiem xa hoi"


def test_accented_words_are_not_taken_for_abbreviations():
    # "à" is a question particle, "a" is short for "anh"; "đc" is still "được"
    assert normalize("mất luôn à") == "mat luon a"
    assert normalize("e hỏi a") == "em hoi anh"
    assert normalize("đc ko") == "duoc khong"
