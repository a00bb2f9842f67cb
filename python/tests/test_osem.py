"""OSEM from Python: same result as `petrel recon` on a simulated problem, convergence,
sensitivity images, corrections, errors, the GIL; the GPU run against the CPU run."""
import json
import os
import subprocess

import numpy as np
import pytest

import petrel
from conftest import has_gpu, requires_nifti, requires_no_cuda
from test_gil_and_leaks import runs_during

GRID = petrel.ImageParams(24, 24, 6, 96.0, 96.0, 12.0)


def small_scanner():
    """64 detectors per ring, 6 rings of 2 mm: ~14 k histogram bins."""
    return petrel.Scanner(scanner_name="SMALL", axial_fov=12, crystal_size_z=2.0,
                          crystal_size_trans=4.0, crystal_depth=10.0, scanner_radius=80,
                          dets_per_ring=64, num_rings=6, num_doi=1, max_ring_diff=5,
                          min_ang_diff=8, dets_per_block=8)


def phantom():
    z, y, x = np.meshgrid(np.arange(GRID.nz), np.arange(GRID.ny), np.arange(GRID.nx),
                          indexing="ij")
    cx = (x + 0.5) * GRID.vx - GRID.length_x / 2
    cy = (y + 0.5) * GRID.vy - GRID.length_y / 2
    a = np.where(cx**2 + cy**2 < 35.0**2, 1.0, 0.0)
    a += np.where((cx - 12) ** 2 + (cy + 8) ** 2 < 10.0**2, 3.0, 0.0)
    a[0] *= 0.5
    return a.astype(np.float32)


class Problem:
    """y = m A x + a for a phantom x (DD projector), with known per-bin m and a."""

    def __init__(self, scanner):
        self.scanner = scanner
        self.x = phantom()
        img = petrel.ImageAlias(GRID)
        img.bind(self.x)
        pp = petrel.ProjectorParams(scanner)
        pp.setProjector("DD")
        self.his = petrel.Histogram3DOwned(scanner)
        self.his.allocate()
        petrel.OperatorProjectorDD(pp).applyA(img, self.his)
        y = np.asarray(self.his)
        rng = np.random.default_rng(7)
        self.mult = rng.uniform(0.5, 1.5, y.size).astype(np.float32)
        self.add = np.full(y.size, 0.02 * float(y.mean()), np.float32)
        y *= self.mult.reshape(y.shape)
        y += self.add.reshape(y.shape)

    def osem(self, iterations=3, subsets=4):
        o = petrel.OSEM(self.scanner)
        o.setProjector("DD")
        o.num_MLEM_iterations = iterations
        o.num_OSEM_subsets = subsets
        o.numThreads = 1
        o.initialValue = 1.0  # petrel recon starts from 1 (YRT-PET's default is 0.125)
        o.setDataInput(self.his)
        o.setMultiplicativeCorrection(self.mult)
        o.setAdditiveCorrection(self.add)
        return o


@pytest.fixture(scope="module")
def problem():
    return Problem(small_scanner())


def new_image(value=None):
    img = petrel.ImageOwned(GRID)
    img.allocate()
    if value is not None:
        img.setValue(value)
    return img


def rel_error(img, x):
    return float(np.linalg.norm(np.asarray(img) - x) / np.linalg.norm(x))


def petrel_exe():
    exe = os.environ.get("PETREL_EXE")
    if exe:
        return exe
    # <build>/python/petrel*.so -> <build>/petrel
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(petrel.__file__))), "petrel")


def test_osem_attributes_and_setters(problem):
    o = petrel.createOSEM(problem.scanner)
    assert isinstance(o, petrel.OSEM) and not o.useGPU
    # YRT-PET's defaults
    assert (o.num_MLEM_iterations, o.num_OSEM_subsets, o.projector, o.psfFWHM) == (10, 1, "S", 0.0)
    assert (o.hardThreshold, o.initialValue, o.initialEstimate, o.maskImage) == (1.0, 0.125, None, None)
    o.setNumIterations(5)
    o.setNumSubsets(6)
    assert (o.num_MLEM_iterations, o.num_OSEM_subsets) == (5, 6)
    o.setProjector("MRS")
    assert o.projector == "MRS" and o.numRays == 4
    o.projector = "DD"
    assert o.projector == "DD"
    o.psfFWHM = 3.5
    assert o.psfFWHM == 3.5
    if has_gpu():
        o.useGPU = True
        assert o.useGPU and petrel.createOSEM(problem.scanner, use_gpu=True).useGPU
        assert petrel.createOSEM(problem.scanner, useGPU=True).useGPU  # the older keyword
        o.useGPU = False
    assert o.dataInput is None and o.scanner is problem.scanner
    o.setDataInput(problem.his)
    assert o.dataInput is problem.his
    for bad in (0, -1):
        with pytest.raises(ValueError, match=">= 1"):
            o.num_MLEM_iterations = bad
        with pytest.raises(ValueError, match=">= 1"):
            o.setNumSubsets(bad)
    with pytest.raises(ValueError, match="psfFWHM must be finite and >= 0, got -1"):
        o.psfFWHM = -1
    with pytest.raises(ValueError):
        o.setProjector("nope")
    with pytest.raises(TypeError):
        o.setDataInput(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="another Scanner"):
        o.setDataInput(petrel.Histogram3DOwned(small_scanner()))
    pp = petrel.ProjectorParams(problem.scanner)
    pp.setProjector("S")
    o.setProjectorParams(pp)
    assert o.projector == "S"
    assert "OSEM" in repr(o)


@requires_nifti
def test_osem_equals_petrel_recon(problem, tmp_path):
    """The same data, corrections and options through `petrel recon` and through OSEM."""
    exe = petrel_exe()
    if not os.path.exists(exe):
        pytest.skip(f"petrel executable not found at {exe} (set PETREL_EXE)")
    problem.scanner.writeToJSON(str(tmp_path / "scanner.json"))
    problem.his.writeToFile(str(tmp_path / "prompts.his"))
    for name, values in (("norm", problem.mult), ("randoms", problem.add)):
        h = petrel.Histogram3DAlias(problem.scanner)
        h.bind(values.reshape(np.asarray(problem.his).shape).copy())
        h.writeToFile(str(tmp_path / f"{name}.his"))
    cfg = {
        "scanner": "scanner.json", "data": "prompts.his", "data_format": "yrt-histogram",
        "normalisation": "norm.his", "randoms": "randoms.his", "output": "cli.nii",
        "iterations": 3, "subsets": 4, "projector": "DD", "threads": 1, "quiet": True,
        "image": {"nx": GRID.nx, "ny": GRID.ny, "nz": GRID.nz, "length_x": GRID.length_x,
                  "length_y": GRID.length_y, "length_z": GRID.length_z},
    }
    (tmp_path / "recon.json").write_text(json.dumps(cfg))
    r = subprocess.run([exe, "recon", "--config", "recon.json"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    cli = np.asarray(petrel.ImageOwned(str(tmp_path / "cli.nii")))

    out = new_image()
    assert problem.osem(3, 4).reconstruct(out) is out
    np.testing.assert_allclose(np.asarray(out), cli, rtol=1e-5, atol=1e-5 * float(cli.max()))


def test_osem_converges_to_the_phantom(problem):
    x = problem.x
    errors = [rel_error(new_image(1.0), x)]
    for iterations in (1, 3, 10):
        out = new_image()
        problem.osem(iterations, 4).reconstruct(out)
        a = np.asarray(out)
        assert np.all(np.isfinite(a)) and a.min() >= 0
        errors.append(rel_error(out, x))
    assert errors == sorted(errors, reverse=True), errors
    assert errors[-1] < 0.5 * errors[1], errors


def test_initial_estimate_continues_a_run(problem):
    """3 iterations = 1 iteration, then 2 more from its result."""
    full = new_image()
    problem.osem(3, 4).reconstruct(full)
    first = new_image()
    problem.osem(1, 4).reconstruct(first)
    o = problem.osem(2, 4)
    o.setInitialEstimate(first)
    rest = new_image()
    o.reconstruct(rest)
    np.testing.assert_allclose(np.asarray(rest), np.asarray(full), rtol=1e-5,
                               atol=1e-6 * float(np.asarray(full).max()))
    o.setInitialEstimate(None)
    again = new_image()
    o.reconstruct(again)
    assert not np.allclose(np.asarray(again), np.asarray(rest))


def test_sensitivity_images(problem):
    o = problem.osem(2, 4)
    with pytest.raises(RuntimeError, match="no image grid"):
        o.generateSensitivityImages()
    o.setImageParams(GRID)
    assert o.imageParams == GRID
    sens = o.generateSensitivityImages()
    assert len(sens) == 4 and all(isinstance(s, petrel.ImageOwned) for s in sens)
    assert all(np.asarray(s).max() > 0 for s in sens)
    assert len(o.getSensitivityImages()) == 4
    given = new_image()
    o.reconstruct(given)
    computed = new_image()
    problem.osem(2, 4).reconstruct(computed)
    np.testing.assert_allclose(np.asarray(given), np.asarray(computed), rtol=1e-5,
                               atol=1e-6 * float(np.asarray(computed).max()))
    # the sensitivity scales with m: no multiplicative correction, other images
    o2 = problem.osem(2, 4)
    o2.setMultiplicativeCorrection(None)
    other = o2.generateSensitivityImages(GRID)
    assert not np.allclose(np.asarray(other[0]), np.asarray(sens[0]))
    # one full sensitivity: each subset uses 1/S of it (as petrel recon does)
    total = new_image()
    np.asarray(total)[:] = sum(np.asarray(s) for s in sens)
    o.setSensitivityImage(total)
    approx = new_image()
    o.reconstruct(approx)
    assert rel_error(approx, np.asarray(computed)) < 0.2
    # another subset count: the per-subset images no longer fit
    o.setSensitivityImages(sens)
    o.num_OSEM_subsets = 2
    with pytest.raises(ValueError, match="4 sensitivity image"):
        o.reconstruct(new_image())
    o.setSensitivityImages(None)
    o.reconstruct(new_image())
    bad = petrel.ImageOwned(petrel.ImageParams(8, 8, 2, 96.0, 96.0, 12.0))
    bad.allocate()
    bad.setValue(1)
    with pytest.raises(ValueError, match="8x8x2 voxels .* the ImageParams of setImageParams are "
                                         "24x24x6"):
        o.setSensitivityImage(bad)  # refused at once (YRT-PET checks the grid here too)
    with pytest.raises(TypeError):
        o.setSensitivityImage(np.ones(3, np.float32))


def test_corrections_are_aliased_and_held(problem):
    shape = np.asarray(problem.his).shape
    o = problem.osem(1, 2)
    m = problem.mult.copy()
    o.setMultiplicativeCorrection(m.reshape(shape))  # the histogram's shape works too
    a1 = new_image()
    o.reconstruct(a1)
    m[:] *= 2  # aliased, not copied: the next run sees it
    a2 = new_image()
    o.reconstruct(a2)
    assert not np.allclose(np.asarray(a1), np.asarray(a2))
    del m  # held by the OSEM object
    o.reconstruct(new_image())
    ro = problem.add.copy()
    ro.setflags(write=False)
    o.setAdditiveCorrection(ro)  # read-only arrays are fine: only read
    with pytest.raises(ValueError, match="float32"):
        o.setMultiplicativeCorrection(problem.mult.astype(np.float64))
    with pytest.raises(ValueError, match="shape"):
        o.setAdditiveCorrection(problem.add[:-1])
    with pytest.raises(TypeError):
        o.setAdditiveCorrection([1.0, 2.0])
    neg = problem.add.copy()
    neg[5] = -1
    o.setAdditiveCorrection(neg)
    with pytest.raises(ValueError, match="bin 5 holds -1"):
        o.reconstruct(new_image())
    nan = problem.mult.copy()
    nan[3] = np.nan
    o.setAdditiveCorrection(None)
    o.setMultiplicativeCorrection(nan)
    with pytest.raises(ValueError, match="bin 3 holds nan"):
        o.reconstruct(new_image())


def test_psf_changes_the_result(problem):
    plain = new_image()
    problem.osem(1, 2).reconstruct(plain)
    o = problem.osem(1, 2)
    o.psfFWHM = 6.0
    blurred = new_image()
    o.reconstruct(blurred)
    assert np.all(np.isfinite(np.asarray(blurred)))
    assert not np.allclose(np.asarray(plain), np.asarray(blurred))


def test_listmode_osem_runs(problem):
    rng = np.random.default_rng(3)
    n = 20000
    d1 = rng.integers(0, problem.scanner.getNumDets(), n).astype(np.uint32)
    d2 = ((d1 + 32 + rng.integers(-10, 10, n)) % problem.scanner.getNumDets()).astype(np.uint32)
    lm = petrel.ListModeLUTAlias(problem.scanner)
    lm.bind(np.zeros(n, np.uint32), d1, d2)
    o = petrel.OSEM(problem.scanner)
    o.num_OSEM_subsets = 3
    o.setDataInput(lm)
    out = new_image()
    o.reconstruct(out)
    a = np.asarray(out)
    assert np.all(np.isfinite(a)) and a.max() > 0
    o.setImageParams(GRID)
    assert len(o.generateSensitivityImages()) == 1  # list-mode: one sensitivity image
    again = new_image()
    o.reconstruct(again)  # with the generated sensitivity: the same result
    np.testing.assert_allclose(np.asarray(again), a, rtol=1e-5, atol=1e-6 * float(a.max()))


def test_reconstruct_errors(problem):
    o = petrel.OSEM(problem.scanner)
    with pytest.raises(RuntimeError, match="setDataInput"):
        o.reconstruct(new_image())
    o.setDataInput(problem.his)
    with pytest.raises(TypeError):
        o.reconstruct(np.zeros((6, 24, 24), np.float32))
    with pytest.raises(RuntimeError, match=r"allocate\(\)"):
        o.reconstruct(petrel.ImageOwned(GRID))
    o.num_OSEM_subsets = 100000
    with pytest.raises(ValueError, match="angles"):
        o.reconstruct(new_image())
    o.num_OSEM_subsets = 2
    o.tofWidth_ps = 300
    with pytest.raises(ValueError, match="TOF"):
        o.reconstruct(new_image())
    o.tofWidth_ps = 0
    o.setInitialEstimate(petrel.ImageOwned(GRID))  # never allocated
    with pytest.raises(RuntimeError):
        o.reconstruct(new_image())


@requires_no_cuda
def test_gpu_reconstruct_without_cuda(problem):
    o = problem.osem(1, 2)
    with pytest.raises(RuntimeError, match="no GPU: this petrel build has no CUDA support"):
        o.useGPU = True
    assert not o.useGPU
    for kw in ("use_gpu", "useGPU"):
        with pytest.raises(RuntimeError, match=r"createOSEM\(use_gpu=True\): no GPU: this petrel "
                                               "build has no CUDA support"):
            petrel.createOSEM(problem.scanner, **{kw: True})


@pytest.mark.skipif(not petrel.compiledWithCuda() or petrel.getDeviceCount() > 0,
                    reason="needs a CUDA build on a machine without a GPU")
def test_gpu_reconstruct_without_a_gpu(problem):
    o = problem.osem(1, 2)
    with pytest.raises(RuntimeError, match="no GPU: no CUDA device is visible"):
        o.useGPU = True
    with pytest.raises(RuntimeError, match="no CUDA device is visible"):
        petrel.createOSEM(problem.scanner, use_gpu=True)


def test_reconstruct_releases_the_gil_and_pins_its_inputs(problem):
    o = problem.osem(2, 4)
    o.numThreads = 0
    out = new_image()
    assert runs_during(lambda: o.reconstruct(out), repeats=3) >= 2
    # while it runs, the object refuses changes from other threads
    import threading
    errors = []
    t = threading.Thread(target=lambda: o.reconstruct(out))
    t.start()
    while t.is_alive():
        try:
            o.num_MLEM_iterations = 1
        except RuntimeError as e:
            errors.append(str(e))
            break
    t.join()
    assert errors and "another thread" in errors[0]


@pytest.mark.skipif(not has_gpu(), reason="needs a CUDA build and a visible GPU")
def test_gpu_osem_matches_cpu_osem(problem):
    cpu = new_image()
    problem.osem(3, 4).reconstruct(cpu)
    o = problem.osem(3, 4)
    o.useGPU = True
    gpu = new_image()
    o.reconstruct(gpu)
    np.testing.assert_allclose(np.asarray(gpu), np.asarray(cpu), rtol=2e-3,
                               atol=2e-3 * float(np.asarray(cpu).max()))
    dev = petrel.ImageDeviceOwned(GRID)  # the output may live on the device
    dev.allocate()
    o.reconstruct(dev)
    back = new_image()
    dev.transferToHostMemory(back)
    np.testing.assert_allclose(np.asarray(back), np.asarray(gpu), rtol=1e-5,
                               atol=1e-5 * float(np.asarray(cpu).max()))
    # one loop, one backend table: given sensitivity images are used on the GPU too, and give
    # the image the GPU computes with its own
    o.setImageParams(GRID)
    o.generateSensitivityImages()
    given = new_image()
    o.reconstruct(given)
    np.testing.assert_allclose(np.asarray(given), np.asarray(gpu), rtol=1e-4,
                               atol=1e-4 * float(np.asarray(cpu).max()))
