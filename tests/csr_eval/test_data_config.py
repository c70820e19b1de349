"""Data locations: the documented file equals the defaults; CSR_DATA_DIR moves every relative path."""

from pathlib import Path

from csr_eval.data_config import DataConfig, load_data_config

REPO = Path(__file__).resolve().parents[2]


def test_documented_file_equals_the_defaults():
    assert load_data_config(REPO / "configs" / "data.yaml") == DataConfig()


def test_csr_data_dir_overrides_data_dir_but_not_absolute_paths(monkeypatch, tmp_path):
    config = load_data_config(None, ["pope.images=/abs/val2014"])
    monkeypatch.setenv("CSR_DATA_DIR", str(tmp_path))
    assert config.resolve(config.pope.labels) == tmp_path / "pope" / "coco"
    assert config.resolve(config.pope.images) == Path("/abs/val2014")
    monkeypatch.delenv("CSR_DATA_DIR")
    assert config.resolve(config.chair.annotations) == Path("data") / "coco" / "annotations"
