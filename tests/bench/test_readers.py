"""Protocol readers on tiny fixtures in each format."""
import csv

import pytest

from bench.readers import folder_pairs, inshop, truth_csv

INSHOP = """8
image_name item_id evaluation_status
img/WOMEN/Dresses/id_00000002/02_1_front.jpg id_00000002 train
img/WOMEN/Dresses/id_00000003/02_1_front.jpg id_00000003 query
img/WOMEN/Dresses/id_00000003/02_2_side.jpg id_00000003 gallery
img/WOMEN/Dresses/id_00000003/02_4_full.jpg id_00000003 gallery
img/MEN/Denim/id_00000010/01_1_front.jpg id_00000010 query
img/MEN/Denim/id_00000010/01_2_side.jpg id_00000010 gallery
img/MEN/Denim/id_00000011/01_1_front.jpg id_00000011 gallery
img/MEN/Denim/id_00000012/01_1_front.jpg id_00000012 query
"""


def test_inshop_reader(tmp_path):
    (tmp_path / "list_eval_partition.txt").write_text(INSHOP)
    qs = inshop(tmp_path)
    got = {q.relative_to(tmp_path).as_posix(): rel for q, rel in qs.queries}
    # id_00000012 has no gallery image: not a usable query
    assert got == {
        "img/WOMEN/Dresses/id_00000003/02_1_front.jpg": {"img/WOMEN/Dresses/id_00000003/02_2_side.jpg",
                                                         "img/WOMEN/Dresses/id_00000003/02_4_full.jpg"},
        "img/MEN/Denim/id_00000010/01_1_front.jpg": {"img/MEN/Denim/id_00000010/01_2_side.jpg"},
    }
    rows = list(csv.DictReader(qs.gallery_csv.open()))
    assert len(rows) == 4 and {r["category"] for r in rows} == {"Dresses", "Denim"}
    assert all(r["id"].startswith("img/") for r in rows)


def test_truth_csv_groups_relevant_items(tmp_path):
    (tmp_path / "truth.csv").write_text("query,item_id\nqueries/a_0.jpg,dress/a.jpg\nqueries/a_0.jpg,dress/b.jpg\n"
                                        "queries/c_0.jpg,hat/c.jpg\n")
    qs = truth_csv(tmp_path / "truth.csv")
    assert {(q.name, frozenset(r)) for q, r in qs.queries} == {
        ("a_0.jpg", frozenset({"dress/a.jpg", "dress/b.jpg"})), ("c_0.jpg", frozenset({"hat/c.jpg"}))}
    (tmp_path / "bad.csv").write_text("q,id\n")
    with pytest.raises(ValueError, match="query,item_id"):
        truth_csv(tmp_path / "bad.csv")


def test_folder_pairs(tmp_path):
    (tmp_path / "dress").mkdir()
    (tmp_path / "dress" / "a.jpg").write_bytes(b"x")
    assert [(q.name, r) for q, r in folder_pairs(tmp_path).queries] == [("a.jpg", {"dress/a.jpg"})]
