"""The local index's scale path: weight-aware ANN recall, exact rescoring, incremental writes, bulk load."""
from __future__ import annotations

import json
import shutil
import numpy as np
import pytest

from pipeline.index import INDEXES
from pipeline.index import cells, kernels, twin_ivf
from pipeline.index import snapshot as snapshot_mod
from pipeline.types import Item

DS, DC = 64, 16
N = 6000  # above twin_ivf.SCAN_MIN, so the ANN really skips most of the catalogue


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)


_CENTRES = {d: np.random.default_rng(d).normal(size=(20, d)) for d in (DS, DC)}


def clustered(rng, n: int, dim: int) -> np.ndarray:
    """Items and queries from the same 20 clusters: queries look like the catalogue, as photos of garments do."""
    centres = _CENTRES[dim]
    return unit(centres[rng.integers(0, len(centres), n)] + 0.6 * rng.normal(size=(n, dim)))


def items(start: int, n: int) -> list[Item]:
    return [Item(id=f"i{j}", image="", category=("dress", "hat")[j % 2], content_hash=f"h{j}")
            for j in range(start, start + n)]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    return clustered(rng, N + 400, DS), np.abs(clustered(rng, N + 400, DC))


@pytest.fixture(scope="module")
def built(tmp_path_factory, data):
    """One bulk load for the module; each test gets its own copy of the folder."""
    shape, colour = data
    path = tmp_path_factory.mktemp("scale") / "idx"
    idx = INDEXES.create("local", path=path, create=True, shape_dim=DS, colour_dim=DC, ann="ivf")
    idx.bulk_add(((items(i, 1000), shape[i:i + 1000], colour[i:i + 1000]) for i in range(0, N, 1000)), total=N)
    idx.close()
    return path


@pytest.fixture
def index(built, tmp_path):
    shutil.copytree(built, tmp_path / "idx")
    idx = INDEXES.create("local", path=tmp_path / "idx", ann="ivf")
    yield idx
    idx.close()


def brute(idx, qs, qc, w, k):
    snap = idx.snapshot()
    live = np.flatnonzero(~snap.dead)
    rows = snap.rows(live)
    scores = w * (rows[:, :DS] @ qs) + (1 - w) * (rows[:, DS:] @ qc)
    return [snap.ids[p] for p in live[np.argsort(-scores, kind="stable")[:k]]]


def queries(seed: int, n: int = 20):
    rng = np.random.default_rng(seed)
    return clustered(rng, n, DS), np.abs(clustered(rng, n, DC))


@pytest.mark.parametrize("w", [0.0, 0.3, 0.5, 0.8, 1.0])
def test_ann_recall_at_every_weight(index, w):
    assert index.snapshot().ann is not None and index.snapshot().ann.kind == "ivf"
    qs, qc = queries(int(w * 10) + 1)
    recall = [len(set(h.item.id for h in index.search(qs[q], qc[q], w, 20)) & set(brute(index, qs[q], qc[q], w, 20)))
              / 20 for q in range(len(qs))]
    assert np.mean(recall) >= 0.97, recall


def test_scores_are_exact_after_rescoring(index, data):
    shape, colour = data
    qs, qc = queries(9, 3)
    for w in (0.0, 0.6, 1.0):
        hits = index.search(qs[0], qc[0], w, 30)
        for h in hits:
            i = int(h.item.id[1:])
            assert h.shape == pytest.approx(float(shape[i] @ qs[0]), abs=1e-5)
            assert h.colour == pytest.approx(float(colour[i] @ qc[0]), abs=1e-5)
            assert h.score == pytest.approx(w * h.shape + (1 - w) * h.colour, abs=1e-5)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize("filtered", [False, True])
def test_one_thread_and_the_openmp_team_give_the_same_hits(index, filtered):
    """Each side's lists are shared over FAISS's team when threads > 1. The shortlists may differ only by
    items tied at their last place (the threads break ties in another order); the hits must not."""
    snap = index.snapshot()
    ann, qs, qc = snap.ann, *queries(11, 6)
    filters = {"category": ["dress"]} if filtered else None
    for q in range(len(qs)):
        for w in (0.0, 0.4, 0.9, 1.0):
            got = {}
            for threads in (1, 2):
                ann.threads = threads
                got[threads] = [(h.item.id, h.score) for h in index.search(qs[q], qc[q], w, 20, filters)]
            assert got[1] == got[2]
            if filtered:
                assert all(int(i[1:]) % 2 == 0 for i, _ in got[2])


def test_each_cells_items_are_dealt_evenly_over_its_lists(index):
    """A cell's lists differ by at most one item, so a scan divides evenly over the team's threads."""
    ann = index.snapshot().ann
    assert ann.split == twin_ivf.SPLIT == 2
    for side in (ann.shape, ann.colour):
        per_list = np.array([side.index.invlists.list_size(i) for i in range(side.index.nlist)])
        per_cell = per_list.reshape(-1, 2)
        assert (np.abs(per_cell[:, 0] - per_cell[:, 1]) <= 1).all() and per_list.sum() == N
        np.testing.assert_array_equal(side.sizes, per_cell.sum(1))


def test_dealing_continues_where_the_last_batch_stopped():
    held = np.zeros(3, np.int64)
    first = twin_ivf.deal(np.array([0, 0, 2, 0]), held, 2)
    second = twin_ivf.deal(np.array([0, 2, 2]), held, 2)
    np.testing.assert_array_equal(first, [0, 1, 4, 0])
    np.testing.assert_array_equal(second, [1, 5, 4])
    np.testing.assert_array_equal(held, [4, 0, 3])


def test_an_index_saved_with_whole_cells_still_loads_and_searches(built, tmp_path, monkeypatch):
    """Folders written before cells were split (no "split" in ann.json) read as one list per cell."""
    monkeypatch.setattr(twin_ivf, "SPLIT", 1)
    shutil.copytree(built, tmp_path / "old")
    old = INDEXES.create("local", path=tmp_path / "old", ann="ivf")
    snap = old.snapshot()
    folder = snap.folder / "ann-ivf"
    shutil.rmtree(folder)
    twin_ivf.TwinIVF.build(snap.base, snap.base_n, DS, threads=1).save(folder)
    meta = json.loads((folder / "ann.json").read_text())
    del meta["split"]
    (folder / "ann.json").write_text(json.dumps(meta))
    old.close()
    monkeypatch.undo()
    reopened = INDEXES.create("local", path=tmp_path / "old", ann="ivf")
    ann = reopened.snapshot().ann
    assert ann.split == 1 and ann.by_shape.nlist == len(ann.shape.centroids)
    qs, qc = queries(13, 5)
    for q in range(len(qs)):
        hits = [h.item.id for h in reopened.search(qs[q], qc[q], 0.5, 20)]
        assert len(set(hits) & set(brute(reopened, qs[q], qc[q], 0.5, 20))) >= 19
    reopened.close()


def test_a_folder_with_per_dimension_colour_codes_still_loads_and_searches(built, tmp_path, data):
    """Folders written before the colour ranges (8-bit codes with a range per dimension, no colour_range.npy)
    read with the identity range, and appends to them encode the same way."""
    faiss = kernels.faiss_module(1)
    shape, colour = data
    shutil.copytree(built, tmp_path / "old")
    old = INDEXES.create("local", path=tmp_path / "old", ann="ivf")
    folder = old.snapshot().folder / "ann-ivf"
    twin = twin_ivf.TwinIVF.load(folder, threads=1)
    quantizer = faiss.clone_index(twin.by_colour.quantizer)  # kept alive by this name until written
    by_colour = faiss.IndexIVFScalarQuantizer(quantizer, DC, twin.by_colour.nlist, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT, True)
    rows = np.ascontiguousarray(colour[:N])
    by_colour.train(rows)
    lists = np.ascontiguousarray(twin.colour.assign(rows) * twin.split, np.int64)
    ids = np.arange(N, dtype=np.int64)
    by_colour.add_core(N, faiss.swig_ptr(rows), faiss.swig_ptr(ids), faiss.swig_ptr(lists))
    faiss.write_index(by_colour, str(folder / "by_colour.faiss"))
    (folder / "colour_range.npy").unlink()
    old.close()
    reopened = INDEXES.create("local", path=tmp_path / "old", ann="ivf")
    assert (reopened.snapshot().ann.colour_range == [[0], [1]]).all()
    reopened.add(items(N, 50), shape[N:N + 50], colour[N:N + 50])
    qs, qc = queries(17, 5)
    for q in range(len(qs)):
        for w in (0.0, 0.5):
            hits = [h.item.id for h in reopened.search(qs[q], qc[q], w, 20)]
            assert len(set(hits) & set(brute(reopened, qs[q], qc[q], w, 20))) >= 19
    assert reopened.search(shape[N + 7], colour[N + 7], 0.0, 1)[0].item.id == f"i{N + 7}"
    reopened.close()


def test_a_million_items_get_coarser_shape_cells_than_colour_cells():
    """Ranking a shape cell reads a centroid as big as 8 items' codes, a colour cell one as big as 4: at 1M
    items the shape side's budget spans ~2 cells (256), the colour side's ~4 (512)."""
    rng = np.random.default_rng(0)
    n = 40 * 512  # enough sample rows for 512 cells
    twin = twin_ivf.TwinIVF.train(rng.normal(size=(n, DS)).astype(np.float32),
                                  np.abs(rng.normal(size=(n, DC))).astype(np.float32), expected=1_000_000, threads=1)
    assert (len(twin.shape.centroids), len(twin.colour.centroids)) == (256, 512)


@pytest.mark.parametrize("threads", [1, 2])
def test_lists_open_nearest_first_until_the_budget_however_many_it_takes(threads):
    """Only the nearest few cells are sorted per query; a budget that needs more (a filter, deletions) must
    still get the full-sort rule, empty lists skipped, whether one thread reads the centroids or the team
    shares them. (The table is fp16: cells whose distances differ by less than its rounding may swap.)"""
    faiss = kernels.faiss_module(threads)
    rng = np.random.default_rng(7)
    cent = rng.normal(size=(300, 8)).astype(np.float32)
    quantizer = faiss.IndexFlatL2(8)
    quantizer.add(cent)
    ivf = faiss.IndexIVFFlat(quantizer, 8, 300)
    ivf.is_trained = True
    ivf.add(rng.normal(size=(3000, 8)).astype(np.float32))
    side = cells.Side(ivf, cent)
    assert (side.sizes == 0).any() and side.total == 3000
    for q in rng.normal(size=(5, 8)).astype(np.float32):
        for budget in (1, 40, 600, 2990, 10**6):  # 1 list, a few, past 16, past 128, all
            lists, ip = side.lists(q, budget)
            ref = np.argsort(side.half - cent @ q, kind="stable")
            ref = ref[side.sizes[ref] > 0]
            ref = ref[:max(1, int(np.searchsorted(np.cumsum(side.sizes[ref]), budget, side="right")))]
            near = cent @ q - side.half  # larger: nearer
            assert len(lists) == len(ref) and (side.sizes[lists] > 0).all()
            np.testing.assert_allclose(near[lists], near[ref], rtol=0, atol=2e-3)  # swaps only within fp16 rounding
            np.testing.assert_allclose(ip, cent[lists] @ q, rtol=1e-3, atol=2e-3)  # fp16 table: 5e-4 of each entry


def test_numpy_scalar_codes_match_faiss():
    faiss = kernels.faiss_module(1)
    rng = np.random.default_rng(0)
    for d in (36, 37):
        x = rng.normal(size=(2000, d)).astype(np.float32)
        pq = faiss.ProductQuantizer(d, d, 4)
        pq.train(x)
        assert np.array_equal(twin_ivf.ScalarCodes(pq)(x[:300]), pq.compute_codes(x[:300]))


def test_bulk_load_publishes_its_own_snapshot(index, tmp_path):
    pointer = json.loads((tmp_path / "idx" / "snapshot.json").read_text())
    assert pointer["generation"] == index.generation()
    assert (tmp_path / "idx" / pointer["folder"] / "ann-ivf").is_dir()
    assert not list((tmp_path / "idx").glob(".*.tmp"))
    assert index.snapshot().base_n == N == index.count()


def test_adds_and_deletes_apply_without_a_rebuild(index, data, tmp_path):
    shape, colour = data
    folder = index.snapshot().folder
    index.add(items(N, 200), shape[N:N + 200], colour[N:N + 200])
    assert index.delete([f"i{j}" for j in range(0, 100)]) == 100
    index.add(items(100, 1), shape[[N + 300]], colour[[N + 300]])  # an upsert: same id, new vectors
    snap = index.snapshot()
    assert snap.folder == folder and snap.base_n == N  # applied in memory, base untouched
    assert snap.live() == N + 200 - 100 == index.count()  # i100 was replaced, not added
    qs, qc = queries(5, 5)
    for q in range(5):
        for w in (0.0, 0.5, 1.0):
            got = [h.item.id for h in index.search(qs[q], qc[q], w, 20)]
            assert not {f"i{j}" for j in range(0, 100)} & set(got)
            assert len(set(got) & set(brute(index, qs[q], qc[q], w, 20))) >= 19
    new = index.search(shape[N + 150], colour[N + 150], 0.5, 1)[0]
    assert new.item.id == f"i{N + 150}" and new.score == pytest.approx(1.0, abs=1e-5)
    assert new.shape == pytest.approx(1.0, abs=1e-5) and new.colour == pytest.approx(1.0, abs=1e-5)  # appended row
    moved = index.search(shape[N + 300], colour[N + 300], 0.5, 1)[0]
    assert moved.item.id == "i100" and moved.score == pytest.approx(1.0, abs=1e-5)
    assert index.facets("category") == ["dress", "hat"]
    reopened = INDEXES.create("local", path=tmp_path / "idx", ann="ivf")  # a second process's view
    assert [h.item.id for h in reopened.search(qs[0], qc[0], 0.3, 10)] == \
        [h.item.id for h in index.search(qs[0], qc[0], 0.3, 10)]
    reopened.close()


def test_another_handles_writes_are_searched_after_the_refresh_interval(index, data, tmp_path, monkeypatch):
    """A handle reads the generation at most every REFRESH_S, unless it wrote itself."""
    from pipeline.index import local

    shape, colour = data
    monkeypatch.setattr(local, "REFRESH_S", 60.0)
    reader = INDEXES.create("local", path=tmp_path / "idx", ann="ivf")
    probe = (shape[N + 10], colour[N + 10], 0.5, 1)
    assert reader.search(*probe)[0].item.id != f"i{N + 10}"
    index.add(items(N + 10, 1), shape[[N + 10]], colour[[N + 10]])
    assert index.search(*probe)[0].item.id == f"i{N + 10}"  # its own write: at once
    assert reader.search(*probe)[0].item.id != f"i{N + 10}"  # within the interval: the view it had
    later = local.time.monotonic() + 61
    monkeypatch.setattr(local.time, "monotonic", lambda: later)
    assert reader.search(*probe)[0].item.id == f"i{N + 10}"
    reader.ann = "exact"  # a mode set within the interval is not stale either
    assert reader.snapshot().mode == "exact" and reader.search(*probe)[0].item.id == f"i{N + 10}"
    reader.close()


def test_heavy_churn_compacts_into_a_new_base(index, data):
    shape, colour = data
    folder = index.snapshot().folder
    index.delete([f"i{j}" for j in range(0, 2000)])
    snap = index.snapshot()
    assert snap.folder != folder and snap.base_n == N - 2000 and not snap.dead.any()
    assert len(index.search(shape[10], colour[10], 0.5, 5)) == 5


def test_filters_and_deletions_in_the_ann_path(index, data, monkeypatch):
    monkeypatch.setattr(snapshot_mod, "EXACT_SUBSET", 10)  # force filtered queries through the ANN
    shape, colour = data
    index.delete(["i2", "i4"])
    hits = index.search(shape[2], colour[2], 0.5, 10, filters={"category": ["dress"]})
    assert len(hits) == 10 and all(h.item.category == "dress" for h in hits)
    assert "i2" not in [h.item.id for h in hits] and "i4" not in [h.item.id for h in hits]


def test_bulk_load_with_duplicate_ids_falls_back_to_sqlite(tmp_path, data):
    shape, colour = data
    idx = INDEXES.create("local", path=tmp_path / "dup", create=True, shape_dim=DS, colour_dim=DC, ann="exact")
    chunks = [(items(0, 300), shape[:300], colour[:300]), (items(250, 100), shape[300:400], colour[300:400])]
    assert idx.bulk_add(chunks) == 400
    assert idx.count() == 350 and idx.snapshot().live() == 350
    hit = idx.search(shape[350], colour[350], 0.5, 1)[0]  # i300 holds the second chunk's vectors
    assert hit.item.id == "i300" and hit.score == pytest.approx(1.0, abs=1e-5)
    idx.close()


def test_dot_matches_numpy_and_refuses_mismatched_sizes():
    rng = np.random.default_rng(5)
    rows, q = rng.normal(size=(37, 24)).astype(np.float32), rng.normal(size=24).astype(np.float32)
    np.testing.assert_allclose(kernels.dot(rows, q), rows @ q, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(kernels.dot(rows[:, :8], q[:8]), rows[:, :8] @ q[:8], rtol=1e-5, atol=1e-5)
    assert kernels.dot(rows[:0], q).shape == (0,)
    with pytest.raises(ValueError, match="do not match"):
        kernels.dot(rows, q[:10])


@pytest.mark.parametrize("threads", [1, 2])
def test_dot_all_matches_numpy_on_one_thread_or_the_team(threads, monkeypatch):
    monkeypatch.setattr(kernels, "SHARE_SCAN", 1000)
    rng = np.random.default_rng(8)
    for n in (99, 2049, 4001):  # small: one call; big: shared, halves equal or not
        rows, q = rng.normal(size=(n, 24)).astype(np.float32), rng.normal(size=24).astype(np.float32)
        np.testing.assert_allclose(kernels.dot_all(rows, q, threads), rows @ q, rtol=1e-5, atol=1e-5)


def test_dot_at_reads_rows_in_place_and_refuses_bad_positions():
    rng = np.random.default_rng(6)
    rows, q = rng.normal(size=(50, 24)).astype(np.float32), rng.normal(size=24).astype(np.float32)
    pos = np.array([7, 0, 49, 7])
    np.testing.assert_allclose(kernels.dot_at(rows, pos, q), rows[pos] @ q, rtol=1e-5, atol=1e-5)
    assert kernels.dot_at(rows, pos[:0], q).shape == (0,)
    two = np.stack([q, -2 * q])  # several queries over the same positions: one row of results each
    np.testing.assert_allclose(kernels.dot_at(rows, pos, two), two @ rows[pos].T, rtol=1e-5, atol=1e-5)
    assert kernels.dot_at(rows, pos[:0], two).shape == (2, 0)
    for bad in (np.array([50]), np.array([-1])):
        with pytest.raises(ValueError, match="out of range"):
            kernels.dot_at(rows, bad, q)
    with pytest.raises(ValueError):
        kernels.dot_at(rows[:, :8], pos, q)  # not contiguous, and the sizes differ


@pytest.mark.parametrize("n", [63, 64, 65, 301])  # below the share threshold, even, odd (the last share padded)
def test_dot_at_shared_over_the_team_matches_one_thread(n):
    rng = np.random.default_rng(n)
    rows, q = rng.normal(size=(500, 24)).astype(np.float32), rng.normal(size=24).astype(np.float32)
    pos = rng.integers(0, 500, n)
    for threads in (2, 3):
        got = kernels.dot_at(rows, pos, q, threads)
        assert got.shape == (n,) and np.isfinite(got).all()
        np.testing.assert_allclose(got, rows[pos] @ q, rtol=1e-5, atol=1e-5)


def rich(j: int, **kw) -> Item:
    return Item(id=f"r{j}", image=f"/img/{j}.jpg", title=f"Dress “{j}”", url=f"https://x/{j}", category="dress",
                attributes={"colour": ["red", "blue"], "pattern": "striped", "n": j}, content_hash=f"c{j}", **kw)


@pytest.mark.parametrize("how", ["bulk", "add"])
def test_hits_carry_every_field_from_the_snapshot_records(tmp_path, data, how):
    shape, colour = data
    idx = INDEXES.create("local", path=tmp_path / "idx", create=True, shape_dim=DS, colour_dim=DC, ann="exact")
    stored = [rich(j) for j in range(300)]
    if how == "bulk":  # the staging snapshot writes records.* itself
        idx.bulk_add([(stored, shape[:300], colour[:300])])
    else:  # the snapshot is streamed out of SQLite
        idx.add(stored, shape[:300], colour[:300])
    assert (idx.snapshot().folder / "records.bin").is_file()
    idx.add([rich(300)], shape[[300]], colour[[300]])  # appended after the base: kept in memory
    for j in (5, 300):
        hit = idx.search(shape[j], colour[j], 0.5, 1)[0]
        assert hit.item == (stored + [rich(300)])[j]
    idx.close()


def test_records_read_back_whatever_json_wrote_in_position_order(tmp_path):
    from pipeline.index.records import Records, RecordWriter

    odd = Item(id="x", image="", attributes={"big": 2**70, "ratio": float("inf")})  # valid for json, not orjson
    stored = [rich(0), odd, rich(2)]
    with RecordWriter(tmp_path) as out:
        for it in stored:
            out.append(it.id, it.image, it.title, it.url, it.category, json.dumps(it.attributes), it.content_hash)
    records = Records.open(tmp_path).with_extra([rich(3)])
    assert records.get(np.array([2, 0])) == [stored[2], stored[0]]
    assert records.get(np.array([3, 1, 0])) == [rich(3), odd, stored[0]]  # appended, then base rows
    assert records.get(np.array([], np.int64)) == []


def test_a_base_without_records_takes_hit_metadata_from_sqlite(index, data):
    shape, colour = data
    folder = index.snapshot().folder
    before = [h.item for h in index.search(shape[3], colour[3], 0.5, 10)]
    for name in ("records.bin", "records.idx"):
        (folder / name).unlink()  # as written by an earlier version
    index._snap = None
    assert index.snapshot().records is None
    assert [h.item for h in index.search(shape[3], colour[3], 0.5, 10)] == before
