import pytest

from pipeline import config


def test_defaults():
    s = config.load(environ={})
    assert s.weight == 0.5 and s.parser == "classical" and s.backend == "local"


def test_precedence_defaults_file_env_args(tmp_path):
    f = tmp_path / "drape.toml"
    f.write_text('weight = 0.2\ntop_k = 7\ninpainter = "ns"\n')
    s = config.load(f, environ={})
    assert (s.weight, s.top_k, s.inpainter) == (0.2, 7, "ns")
    s = config.load(f, environ={"DRAPE_WEIGHT": "0.9"})
    assert (s.weight, s.top_k) == (0.9, 7)
    s = config.load(f, overrides={"weight": 0.4, "top_k": None}, environ={"DRAPE_WEIGHT": "0.9"})
    assert (s.weight, s.top_k) == (0.4, 7)


def test_yaml_file_and_env_config_pointer(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("restore: false\nmax_side: 256\n")
    s = config.load(environ={"DRAPE_CONFIG": str(f)})
    assert s.restore is False and s.max_side == 256


@pytest.mark.parametrize("text,needle", [
    ("weight = 3\n", "weight"),
    ("colour_space = 'hsv'\n", "unknown settings"),
    ("weight = [\n", "not valid"),
])
def test_bad_files_give_clear_errors(tmp_path, text, needle):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(config.ConfigError, match=needle):
        config.load(f, environ={})


def test_bad_env_value():
    with pytest.raises(config.ConfigError, match="top_k"):
        config.load(environ={"DRAPE_TOP_K": "many"})


def test_missing_file():
    with pytest.raises(config.ConfigError, match="config file"):
        config.load("/nonexistent/drape.toml", environ={})
