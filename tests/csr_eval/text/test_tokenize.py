from csr_eval.text.tokenize import word_tokenize


def test_sentence_final_periods_are_split_in_the_middle_of_a_text():
    assert word_tokenize("a dog. a cat.") == ["a", "dog", ".", "a", "cat", "."]


def test_treebank_rules_for_clitics_and_punctuation():
    assert word_tokenize("the dog's ball, isn't it?") == ["the", "dog", "'s", "ball", ",", "is", "n't", "it", "?"]


def test_abbreviations_do_not_end_sentences():
    assert word_tokenize("st. mark's square.") == ["st.", "mark", "'s", "square", "."]


def test_hyphenated_words_stay_whole():
    assert word_tokenize("a hot-dog stand.") == ["a", "hot-dog", "stand", "."]
