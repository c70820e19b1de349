"""Typed configs: YAML + overrides, and errors that name the file and the field."""

from dataclasses import dataclass, field

import pytest

from csr_eval.config import load_config, save_config
from csr_eval.errors import InputError


@dataclass
class Inner:
    name: str = "a"
    weight: float = 1.0


@dataclass
class Outer:
    seed: int = 0
    flag: bool = False
    label: str | None = None
    inner: Inner = field(default_factory=Inner)
    items: list[Inner] = field(default_factory=lambda: [Inner("x")])


def test_defaults_file_and_overrides_in_that_order(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 3\ninner:\n  weight: 2\nitems:\n  - name: y\n    weight: 0.5\n")
    config = load_config(Outer, path, ["inner.name=b", "flag=true", "label=run1"])
    assert config == Outer(seed=3, flag=True, label="run1", inner=Inner("b", 2.0), items=[Inner("y", 0.5)])
    assert isinstance(config.inner.weight, float)


def test_save_then_load_round_trips(tmp_path):
    config = Outer(seed=7, inner=Inner("q", 0.25), items=[Inner("m"), Inner("n", 3.0)])
    save_config(config, tmp_path / "c.yaml")
    assert load_config(Outer, tmp_path / "c.yaml") == config


@pytest.mark.parametrize("text, message", [
    ("sed: 3\n", "unknown field 'sed'"),
    ("inner:\n  wieght: 2\n", "unknown field 'inner.wieght'"),
    ("seed: three\n", "field 'seed': expected int"),
    ("flag: 1\n", "field 'flag': expected true or false"),
    ("items:\n  - name: [1]\n", "field 'items[0].name'"),
    ("- 1\n", "expected a mapping"),
    ("seed: [1\n", "not valid YAML"),
])
def test_bad_file_names_file_and_field(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_config(Outer, path)
    assert message in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize("override, message", [
    ("seed", "expected key=value"),
    ("nope=1", "unknown field 'nope'"),
    ("seed.x=1", "'seed' is not a section"),
    ("seed=1.5", "field 'seed': expected int"),
])
def test_bad_override_is_named(override, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        load_config(Outer, None, [override])


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        load_config(Outer, tmp_path / "absent.yaml")


def test_exponent_without_a_dot_is_a_float():
    """YAML 1.1 reads `1e-3` as a string; users type it, so float fields take it."""
    assert load_config(Outer, None, ["inner.weight=1e-3"]).inner.weight == 1e-3
    with pytest.raises(InputError, match="field 'inner.weight': expected float"):
        load_config(Outer, None, ["inner.weight=fast"])
