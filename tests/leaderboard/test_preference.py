"""A run's preference pairs as the dashboard reads them (Figure 5, Table 10), on a real micro run."""

import pandas as pd
import pytest

from leaderboard.preference import load_pairs, locate_run, pair_files, reward_by_iteration


def test_pairs_per_iteration_with_mean_sentence_r_i(seeded):
    pairs = load_pairs(seeded.run)
    assert sorted(pair_files(seeded.run)) == [1, 2]
    raw = pd.read_parquet(seeded.run / "iter1" / "pairs" / "pairs.parquet")
    first = raw.iloc[0]
    row = pairs[(pairs.iteration == 1) & (pairs.prompt_id == first.prompt_id) & (pairs.response == "rejected")]
    expected = sum(s["r_i"] for s in first.rejected_sentences) / len(first.rejected_sentences)
    assert row["r_i"].item() == pytest.approx(expected) and row["reward"].item() == first.rejected_reward


def test_reward_by_iteration_is_the_mean_of_chosen_and_rejected(seeded):
    pairs = load_pairs(seeded.run)
    table = reward_by_iteration(pairs).set_index("iteration")
    for t in (1, 2):
        raw = pd.read_parquet(seeded.run / f"iter{t}" / "pairs" / "pairs.parquet")
        assert table.loc[t, "pairs"] == len(raw)
        assert table.loc[t, "chosen_reward"] == pytest.approx(raw.chosen_reward.mean())
        assert table.loc[t, "rejected_reward"] == pytest.approx(raw.rejected_reward.mean())
        ends = pd.Series([s[-1]["end_prob"] for s in raw.chosen_sentences], dtype=float)
        assert table.loc[t, "chosen_end_prob"] == pytest.approx(ends.median(), nan_ok=True)  # the tiny run's
        # answers end at search.max_sentences, where no P(EOS) is known: NaN


def test_chosen_end_prob_is_the_median_where_chosen_answers_end(tmp_path):
    """csr_train's end_prob of the chosen answer's last sentence (None: the answer ended at a limit)."""
    def sentences(*end_probs):
        return [{"text": "A dog.", "r_i": 50.0, "end_prob": p} for p in end_probs]
    folder = tmp_path / "iter1" / "pairs"
    folder.mkdir(parents=True)
    pd.DataFrame({"prompt_id": ["a", "b", "c"], "chosen_reward": [1.0, 2.0, 3.0], "rejected_reward": [0.0] * 3,
                  "chosen_sentences": [sentences(None, 0.9), sentences(0.1), sentences(0.2, None)],
                  "rejected_sentences": [sentences(0.5)] * 3}).to_parquet(folder / "pairs.parquet")
    table = reward_by_iteration(load_pairs(tmp_path))
    assert table["chosen_end_prob"].tolist() == [pytest.approx(0.5)]  # median of 0.9 and 0.1; c's end is unknown


def test_run_folder_found_from_the_database_location(seeded, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative path recorded elsewhere resolves next to the store's project
    assert locate_run("runs/tiny-run", str(seeded.db)) == seeded.run.parent.parent / "runs" / "tiny-run"
    assert locate_run("runs/absent", str(seeded.db)) is None and locate_run(None) is None


def test_a_run_without_pairs_gives_empty_frames(tmp_path):
    assert load_pairs(tmp_path).empty and reward_by_iteration(load_pairs(tmp_path)).empty
