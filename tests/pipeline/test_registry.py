import pytest

from pipeline.colour import COLOURS
from pipeline.embed import EMBEDDERS
from pipeline.index import INDEXES
from pipeline.parse import PARSERS
from pipeline.registry import UnknownBackend
from pipeline.restore import INPAINTERS


@pytest.mark.parametrize("registry", [PARSERS, INPAINTERS, EMBEDDERS, COLOURS, INDEXES])
def test_unknown_name_lists_valid_ones(registry):
    with pytest.raises(UnknownBackend) as err:
        registry.create("no-such-backend")
    for name in registry.names():
        assert name in str(err.value)


def test_offline_backends_registered():
    assert "classical" in PARSERS and "telea" in INPAINTERS and "fsr" in INPAINTERS
    assert "efficientnet-lite0" in EMBEDDERS and "lab-hist" in COLOURS and "local" in INDEXES
