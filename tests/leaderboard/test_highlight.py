"""CHAIR's objects coloured in a caption: the right words, the right colours, the rest escaped."""

from csr_eval.benchmarks.chair import CocoObjectVocabulary
from leaderboard.highlight import caption_html, mentions

VOCAB = CocoObjectVocabulary.reference()


def test_hallucinated_red_correct_green():
    caption = "Two giraffes & a man at the dining table."
    found = mentions(caption, ["person", "dining table"], VOCAB)
    assert [(m.text, m.category, m.hallucinated) for m in found] == [
        ("giraffes", "giraffe", True), ("man", "person", False), ("table", "dining table", False)]
    html = caption_html(caption, ["person", "dining table"], VOCAB)
    assert '<span class="hallucinated" title="giraffe: hallucinated" style="color:#c62828;font-weight:600">' \
           'giraffes</span>' in html
    assert html.count('class="correct"') == 2 and "&amp;" in html


def test_caption_without_objects_is_only_escaped():
    assert caption_html("A <b>sunny</b> day.", [], VOCAB) == "A &lt;b&gt;sunny&lt;/b&gt; day."
