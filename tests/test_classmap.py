import pytest

from wikiart.data.classmap import ClassMap
from wikiart.data.dataset import open_dataset
from wikiart.errors import UnknownStyleError, WikiartError


def test_sorted_names_of_training_split(tiny_root):
    cm = open_dataset(tiny_root).class_map()
    assert cm.classes == ("Baroque", "Cubism", "Ukiyo_e")
    assert [cm.index(s) for s in ("Ukiyo_e", "Baroque")] == [2, 0]


def test_from_styles_sorts_and_dedupes():
    cm = ClassMap.from_styles(["b", "a", "c", "a"])
    assert cm.classes == ("a", "b", "c")
    assert len(cm) == 3 and "b" in cm and "z" not in cm


def test_unknown_style_is_a_clear_error():
    cm = ClassMap(("Baroque", "Cubism"))
    with pytest.raises(UnknownStyleError, match="'Pop_Art' is not among the model's classes"):
        cm.index("Pop_Art")
    with pytest.raises(UnknownStyleError, match=r"test style\(s\) \['Pop_Art'\]"):
        cm.check(["Cubism", "Pop_Art"], "test")
    cm.check(["Cubism"], "test")  # a subset is fine
    assert cm.missing(["Cubism"]) == ["Baroque"]


def test_round_trip(tmp_path):
    cm = ClassMap(("A", "B_é", "C"))
    cm.save(tmp_path / "classes.json")
    assert ClassMap.load(tmp_path / "classes.json") == cm
    assert not list(tmp_path.glob("*.tmp"))


def test_invalid_maps():
    with pytest.raises(WikiartError):
        ClassMap(())
    with pytest.raises(WikiartError):
        ClassMap(("a", "a"))
    with pytest.raises(WikiartError):
        ClassMap.from_dict({"classes": "abc"})


def test_load_garbage(tmp_path):
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(WikiartError, match="cannot read class map"):
        ClassMap.load(tmp_path / "c.json")
