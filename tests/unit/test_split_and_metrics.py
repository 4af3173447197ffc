from pathlib import Path

from nlu.build_data import build, examples_of
from nlu.metrics import accuracy, macro_f1, per_label_f1, percentile, worst_labels
from nlu.split import held_out_indices

ROOT = Path(__file__).resolve().parents[2]


def test_held_out_split_is_deterministic_and_never_takes_the_canonical_question():
    examples = [f"cau hoi {i}" for i in range(15)]
    first = held_out_indices("faq/x", examples, keep_first=True)
    assert first == held_out_indices("faq/x", examples, keep_first=True)
    assert 0 not in first
    assert len(first) == 3
    assert held_out_indices("faq/y", examples, keep_first=True) != first  # label matters


def test_small_labels_keep_most_examples_for_training():
    assert len(held_out_indices("greet", ["a", "b", "c", "d", "e"], keep_first=False)) == 2
    assert held_out_indices("x", ["only"], keep_first=True) == frozenset()


def test_held_out_examples_are_left_out_of_the_training_data(tmp_path):
    held = {"faq/luong_toi_thieu_vung": frozenset({1, 2}), "greet": frozenset({0})}
    build(ROOT / "nlu_data", tmp_path, keep=lambda label, i: i not in held.get(label, ()))
    faq = (tmp_path / "faq_nlu.yml").read_text()
    assert "luong toi thieu vung 2026 la bao nhieu" not in faq  # index 1
    assert "Lương tối thiểu vùng năm 2026 là bao nhiêu?" in faq  # index 0 trains
    conversation = (tmp_path / "nlu_conversation.yml").read_text()
    assert "- xin chào\n" not in conversation and "- xin chao\n" in conversation


def test_examples_block_parsing():
    assert examples_of("- a b\n- c\n\n") == ["a b", "c"]


def test_metrics():
    pairs = [("a", "a"), ("a", "b"), ("b", "b"), ("c", "b")]
    assert accuracy(pairs) == 0.5
    f1 = per_label_f1(pairs)
    assert f1["a"] == 2 * 1.0 * 0.5 / 1.5 and f1["c"] == 0.0
    assert abs(macro_f1(pairs) - (f1["a"] + f1["b"] + f1["c"]) / 3) < 1e-9
    [worst, *_] = worst_labels(pairs)
    assert (worst.label, worst.recall, worst.confused_with) == ("c", 0.0, (("b", 1),))
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile([], 95) == 0.0
