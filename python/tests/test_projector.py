"""ProjectorParams and the CPU operators: adjointness, subsets, list-mode, errors, GIL."""
import numpy as np
import pytest

import petrel
from conftest import seed_scanner
from test_gil_and_leaks import runs_during
from test_scanner_projdata import events

IMG = petrel.ImageParams(40, 40, 20, 80.0, 80.0, 25.0)


def image(values=None):
    img = petrel.ImageOwned(IMG)
    img.allocate()
    if values is not None:
        np.asarray(img)[:] = values
    return img


def histogram(scanner, values=None):
    his = petrel.Histogram3DOwned(scanner)
    his.allocate()
    if values is not None:
        np.asarray(his)[:] = values
    return his


def operator(scanner, name):
    pp = petrel.ProjectorParams(scanner)
    pp.setProjector(name)
    return petrel.OperatorProjector(pp)


def test_projector_params(scanner):
    pp = petrel.ProjectorParams(scanner)
    assert pp.projector == "S" and pp.numRays == 1 and pp.tofWidth_ps == 0
    pp.setProjector("MRS")
    assert pp.projector == "MRS" and pp.numRays > 1
    pp.setProjector("DistanceDriven")
    assert pp.projector == "DD"
    with pytest.raises(ValueError):
        pp.setProjector("XYZ")
    with pytest.raises(ValueError, match="tofWidth_ps"):
        pp.tofWidth_ps = -1
    pp.tofWidth_ps = 300
    assert pp.tofWidth_ps == 300
    pp.numRays = 0
    with pytest.raises(ValueError):
        petrel.OperatorProjectorSiddon(pp)
    with pytest.raises(TypeError):
        petrel.ProjectorParams("not a scanner")


def test_operator_kinds(scanner):
    pp = petrel.ProjectorParams(scanner)
    pp.setProjector("DD")
    assert petrel.OperatorProjectorSiddon(pp).projector == "S"
    assert petrel.OperatorProjectorDD(petrel.ProjectorParams(scanner)).projector == "DD"
    assert petrel.OperatorProjector(pp).projector == "DD"


@pytest.mark.parametrize("name", ["S", "MRS", "DD"])
def test_adjointness(scanner, name):
    rng = np.random.default_rng(3)
    op = operator(scanner, name)
    x = rng.random((IMG.nz, IMG.ny, IMG.nx), dtype=np.float32)
    his = petrel.Histogram3DOwned(scanner)
    y = rng.random((his.numZBin, his.numPhi, his.numR), dtype=np.float32)
    ax = histogram(scanner)
    op.applyA(image(x), ax)
    aty = image()
    op.applyAH(histogram(scanner, y), aty)
    lhs = np.dot(np.asarray(ax).ravel().astype(np.float64), y.ravel())
    rhs = np.dot(x.ravel().astype(np.float64), np.asarray(aty).ravel())
    assert lhs > 0 and lhs == pytest.approx(rhs, rel=1e-5)


def test_subsets_partition_the_projection(scanner):
    rng = np.random.default_rng(4)
    x = image(rng.random((IMG.nz, IMG.ny, IMG.nx), dtype=np.float32))
    op = operator(scanner, "S")
    full = histogram(scanner)
    op.applyA(x, full)
    parts = histogram(scanner)
    back_parts = image()
    for s in range(4):
        op.setBinIter(parts.getBinIter(4, s))
        op.applyA(x, parts)
        op.applyAH(full, back_parts)
    np.testing.assert_array_equal(np.asarray(parts), np.asarray(full))
    op.setBinIter(full.getBinIter(1, 0))
    back_full = image()
    op.applyAH(full, back_full)
    np.testing.assert_allclose(np.asarray(back_parts), np.asarray(back_full), rtol=1e-4, atol=1e-3)
    sub = petrel.OperatorProjectorSiddon(petrel.ProjectorParams(scanner), full.getBinIter(4, 1))
    only1 = histogram(scanner, -1.0)
    sub.applyA(x, only1)
    assert np.any(np.asarray(only1) == -1) and np.any(np.asarray(only1) > 0)


def test_back_projection_accumulates(scanner):
    op = operator(scanner, "DD")
    his = histogram(scanner, 1.0)
    img = image()
    op.applyAH(his, img)
    once = np.asarray(img).copy()
    op.applyAH(his, img)
    np.testing.assert_allclose(np.asarray(img), 2 * once, rtol=1e-4)  # float sums reorder


def test_listmode_back_projection(scanner):
    t, d1, d2 = events(2000, np.random.default_rng(5))
    lm = petrel.ListModeLUTAlias(scanner)
    lm.bind(t, d1, d2)
    op = operator(scanner, "S")
    img = image()
    op.applyAH(lm, img)
    assert np.asarray(img).sum() > 0
    # one event at a time adds up to all of them
    acc = image()
    for k in range(0, 2000, 500):
        part = petrel.ListModeLUTAlias(scanner)
        part.bind(t[k:k + 500].copy(), d1[k:k + 500].copy(), d2[k:k + 500].copy())
        op.applyAH(part, acc)
    np.testing.assert_allclose(np.asarray(acc), np.asarray(img), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="no projection values"):
        op.applyA(img, lm)


def test_tof(scanner):
    t, d1, d2 = events(500, np.random.default_rng(6))
    lm = petrel.ListModeLUTAlias(scanner, flag_tof=True)
    lm.bind(t, d1, d2, np.zeros(500, np.float32))
    pp = petrel.ProjectorParams(scanner)
    pp.tofWidth_ps = 300
    op = petrel.OperatorProjectorSiddon(pp)
    assert op.getProjectionPropertyTypes(lm) == ("LOR", "DetOrient", "TOF")
    img = image()
    op.applyAH(lm, img)
    assert np.asarray(img).sum() > 0
    plain = petrel.ListModeLUTAlias(scanner)
    plain.bind(t, d1, d2)
    with pytest.raises(ValueError, match="TOF"):
        op.applyAH(plain, img)
    with pytest.raises(ValueError, match="TOF"):
        op.applyA(img, histogram(scanner))
    assert operator(scanner, "S").getProjectionPropertyTypes(lm) == ("LOR", "DetOrient")


def test_operator_errors(scanner):
    op = operator(scanner, "S")
    his = histogram(scanner)
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        op.applyA(petrel.ImageOwned(IMG), his)
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        op.applyA(image(), petrel.Histogram3DOwned(scanner))
    with pytest.raises(RuntimeError, match=r"before bind\(\)"):
        op.applyAH(his, petrel.ImageAlias(IMG))
    with pytest.raises(TypeError, match="expected a petrel image"):
        op.applyA(np.zeros((IMG.nz, IMG.ny, IMG.nx), np.float32), his)
    with pytest.raises(TypeError, match="Histogram3D or ListModeLUT"):
        op.applyAH(np.zeros(3), image())
    with pytest.raises(TypeError):
        op.applyA(image())
    with pytest.raises(ValueError, match="another Scanner"):
        op.applyA(image(), histogram(seed_scanner()))
    lm = petrel.ListModeLUTOwned(scanner)
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        op.applyAH(lm, image())
    lm.allocate(4)
    lm.getDetector1Array()[2] = 99999  # written through numpy: checked before projecting
    with pytest.raises(ValueError, match="event 2"):
        op.applyAH(lm, image())
    with pytest.raises(TypeError):
        op.setBinIter(3)


def test_projection_releases_the_gil(scanner):
    op = operator(scanner, "S")
    img = petrel.ImageOwned(petrel.ImageParams(100, 100, 50, 100, 100, 50))
    img.allocate()
    img.setValue(1.0)
    his = histogram(scanner)
    assert runs_during(lambda: op.applyA(img, his), repeats=4) >= 2
