"""YRT-PET's Python names (pyyrtpet) on petrel: `import petrel as yrt` runs YRT-PET scripts.
ImageParams JSON, image arithmetic, scanner/histogram helpers, the OSEM interface (keywords,
defaults, reconstruct forms, corrections), module helpers and the NotImplementedError names."""
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import petrel as yrt
from conftest import EXAMPLES_DIR, has_gpu, requires_nifti
from test_osem import GRID, Problem, phantom, small_scanner

FIXTURES = os.environ.get("PETREL_FIXTURES_DIR")
requires_fixtures = pytest.mark.skipif(not FIXTURES or not os.path.isdir(FIXTURES),
                                       reason="PETREL_FIXTURES_DIR (YRT-PET fixtures) not set")


@pytest.fixture(scope="module")
def problem():
    return Problem(small_scanner())


def image(params, value=None):
    img = yrt.ImageOwned(params)
    img.allocate()
    if value is not None:
        img.fill(value)
    return img


# ---- module ---------------------------------------------------------------------------------

def test_version_and_threads():
    assert yrt.getVersionString() == yrt.__version__ and yrt.getVersionString()
    before = yrt.getNumThreads()
    try:
        yrt.setNumThreads(1)
        assert yrt.getNumThreads() == 1
        yrt.setNumThreads(num_threads=3)
        assert yrt.getNumThreads() == 3
        for bad in (0, -2):
            with pytest.raises(ValueError, match="num_threads must be >= 1"):
                yrt.setNumThreads(bad)
        with pytest.raises(TypeError):
            yrt.setNumThreads("2")
    finally:
        yrt.setNumThreads(before)


# ---- ImageParams ----------------------------------------------------------------------------

def test_image_params_json_round_trip(tmp_path):
    p = yrt.ImageParams(10, 12, 4, 20.0, 30.0, 8.0, offset_x=1.5, offset_y=-2.0, offset_z=0.25)
    assert (p.off_x, p.off_y, p.off_z, p.nt) == (1.5, -2.0, 0.25, 1)
    path = tmp_path / "params.json"
    p.serialize(str(path))
    d = json.loads(path.read_text())
    assert d == {"VERSION": 1.0, "nx": 10, "ny": 12, "nz": 4, "vx": 2.0, "vy": 2.5, "vz": 2.0,
                 "off_x": 1.5, "off_y": -2.0, "off_z": 0.25, "nt": 1}
    q = yrt.ImageParams(path)  # os.PathLike too
    assert q == p and q.isSameAs(p) and (q.vx, q.vy, q.vz) == (2.0, 2.5, 2.0)
    r = yrt.ImageParams(3, 3, 3, 3.0, 3.0, 3.0)
    r.deserialize(str(path))
    assert r == p
    p.writeToFile(str(tmp_path / "b.json"))
    s = yrt.ImageParams(1, 1, 1, 1.0, 1.0, 1.0)
    s.readFromFile(str(tmp_path / "b.json"))
    assert s == p and json.loads(p.toString()) == d
    assert yrt.ImageParams(p) == p and pickle.loads(pickle.dumps(p)) == p
    assert p.getShape() == (1, 4, 12, 10)


def test_image_params_json_variants(tmp_path):
    f = tmp_path / "p.json"
    # lengths instead of voxel sizes, YRT-PET's offset_ spelling, nt = 1, an older VERSION
    f.write_text('{"VERSION": 0.9, "nx": 8, "ny": 8, "nz": 2, "length_x": 16, "length_y": 24,'
                 ' "length_z": 4, "offset_x": 3, "nt": 1}')
    p = yrt.ImageParams(str(f))
    assert (p.length_x, p.length_y, p.length_z, p.off_x, p.vy) == (16.0, 24.0, 4.0, 3.0, 3.0)
    # the voxel size wins over the length when both are given (YRT-PET's rule)
    f.write_text('{"VERSION": 1.0, "nx": 8, "ny": 8, "nz": 2, "vx": 1, "vy": 1, "vz": 1,'
                 ' "length_x": 100, "length_y": 100, "length_z": 100}')
    assert yrt.ImageParams(str(f)).length_x == 8.0


@pytest.mark.parametrize("text, field", [
    ('{"VERSION": 1.0, "nx": 4, "ny": 4, "vx": 1, "vy": 1, "vz": 1}', '"nz"'),
    ('{"nx": 4, "ny": 4, "nz": 4, "vx": 1, "vy": 1, "vz": 1}', '"VERSION"'),
    ('{"VERSION": 1.0, "nx": 4, "ny": 4, "nz": 4, "vx": 1, "vz": 1}', '"vy"'),
    ('{"VERSION": 1.0, "nx": "4", "ny": 4, "nz": 4, "vx": 1, "vy": 1, "vz": 1}', '"nx"'),
    ('{"VERSION": 1.0, "nx": 4.5, "ny": 4, "nz": 4, "vx": 1, "vy": 1, "vz": 1}', '"nx"'),
    ('{"VERSION": 1.0, "nx": 4, "ny": 4, "nz": 4, "vx": -1, "vy": 1, "vz": 1}', '"vx"'),
    ('{"VERSION": 1.0, "nx": 4, "ny": 4, "nz": 4, "vx": 1, "vy": 1, "vz": 1, "off_z": "a"}',
     '"off_z"'),
    ('{"VERSION": 3.0, "nx": 4, "ny": 4, "nz": 4, "vx": 1, "vy": 1, "vz": 1}', '"VERSION"'),
    ('{"VERSION": 1.0, "nx": 4,', "malformed JSON"),
    ('[1, 2]', "JSON object"),
])
def test_image_params_json_errors_name_file_and_field(tmp_path, text, field):
    f = tmp_path / "bad.json"
    f.write_text(text)
    with pytest.raises(ValueError) as e:
        yrt.ImageParams(str(f))
    assert str(f) in str(e.value) and field in str(e.value)
    p = yrt.ImageParams(2, 2, 2, 2.0, 2.0, 2.0)
    with pytest.raises(ValueError):
        p.deserialize(str(f))
    assert p == yrt.ImageParams(2, 2, 2, 2.0, 2.0, 2.0)  # unchanged by a failed read


def test_image_params_unsupported_and_io_errors(tmp_path):
    f = tmp_path / "dyn.json"
    f.write_text('{"VERSION": 1.0, "nx": 4, "ny": 4, "nz": 4, "vx": 1, "vy": 1, "vz": 1, "nt": 3}')
    with pytest.raises(NotImplementedError, match='"nt" is 3'):
        yrt.ImageParams(str(f))
    with pytest.raises(NotImplementedError, match="nt=2"):
        yrt.ImageParams(4, 4, 4, 4.0, 4.0, 4.0, nt=2)
    with pytest.raises(OSError, match="missing.json"):
        yrt.ImageParams(str(tmp_path / "missing.json"))
    with pytest.raises(OSError):
        yrt.ImageParams(4, 4, 4, 4.0, 4.0, 4.0).serialize(str(tmp_path / "no" / "dir.json"))
    with pytest.raises(TypeError, match="given twice"):
        yrt.ImageParams(4, 4, 4, 4.0, 4.0, 4.0, off_x=1.0, offset_x=2.0)


def test_image_params_helpers():
    p = yrt.ImageParams(nx=10, ny=20, nz=5, length_x=20.0, length_y=30.0, length_z=10.0)
    assert p.fov_radius == pytest.approx(15.0 - 2.0 / 1000)
    q = yrt.ImageParams.fromParams(10, 20, 5, 2.0, 1.5, 2.0)
    assert q == p
    o = yrt.ImageParams.fromParams(nx=4, ny=4, nz=4, vx=2.0, vy=2.0, vz=2.0, origin_x=-3.0,
                                   origin_y=-3.0, origin_z=-3.0)
    assert (o.off_x, o.off_y, o.off_z) == (0.0, 0.0, 0.0)  # voxel 0 at -3 mm: centred
    shifted = yrt.ImageParams(10, 20, 5, 20.0, 30.0, 10.0, 1.0)
    assert shifted.isSameDimensionsAs(p) and shifted.isSameLengthsAs(p)
    assert not shifted.isSameOffsetAs(p) and not shifted.isSameAs(p)


# ---- images -----------------------------------------------------------------------------------

def test_image_arithmetic(params):
    a, b = image(params, 2.0), image(params, 1.0)
    a.addFirstImageToSecond(b)
    assert np.all(np.asarray(b) == 3.0) and np.all(np.asarray(a) == 2.0)
    assert a.dotProduct(b) == pytest.approx(6.0 * 60) and a.voxelSum() == pytest.approx(120.0)
    a.multWithScalar(scalar=0.5)
    assert np.all(np.asarray(a) == 1.0)
    mask = yrt.ImageAlias(params)
    ramp = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    mask.bind(ramp)
    a.applyThreshold(mask, 10.0, 0.0, 5.0, 2.0, 1.0)
    flat = np.asarray(a).ravel()
    assert np.all(flat[:11] == 5.0) and np.all(flat[11:] == 3.0)
    upd, sens = image(params, 4.0), yrt.ImageAlias(params)
    s = np.full((3, 4, 5), 2.0, np.float32)
    s[0] = 0.0
    sens.bind(s)
    x = image(params, 1.0)
    x.updateEMThresholdStatic(upd, sens, 1e-3)
    assert np.all(np.asarray(x)[0] == 1.0) and np.all(np.asarray(x)[1:] == 2.0)
    assert a.getRadius() == pytest.approx(params.fov_radius)
    a.fill(7)
    assert np.all(np.asarray(a) == 7.0)


def test_image_arithmetic_errors(params):
    a = image(params, 1.0)
    other = image(yrt.ImageParams(5, 4, 2, 10.0, 8.0, 6.0), 1.0)
    for call in (lambda: a.dotProduct(other), lambda: a.addFirstImageToSecond(other),
                 lambda: a.applyThreshold(other, 0, 1, 0, 1, 0)):
        with pytest.raises(ValueError, match="5x4x2 voxels"):
            call()
    with pytest.raises(RuntimeError, match="before allocate"):
        yrt.ImageOwned(params).multWithScalar(2.0)
    with pytest.raises(TypeError):
        a.dotProduct(np.ones((3, 4, 5), np.float32))


@requires_nifti
def test_image_read_from_file(tmp_path, params):
    a = image(params)
    np.asarray(a)[:] = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    a.writeToFile(str(tmp_path / "a.nii.gz"))
    b = yrt.ImageOwned(params)  # not allocated: readFromFile allocates
    b.readFromFile(str(tmp_path / "a.nii.gz"))
    np.testing.assert_array_equal(np.asarray(b), np.asarray(a))
    c = yrt.ImageOwned(yrt.ImageParams(5, 4, 2, 10.0, 8.0, 6.0))
    with pytest.raises(ValueError):
        c.readFromFile(str(tmp_path / "a.nii.gz"))


# ---- scanner and histogram ------------------------------------------------------------------

@requires_fixtures
@pytest.mark.parametrize("name", ["small", "clinical"])
def test_scanner_lut_matches_yrtpet(name):
    s = yrt.Scanner(os.path.join(FIXTURES, name, "scanner.json"))
    lut = np.fromfile(os.path.join(FIXTURES, name, "scanner.lut"), np.float32).reshape(-1, 6)
    created = s.createLUT()
    assert created.shape == (s.getExpectedNumDets(), 6) and created.dtype == np.float32
    np.testing.assert_allclose(created, lut, atol=1e-3)
    for d in (0, 1, s.getNumDets() // 2, s.getNumDets() - 1):
        pos, orient = s.getDetectorPos(d), s.getDetectorOrient(det_id=d)
        np.testing.assert_allclose((pos.x, pos.y, pos.z), lut[d, :3], atol=1e-3)
        np.testing.assert_allclose(tuple(orient), lut[d, 3:], atol=1e-5)
    assert not s.hasMask() and s.isDetectorAllowed(0) and s.isValid()
    with pytest.raises(ValueError, match="outside"):
        s.getDetectorPos(s.getNumDets())


@requires_fixtures
@pytest.mark.parametrize("name", ["small", "clinical"])
def test_histogram_bins_and_detector_pairs_match_yrtpet(name):
    s = yrt.Scanner(os.path.join(FIXTURES, name, "scanner.json"))
    h = yrt.Histogram3DAlias(s)
    nz, nphi, nr = h.getShape()
    assert h.histoSize == nz * nphi * nr and not h.isMemoryValid()
    rp = np.fromfile(os.path.join(FIXTURES, name, "ring_pairs.i32"), np.int32).reshape(nphi, nr, 2)
    inv = np.fromfile(os.path.join(FIXTURES, name, "invalid_phi_r.u8"), np.uint8).reshape(nphi, nr)
    zr = np.fromfile(os.path.join(FIXTURES, name, "zbin_rings.i32"), np.int32).reshape(nz, 2)
    n = s.detsPerRing
    for z in range(nz):
        assert h.getZ1Z2(z) == tuple(zr[z])
    rng = np.random.default_rng(1)
    # every (phi, r) of a few z-bins (first, last, a swapped one) plus random bins
    coords = [(r, phi, z) for z in (0, nz - 1, nz // 2 + 1) for phi in range(0, nphi, 7)
              for r in range(nr)]
    coords += [tuple(int(v) for v in (rng.integers(nr), rng.integers(nphi), rng.integers(nz)))
               for _ in range(2000)]
    for r, phi, z in coords:
        d1, d2 = h.getDetPairFromCoords(r, phi, z)
        assert (d1, d2) == (rp[phi, r, 0] + zr[z, 0] * n, rp[phi, r, 1] + zr[z, 1] * n)
        b = h.getBinIdFromCoords(r=r, phi=phi, z_bin=z)
        assert b == (z * nphi + phi) * nr + r
        assert h.getCoordsFromBinId(b) == (r, phi, z)
        assert h.getDetPairFromBinId(b) == (d1, d2)
        if not inv[phi, r]:
            assert h.getBinIdFromDetPair(d1, d2) == b == h.getBinIdFromDetPair(d2, d1)
            assert h.getCoordsFromDetPair(d1=d1, d2=d2) == (r, phi, z)


def test_histogram_helper_errors_and_values(scanner):
    h = yrt.Histogram3DOwned(scanner)
    nz, nphi, nr = h.getShape()
    for call in (lambda: h.getDetPairFromCoords(nr, 0, 0), lambda: h.getDetPairFromCoords(0, 0, -1),
                 lambda: h.getDetPairFromBinId(h.histoSize), lambda: h.getZ1Z2(nz),
                 lambda: h.getBinIdFromCoords(0, nphi, 0)):
        with pytest.raises(ValueError, match="outside"):
            call()
    with pytest.raises(ValueError, match="share in-ring index"):
        h.getBinIdFromDetPair(0, scanner.detsPerRing)  # same in-ring index
    with pytest.raises(ValueError):
        h.getBinIdFromDetPair(0, scanner.getNumDets())
    with pytest.raises(RuntimeError):
        h.getProjectionValue(0)
    h.allocate()
    assert h.isMemoryValid()
    h.setProjectionValue(5, 2.5)
    h.incrementProjection(bin_id=5, inc_val=1.0)
    assert h.getProjectionValue(5) == 3.5 and np.asarray(h).ravel()[5] == 3.5


# ---- module helpers -------------------------------------------------------------------------

def test_projection_helpers_match_the_operators(problem):
    sc = problem.scanner
    img = yrt.ImageAlias(GRID)
    x = phantom()
    img.bind(x)
    h1, h2 = yrt.Histogram3DOwned(sc), yrt.Histogram3DOwned(sc)
    h1.allocate()
    h2.allocate()
    yrt.forwProject(sc, img, h1, projector_type=yrt.OperatorProjector.DD)
    pp = yrt.ProjectorParams(sc)
    pp.setProjector("DD")
    yrt.OperatorProjectorDD(pp).applyA(img, h2)
    np.testing.assert_array_equal(np.asarray(h1), np.asarray(h2))
    assert isinstance(yrt.createOperatorProjector(pp, h1.getBinIter(1, 0)), yrt.OperatorProjectorDD)
    yrt.forwProject(sc, img, h1)  # Siddon by default
    op = yrt.createOperatorProjector(proj_params=yrt.ProjectorParams(sc), bin_iter=None)
    assert isinstance(op, yrt.OperatorProjectorSiddon)
    op.applyA(img, h2)
    np.testing.assert_array_equal(np.asarray(h1), np.asarray(h2))
    # the params form on one subset, and the adjoint: <A x, y> = <x, A^T y>
    it = h1.getBinIter(num_subsets=2, idx_subset=1)
    y = yrt.Histogram3DOwned(sc)
    y.allocate()
    y.clearProjections(1.0)
    back = image(GRID, 0.0)
    yrt.backProject(back, y, pp, it)
    fwd = yrt.Histogram3DOwned(sc)
    fwd.allocate()
    yrt.forwProject(img, fwd, pp, it)
    assert float(np.asarray(fwd).sum()) == pytest.approx(float((np.asarray(back) * x).sum()),
                                                         rel=1e-4)
    with pytest.raises(NotImplementedError, match="use_gpu=True"):
        yrt.forwProject(sc, img, h1, use_gpu=True)
    with pytest.raises(NotImplementedError, match="constraints"):
        yrt.createOperatorProjector(pp, None, [object()])


def test_histogram_list_mode_conversions(scanner):
    h = yrt.Histogram3DOwned(scanner)
    h.allocate()
    counts = np.zeros(h.histoSize, np.float32)
    bins = [10, 500, 12345, h.histoSize - 3]
    counts[bins] = [3, 1, 2, 4]
    np.asarray(h).ravel()[:] = counts
    lm = yrt.ListModeLUTOwned(scanner)
    yrt.histogram3DToListModeLUT(h, lm)
    assert lm.count() == 10
    pairs = {h.getDetPairFromBinId(b) for b in bins}
    got = set(zip(lm.getDetector1Array().tolist(), lm.getDetector2Array().tolist()))
    assert got == pairs and np.all(lm.getTimestampArray() == 0)
    back = yrt.convertToHistogram3D(lm)
    np.testing.assert_array_equal(np.asarray(back).ravel(), counts)
    again = yrt.Histogram3DOwned(scanner)
    again.allocate()
    yrt.convertToHistogram3D(lm, again)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(back))
    yrt.histogram3DToListModeLUT(h, lm, num_events=20)
    assert lm.count() == 20
    with pytest.raises(ValueError, match="ListModeLUTOwned"):
        yrt.histogram3DToListModeLUT(h, yrt.ListModeLUTAlias(scanner))


@pytest.mark.parametrize("name, feature", [
    ("LORMotion", "motion correction"), ("DynamicFraming", "dynamic-framing"),
    ("RangeList", "intermediate iterations"), ("ListModeLUTDOIOwned", "DOI list-mode"),
    ("SparseHistogram", "sparse histograms"), ("ScatterEstimator", "scatter estimation"),
    ("PluginRegistry", "plugins"), ("OperatorPsf", "PSF"), ("SRTM", "kinetic"),
])
def test_names_without_a_petrel_feature_raise_not_implemented(name, feature):
    f = getattr(yrt, name)
    assert f.__name__ == name and "NotImplementedError" in f.__doc__
    with pytest.raises(NotImplementedError, match=f"{name}: petrel has no .*{feature}"):
        f(1, 2, keyword=3)


# ---- OSEM -------------------------------------------------------------------------------------

def test_create_osem_keywords_and_defaults(problem):
    o = yrt.createOSEM(problem.scanner, use_gpu=False)
    assert isinstance(o, yrt.OSEM) and not o.useGPU
    assert (o.num_MLEM_iterations, o.num_OSEM_subsets, o.hardThreshold) == (10, 1, 1.0)
    assert (o.initialValue, o.initialEstimate, o.getImageParams(), o.getDataInput()) == \
        (0.125, None, None, None)
    assert yrt.createOSEM(scanner=problem.scanner).num_OSEM_subsets == 1
    with pytest.raises(NotImplementedError, match="low-rank"):
        yrt.createOSEM(problem.scanner, is_low_rank=True)
    o.setNumRays(3)
    assert o.getNumRays() == 3 and o.numRays == 3 and o.projectorType == "MRS"
    o.projectorType = yrt.OperatorProjector.DD
    assert o.projector == "DD" and o.getProjectorParams().projector == "DD"
    o.addTOF(tof_width_ps=500.0, tof_num_std=3)
    assert (o.tofWidth_ps, o.tofNumStd) == (500.0, 3.0)
    o.addUniformGaussianImagePSFFromFWHM(3.0, 3.0, 3.0)
    assert o.psfFWHM == 3.0
    with pytest.raises(NotImplementedError, match="isotropic"):
        o.addUniformGaussianImagePSFFromFWHM(3.0, 3.0, 4.0)
    for bad in (-1, 0):
        with pytest.raises(ValueError):
            o.initialValue = bad
    o.setListModeEnabled(True)
    o.num_OSEM_subsets = 5
    assert o.isListModeEnabled() and o.getExpectedSensImagesAmount() == 1
    o.setDataInput(problem.his)
    assert not o.isListModeEnabled() and o.getExpectedSensImagesAmount() == 5
    assert o.getDataInput() is problem.his
    o.setImageParams(GRID)
    assert o.getImageParams() == GRID and o.getImageParams() is not GRID  # a copy
    for name in ("addProjPSF", "addImagePSF", "setSaveIterRanges", "setMaskImage", "setHBasis",
                 "getHBasisNumpy", "setUpdateH", "getProjectorUpdaterType"):
        with pytest.raises(NotImplementedError, match=f"{name}: petrel has no"):
            getattr(o, name)("x")
    with pytest.raises(NotImplementedError, match="reconstruction mask"):
        o.maskImage = image(GRID)
    o.maskImage = None
    assert yrt.ImagePSFMode.UNIFORM == 0 and yrt.ImagePSFMode.VARIANT == 1


@pytest.mark.skipif(has_gpu(), reason="checks the error of a machine without a usable GPU")
def test_use_gpu_without_a_gpu_names_the_missing_gpu(problem):
    with pytest.raises(RuntimeError, match=r"createOSEM\(use_gpu=True\): no GPU"):
        yrt.createOSEM(problem.scanner, use_gpu=True)
    o = yrt.createOSEM(problem.scanner)
    with pytest.raises(RuntimeError, match="no GPU"):
        o.useGPU = True


def test_reconstruct_forms(problem, tmp_path):
    o = problem.osem(2, 4)
    with pytest.raises(RuntimeError, match="no image grid"):
        o.reconstruct()
    o.setImageParams(GRID)
    result = o.reconstruct()
    assert isinstance(result, yrt.ImageOwned) and result.getParams() == GRID
    into = image(GRID)
    assert o.reconstruct(into) is into
    np.testing.assert_array_equal(np.asarray(result), np.asarray(into))
    again = o.reconstruct(out_fname=None)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(result))
    other = image(yrt.ImageParams(24, 24, 6, 96.0, 96.0, 12.0, 4.0))
    with pytest.raises(ValueError, match="centred at .* but setImageParams"):
        o.reconstruct(other)
    with pytest.raises(ValueError, match="12x12x6 voxels"):
        o.reconstruct(image(yrt.ImageParams(12, 12, 6, 96.0, 96.0, 12.0)))
    if yrt.HAS_NIFTI:
        path = tmp_path / "recon.nii.gz"
        written = o.reconstruct(str(path))
        np.testing.assert_allclose(np.asarray(yrt.ImageOwned(str(path))), np.asarray(written))


def test_initial_value_and_estimate(problem):
    def recon(value=None, estimate=None, add=True):
        o = problem.osem(1, 1)
        o.setImageParams(GRID)
        if not add:
            o.setAdditiveCorrection(None)
        if value is not None:
            o.initialValue = value
        if estimate is not None:
            o.initialEstimate = estimate
        return np.asarray(o.reconstruct()).copy()
    # MLEM without an additive term is scale invariant; with one it is not
    np.testing.assert_allclose(recon(0.125, add=False), recon(1.0, add=False), rtol=1e-4,
                               atol=1e-6)
    assert not np.allclose(recon(0.125), recon(1.0), rtol=1e-3)
    np.testing.assert_allclose(recon(estimate=image(GRID, 0.125)), recon(0.125), rtol=1e-6)
    o = problem.osem(1, 1)
    est = image(GRID, 2.0)
    o.initialEstimate = est
    assert o.initialEstimate is est
    o.initialEstimate = None
    assert o.initialEstimate is None


def test_yrtpet_corrections_equal_per_bin_arrays(problem):
    sc = problem.scanner
    n = problem.his.histoSize
    rng = np.random.default_rng(3)
    norm, acf = (rng.uniform(0.5, 1.5, n).astype(np.float32) for _ in range(2))
    randoms, scatter = (np.full(n, v * float(np.asarray(problem.his).mean()), np.float32)
                        for v in (0.01, 0.02))

    def his_of(a):
        h = yrt.Histogram3DAlias(sc)
        h.bind(a.reshape(h.getShape()))
        return h

    def run(configure):
        o = problem.osem(2, 2)
        o.setMultiplicativeCorrection(None)
        o.setAdditiveCorrection(None)
        o.setImageParams(GRID)
        configure(o)
        return np.asarray(o.reconstruct()).copy()

    ref = run(lambda o: (o.setMultiplicativeCorrection(norm * acf * 2.0),
                         o.setAdditiveCorrection(randoms + scatter)))
    yrt_style = run(lambda o: (o.setSensitivityHistogram(his_of(norm)), o.setACFHistogram(his_of(acf)),
                               o.setGlobalScalingFactor(2.0), o.setRandomsHistogram(his_of(randoms)),
                               o.setScatterHistogram(his_of(scatter))))
    np.testing.assert_allclose(yrt_style, ref, rtol=1e-5, atol=1e-6 * float(ref.max()))
    inverted = run(lambda o: (o.setSensitivityHistogram(his_of((1.0 / norm).astype(np.float32))),
                              o.setInvertSensitivity(), o.setACFHistogram(his_of(acf)),
                              o.setGlobalScalingFactor(global_scale=2.0),
                              o.setRandomsHistogram(his_of(randoms + scatter))))
    np.testing.assert_allclose(inverted, ref, rtol=1e-3, atol=1e-4 * float(ref.max()))
    # a mu-map: m = exp(-A mu) with the Siddon projector
    mu = image(GRID, 0.0)
    np.asarray(mu)[:, 6:18, 6:18] = 0.0096
    proj = yrt.Histogram3DOwned(sc)
    proj.allocate()
    yrt.forwProject(sc, mu, proj)
    att = np.exp(-np.asarray(proj).ravel()).astype(np.float32)
    np.testing.assert_allclose(run(lambda o: o.setAttenuationImage(mu)),
                               run(lambda o: o.setMultiplicativeCorrection(att)), rtol=1e-5,
                               atol=1e-6 * float(ref.max()))
    o = problem.osem(1, 1)
    with pytest.raises(TypeError, match="Histogram3D"):
        o.setACFHistogram(acf)
    other = yrt.Histogram3DOwned(small_scanner())
    with pytest.raises(ValueError, match="another Scanner"):
        o.setRandomsHistogram(other)
    o.setImageParams(GRID)
    o.setScatterHistogram(yrt.Histogram3DOwned(sc))  # never allocated
    with pytest.raises(RuntimeError, match="setScatterHistogram"):
        o.reconstruct()
    o.setScatterHistogram(None)
    o.setSensitivityHistogram(his_of(norm))
    assert o.getSensitivityHistogram() is not None
    sens_yrt = o.generateSensitivityImages()
    p = problem.osem(1, 1)
    p.setMultiplicativeCorrection(problem.mult * norm)
    p.setImageParams(GRID)
    np.testing.assert_allclose(np.asarray(sens_yrt[0]), np.asarray(p.generateSensitivityImages()[0]),
                               rtol=1e-5)


def test_sensitivity_per_subset_and_files(problem, tmp_path):
    o = problem.osem(2, 3)
    o.setImageParams(GRID)
    o.hardThreshold = 0.0
    sens = o.generateSensitivityImages()
    ref = np.asarray(o.reconstruct()).copy()
    o.setSensitivityImages(None)
    for k in (2, 0):
        o.setSensitivityImage(sens[k], subset=k)
    with pytest.raises(RuntimeError, match="subset 1 is not set"):
        o.reconstruct()
    o.setSensitivityImage(sens_image=sens[1], subset=1)
    assert [s is t for s, t in zip(o.getSensitivityImages(), sens)] == [True] * 3
    np.testing.assert_array_equal(np.asarray(o.reconstruct()), ref)
    with pytest.raises(ValueError, match="subset 3 does not exist"):
        o.setSensitivityImage(sens[0], subset=3)
    # hardThreshold: generated sensitivity voxels at or below it are 0
    high = float(np.percentile(np.asarray(sens[0]), 50))
    o.hardThreshold = high
    cut = o.generateSensitivityImages()
    a, c = np.asarray(sens[0]), np.asarray(cut[0])
    assert np.all(c[a <= high] == 0) and np.array_equal(c[a > high], a[a > high])
    assert o.generateSensitivityImages(saveToMemory=False) == []
    if yrt.HAS_NIFTI:
        o.hardThreshold = 0.0
        o.generateSensitivityImages(out_fname=str(tmp_path / "sens.nii.gz"))
        for k in range(3):
            f = tmp_path / f"sens_subset{k}.nii.gz"
            np.testing.assert_allclose(np.asarray(yrt.ImageOwned(str(f))), np.asarray(sens[k]),
                                       rtol=1e-6)
        one = problem.osem(1, 1)
        one.setImageParams(GRID)
        one.generateSensitivityImages(str(tmp_path / "single.nii"))
        assert (tmp_path / "single.nii").exists()


# ---- the YRT-PET-style example ------------------------------------------------------------

@requires_nifti
def test_yrtpet_style_example_runs_verbatim(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(yrt.__file__)] + env.get("PYTHONPATH", "").split(os.pathsep))
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES_DIR, "yrtpet_style_recon.py"),
                        str(tmp_path / "out")], env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    out = tmp_path / "out"
    params = yrt.ImageParams(str(out / "img_params.json"))
    assert (params.nx, params.ny, params.nz, params.vx) == (24, 24, 6, 4.0)
    recon = np.asarray(yrt.ImageOwned(params, str(out / "recon.nii")))
    truth = np.asarray(yrt.ImageOwned(params, str(out / "phantom.nii")))
    assert np.linalg.norm(recon - truth) / np.linalg.norm(truth) < 0.35
    hot = (slice(None), slice(8, 12), slice(14, 18))
    assert recon[hot].mean() > 2.0 * recon[truth == 1].mean()  # the rod is resolved
    assert sorted(p.name for p in out.glob("sens_subset*.nii")) == [
        f"sens_subset{k}.nii" for k in range(4)]
    scanner = yrt.Scanner(str(out / "scanner.json"))
    his = yrt.Histogram3DOwned(scanner, str(out / "prompts.his"))
    assert float(np.asarray(his).sum()) > 1e5
    assert "Relative error after 4 iterations" in r.stdout
