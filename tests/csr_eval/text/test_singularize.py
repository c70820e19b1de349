import pytest

from csr_eval.text.singularize import singularize


@pytest.mark.parametrize("word,expected", [
    # the quirks that change CHAIR numbers (notes §1.3)
    ("bus", "bu"), ("buses", "bus"), ("glass", "glas"), ("tennis", "tenni"), ("ties", "ty"), ("pies", "py"),
    ("shelves", "shelve"), ("'s", "'"), ("dogs'", "dog's"), ("has", "ha"), ("its", "it"),
    ("your", "ymy"), ("four", "fmy"), ("specimen", "speciman"),
    # irregular and regular plurals
    ("people", "person"), ("children", "child"), ("men", "man"), ("women", "woman"), ("skis", "ski"),
    ("knives", "knife"), ("mice", "mouse"), ("geese", "goose"), ("data", "datum"), ("dogs", "dog"),
    ("benches", "bench"), ("boxes", "box"), ("puppies", "puppy"), ("wolves", "wolf"), ("potatoes", "potato"),
    # unchanged
    ("is", "is"), ("as", "as"), ("dog", "dog"), ("scissors", "scissors"), ("sheep", "sheep"),
    ("luggage", "luggage"),
    # pattern returns -ie plurals unchanged (it tests the plural, then returns it)
    ("cookies", "cookies"), ("doggies", "doggies"),
    # compounds with a preposition singularize their head
    ("mothers-in-law", "mother-in-law"),
])
def test_singularize_matches_pattern(word, expected):
    assert singularize(word) == expected
