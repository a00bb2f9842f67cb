"""TOF histograms from Python: the TOF bins readable and settable on Histogram3DOwned/Alias
(buffer (numZBin, numPhi, numR, numTOFBins), TOF fastest), per-bin access, errors, and OSEM
on a TOF histogram: one TOF bin wider than every LOR is the plain histogram's model."""
import numpy as np
import pytest

import petrel

GRID = petrel.ImageParams(16, 16, 2, 64.0, 64.0, 8.0)


def scanner():
    return petrel.Scanner(scanner_name="TOFPY", axial_fov=8, crystal_size_z=4.0,
                          crystal_size_trans=4.0, crystal_depth=10.0, scanner_radius=50,
                          dets_per_ring=48, num_rings=2, num_doi=1, max_ring_diff=1,
                          min_ang_diff=4, dets_per_block=8)


def test_tof_bins_readable_and_settable():
    s = scanner()
    h = petrel.Histogram3DOwned(s, num_tof_bins=5, tof_bin_width_ps=120.0)
    assert (h.numTOFBins, h.tofBinWidth_ps) == (5, 120.0)
    h.allocate()
    a = np.asarray(h)
    assert a.shape == (h.numZBin, h.numPhi, h.numR, 5) and a.dtype == np.float32
    assert h.getShape() == (h.numZBin, h.numPhi, h.numR)
    h.setProjectionValue(7, 2.5, tof_bin=3)
    h.incrementProjection(7, 1.0, tof_bin=3)
    assert h.getProjectionValue(7, tof_bin=3) == 3.5
    # TOF is the fastest axis: bin 7, TOF bin 3 is element 7 * 5 + 3
    assert a.reshape(-1)[7 * 5 + 3] == 3.5 and a.sum() == 3.5
    with pytest.raises(ValueError, match="tof_bin 5"):
        h.getProjectionValue(7, tof_bin=5)
    with pytest.raises(RuntimeError, match="before allocate"):
        h.setTOFBins(3, 100.0)
    with pytest.raises(NotImplementedError, match="TOF bins"):
        h.writeToFile("/tmp/never-written.his")

    plain = petrel.Histogram3DOwned(s)
    assert (plain.numTOFBins, plain.tofBinWidth_ps) == (0, 0.0)
    plain.setTOFBins(4, 80.0)
    assert plain.numTOFBins == 4
    for bad in [(-1, 100.0), (65, 100.0), (4, 0.0), (4, -5.0)]:
        with pytest.raises(ValueError, match="numTOFBins|tofBinWidth_ps"):
            petrel.Histogram3DOwned(s, num_tof_bins=bad[0], tof_bin_width_ps=bad[1])

    al = petrel.Histogram3DAlias(s, num_tof_bins=4, tof_bin_width_ps=80.0)
    with pytest.raises(ValueError, match="numTOFBins"):
        al.bind(np.zeros((h.numZBin, h.numPhi, h.numR), np.float32))
    arr = np.zeros((h.numZBin, h.numPhi, h.numR, 4), np.float32)
    al.bind(arr)
    arr[0, 1, 2, 3] = 9.0
    b = (0 * h.numPhi + 1) * h.numR + 2
    assert al.getProjectionValue(b, tof_bin=3) == 9.0


def test_one_wide_tof_bin_reconstructs_as_the_plain_histogram():
    s = scanner()
    z, y, x = np.meshgrid(np.arange(GRID.nz), np.arange(GRID.ny), np.arange(GRID.nx), indexing="ij")
    truth = np.where((x - 7.5) ** 2 + (y - 6.5) ** 2 < 20, 2.0, 0.5).astype(np.float32)
    img = petrel.ImageAlias(GRID)
    img.bind(truth)
    plain = petrel.Histogram3DOwned(s)
    plain.allocate()
    petrel.OperatorProjectorSiddon(petrel.ProjectorParams(s)).applyA(img, plain)
    # one TOF bin of 5000 ps (750 mm) holds every LOR of this 50 mm ring and the kernel's reach
    tofh = petrel.Histogram3DOwned(s, num_tof_bins=1, tof_bin_width_ps=5000.0)
    tofh.allocate()
    np.asarray(tofh)[..., 0] = np.asarray(plain)

    def run(data, tof):
        o = petrel.OSEM(s)
        o.num_MLEM_iterations = 3
        o.num_OSEM_subsets = 2
        o.initialValue = 1.0
        o.setImageParams(GRID)
        if tof:
            o.addTOF(300.0, 3)
        o.setDataInput(data)
        return np.asarray(o.reconstruct())

    a, b = run(plain, False), run(tofh, True)
    assert np.linalg.norm(a - b) / np.linalg.norm(a) < 1e-5
    # without a TOF resolution the TOF histogram cannot be projected: the error says so
    o = petrel.OSEM(s)
    o.setImageParams(GRID)
    o.setDataInput(tofh)
    with pytest.raises(ValueError, match="tof_fwhm_ps"):
        o.reconstruct()
