"""Scanner, Histogram3D and ListModeLUT: construction, aliasing, files, errors."""
import gc
import os
import sys

import numpy as np
import pytest

import petrel
from conftest import FIXTURES_DIR, seed_scanner


# ---- Scanner --------------------------------------------------------------------------------

def test_scanner_keywords_and_attributes(scanner):
    assert scanner.scannerName == "MYSCANNER"
    assert (scanner.detsPerRing, scanner.numRings, scanner.numDOI) == (256, 8, 1)
    assert scanner.scannerRadius == 161 and scanner.axialFOV == 25
    assert (scanner.maxRingDiff, scanner.minAngDiff, scanner.detsPerBlock) == (7, 1, 32)
    assert scanner.getNumDets() == 256 * 8
    lut = scanner.getLUT()
    assert lut.shape == (2048, 6) and lut.dtype == np.float32
    # positions lie outside the crystal faces, normals are unit vectors
    assert np.all(np.hypot(lut[:, 0], lut[:, 1]) >= 161 - 1e-3)
    np.testing.assert_allclose(np.linalg.norm(lut[:, 3:], axis=1), 1, atol=1e-5)


def test_scanner_positional_like_yrtpet():
    s = petrel.Scanner("MYSCANNER", 25, 2.0, 2.0, 10.0, 161, 256, 8, 1, 7, 1, 32)
    np.testing.assert_array_equal(s.getLUT(), seed_scanner().getLUT())


def test_scanner_json_round_trip(tmp_path, scanner):
    path = tmp_path / "s.json"
    scanner.writeToJSON(str(path), "s.lut")
    back = petrel.Scanner(str(path))
    assert back.scannerName == "MYSCANNER" and back.getNumDets() == scanner.getNumDets()
    np.testing.assert_array_equal(back.getLUT(), scanner.getLUT())


def test_scanner_fov_radius(tmp_path, scanner):
    # default: the scanner radius; a "fovRadius" in the scanner JSON sets it
    assert scanner.fovRadius == pytest.approx(scanner.scannerRadius)
    path = tmp_path / "s.json"
    scanner.writeToJSON(str(path), "s.lut")
    text = path.read_text().replace('"scannerRadius"', '"fovRadius": 120.5, "scannerRadius"', 1)
    path.write_text(text)
    assert petrel.Scanner(str(path)).fovRadius == pytest.approx(120.5)


@pytest.mark.skipif(not os.path.isdir(FIXTURES_DIR), reason="no YRT-PET fixtures")
def test_scanner_from_fixture_json():
    s = petrel.Scanner(os.path.join(FIXTURES_DIR, "small", "scanner.json"))
    assert s.getNumDets() == s.detsPerRing * s.numRings * s.numDOI


def test_scanner_errors(tmp_path):
    with pytest.raises(ValueError, match="dets_per_ring"):
        petrel.Scanner("X", 25, 2.0, 2.0, 10.0, 161, 0, 8, 1, 7, 1, 32)
    with pytest.raises(TypeError):
        petrel.Scanner(scanner_name="X")
    with pytest.raises(ValueError, match="longer than"):
        petrel.Scanner("X" * 200, 25, 2.0, 2.0, 10.0, 161, 256, 8, 1, 7, 1, 32)
    with pytest.raises(OSError):
        petrel.Scanner(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with pytest.raises((OSError, ValueError)):
        petrel.Scanner(str(bad))


# ---- Histogram3D --------------------------------------------------------------------------

def test_histogram_owned_buffer_and_clear(scanner):
    his = petrel.Histogram3DOwned(scanner)
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        np.array(his, copy=False)
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        his.clearProjections(1.0)
    his.allocate()
    a = np.array(his, copy=False)
    assert a.shape == (his.numZBin, his.numPhi, his.numR) and a.dtype == np.float32
    assert his.count() == a.size
    his.clearProjections(1.0)
    assert np.all(a == 1)
    a[0, 0, 0] = 5
    assert np.asarray(his)[0, 0, 0] == 5
    assert his.getScanner() is scanner


def test_histogram_keeps_its_scanner_alive():
    s = seed_scanner()
    base = sys.getrefcount(s)
    his = petrel.Histogram3DOwned(s)
    assert sys.getrefcount(s) == base + 1
    del s
    gc.collect()
    his.allocate()
    his.clearProjections(2.0)  # the scanner's tables are still there
    assert his.getScanner().scannerName == "MYSCANNER"


def test_histogram_alias_binds_numpy(scanner):
    his = petrel.Histogram3DAlias(scanner)
    shape = (his.numZBin, his.numPhi, his.numR)
    y = np.zeros(shape, np.float32)
    base = sys.getrefcount(y)
    his.bind(y)
    assert sys.getrefcount(y) == base + 1
    his.clearProjections(3.0)
    assert np.all(y == 3)
    with pytest.raises(ValueError, match=r"float32 array of shape .* \[numZBin, numPhi, numR\]"):
        his.bind(np.zeros(shape, np.float64))
    with pytest.raises(ValueError, match="shape"):
        his.bind(np.zeros(shape[::-1], np.float32))
    del his
    gc.collect()
    assert sys.getrefcount(y) == base


def test_histogram_file_round_trip(tmp_path, scanner):
    his = petrel.Histogram3DOwned(scanner)
    his.allocate()
    a = np.asarray(his)
    a[:] = np.arange(a.size, dtype=np.float32).reshape(a.shape) % 97
    path = tmp_path / "h.his"
    his.writeToFile(str(path))
    back = petrel.Histogram3DOwned(scanner, str(path))
    np.testing.assert_array_equal(np.asarray(back), a)
    alias = petrel.Histogram3DAlias(scanner)
    alias.bind(np.zeros(a.shape, np.float32))
    alias.readFromFile(path)
    np.testing.assert_array_equal(np.asarray(alias), a)
    other = petrel.Scanner("OTHER", 25, 2.0, 2.0, 10.0, 161, 128, 8, 1, 7, 1, 32)
    with pytest.raises(OSError, match="do not match"):
        petrel.Histogram3DOwned(other, str(path))
    with pytest.raises(OSError):
        petrel.Histogram3DOwned(scanner, str(tmp_path / "missing.his"))
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        petrel.Histogram3DOwned(scanner).writeToFile(str(tmp_path / "x.his"))


def test_histogram_constructor_errors(scanner):
    with pytest.raises(TypeError, match="expected a petrel.Scanner"):
        petrel.Histogram3DOwned(42)
    with pytest.raises(TypeError):
        petrel.Histogram3DAlias(scanner, "file.his")
    with pytest.raises(TypeError):
        petrel.Histogram3D(scanner)


def test_bin_iter(scanner):
    his = petrel.Histogram3DOwned(scanner)
    full = his.getBinIter(1, 0)
    assert len(full) == his.count() and full.size() == his.count()
    assert full[0] == 0 and full.get(7) == 7
    subsets = [his.getBinIter(4, s) for s in range(4)]
    assert sum(len(b) for b in subsets) == his.count()
    bins = np.concatenate([[b[k] for k in range(0, len(b), 997)] for b in subsets])
    assert len(np.unique(bins)) == len(bins)
    assert subsets[2].numSubsets == 4 and subsets[2].subset == 2
    with pytest.raises(IndexError):
        full[len(full)]
    for bad in [(0, 0), (4, 4), (2, -1), (100000, 0)]:
        with pytest.raises(ValueError):
            his.getBinIter(*bad)


# ---- ListModeLUT --------------------------------------------------------------------------

def events(n, rng):
    d1 = rng.integers(0, 2048, n).astype(np.uint32)
    d2 = ((d1 // 256) * 256 + (d1 % 256 + 128) % 256).astype(np.uint32)
    return np.arange(n, dtype=np.uint32), d1, d2


def test_listmode_owned_views_and_file(tmp_path, scanner):
    lm = petrel.ListModeLUTOwned(scanner)
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        lm.getTimestampArray()
    lm.allocate(100)
    assert lm.count() == 100 and not lm.isTOF()
    t, d1, d2 = events(100, np.random.default_rng(1))
    lm.getTimestampArray()[:] = t
    lm.getDetector1Array()[:] = d1
    lm.getDetector2Array()[:] = d2
    with pytest.raises(RuntimeError, match="no TOF"):
        lm.getTOFArray()
    path = tmp_path / "e.lmDat"
    lm.writeToFile(str(path))
    back = petrel.ListModeLUTOwned(scanner, str(path))
    np.testing.assert_array_equal(back.getDetector1Array(), d1)
    np.testing.assert_array_equal(back.getTimestampArray(), t)
    view = lm.getDetector2Array()
    with pytest.raises(BufferError):
        lm.allocate(10)
    del view
    gc.collect()
    lm.allocate(10)
    assert lm.count() == 10
    with pytest.raises(ValueError):
        lm.allocate(-1)


def test_listmode_alias_binds_and_checks(scanner):
    t, d1, d2 = events(50, np.random.default_rng(2))
    base = sys.getrefcount(d1)
    lm = petrel.ListModeLUTAlias(scanner)
    lm.bind(t, d1, d2)
    assert lm.count() == 50 and sys.getrefcount(d1) == base + 1
    np.testing.assert_array_equal(lm.getDetector1Array(), d1)
    with pytest.raises(ValueError, match=r"uint32 array of shape \(50,\)"):
        lm.bind(t, d1.astype(np.int64), d2)
    with pytest.raises(ValueError, match=r"shape \(50,\).*got shape \(49,\)"):
        lm.bind(t, d1, d2[:49])
    bad = d2.copy()
    bad[3] = 2048
    with pytest.raises(ValueError, match="event 3"):
        lm.bind(t, d1, bad)
    with pytest.raises(ValueError, match="tof_ps given"):
        lm.bind(t, d1, d2, np.zeros(50, np.float32))
    assert lm.count() == 50  # failed binds keep the previous one
    tof = petrel.ListModeLUTAlias(scanner, flag_tof=True)
    with pytest.raises(ValueError, match="tof_ps is required"):
        tof.bind(t, d1, d2)
    tof.bind(t, d1, d2, np.zeros(50, np.float32))
    assert tof.isTOF()
    del lm, tof
    gc.collect()
    assert sys.getrefcount(d1) == base


def test_listmode_bin_iter(scanner):
    lm = petrel.ListModeLUTOwned(scanner)
    lm.allocate(10)
    its = [lm.getBinIter(3, s) for s in range(3)]
    assert [it[k] for it in its for k in range(len(it))] == list(range(10))
