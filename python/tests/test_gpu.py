"""GPU operators and the device projection list: against the CPU operators, batching, torch
aliasing, DLPack round trips, error paths; NotImplementedError / RuntimeError without CUDA or
a GPU."""
import gc

import numpy as np
import pytest

import petrel
from conftest import has_gpu, requires_gpu, requires_no_cuda
from test_gil_and_leaks import runs_during
from test_osem import GRID, phantom, small_scanner


def torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


requires_torch = pytest.mark.skipif(not has_gpu() or torch_cuda() is None,
                                    reason="needs a GPU and torch with CUDA")

# device bytes per histogram LOR in a ProjectionListDevice: endpoints + normals + value
HISTO_BYTES_PER_LOR = 12 * 4 + 4
LISTMODE_BYTES_PER_LOR = HISTO_BYTES_PER_LOR + 8


@pytest.fixture(scope="module")
def setup():
    s = small_scanner()
    his = petrel.Histogram3DOwned(s)
    his.allocate()
    return s, his


def params(s, name):
    pp = petrel.ProjectorParams(s)
    pp.setProjector(name)
    return pp


def host_image(values=None):
    img = petrel.ImageOwned(GRID)
    img.allocate()
    if values is not None:
        np.asarray(img)[:] = values
    return img


def device_image(values=None):
    dev = petrel.ImageDeviceOwned(GRID)
    dev.allocate()
    if values is not None:
        dev.copyFromHostImage(host_image(values))
    return dev


def to_host(dev):
    out = host_image()
    dev.transferToHostMemory(out)
    return np.asarray(out)


def subset_bins(his, num_subsets, subset):
    return np.fromiter(his.getBinIter(num_subsets, subset), dtype=np.int64)


# ---- without CUDA / without a GPU -------------------------------------------------------------

@requires_no_cuda
@pytest.mark.parametrize("cls", ["OperatorProjectorSiddon_GPU", "OperatorProjectorDD_GPU"])
def test_gpu_operators_raise_not_implemented_without_cuda(setup, cls):
    s, _ = setup
    with pytest.raises(NotImplementedError, match="no CUDA support"):
        getattr(petrel, cls)(params(s, "DD"))


@requires_no_cuda
@pytest.mark.parametrize("cls", ["ProjectionListDeviceOwned", "ProjectionListDeviceAlias"])
def test_projection_lists_raise_not_implemented_without_cuda(setup, cls):
    s, his = setup
    with pytest.raises(NotImplementedError, match="no CUDA support"):
        getattr(petrel, cls)(s, his, ("LOR", "DetOrient"), 0, 1)


@pytest.mark.skipif(not petrel.compiledWithCuda() or petrel.getDeviceCount() > 0,
                    reason="needs a CUDA build on a machine without a GPU")
def test_projection_lists_without_a_gpu_say_so(setup):
    s, his = setup
    op = petrel.OperatorProjectorDD_GPU(params(s, "DD"))  # a parameter object: no GPU needed
    assert op.projector == "DD"
    for cls in (petrel.ProjectionListDeviceOwned, petrel.ProjectionListDeviceAlias):
        with pytest.raises(RuntimeError, match="no CUDA device"):
            cls(s, his, op.getProjectionPropertyTypes(his), 0, 1)


@pytest.mark.skipif(not petrel.compiledWithCuda(), reason="needs a CUDA build")
def test_constructor_arguments_are_checked_first(setup):
    s, his = setup
    with pytest.raises(TypeError):
        petrel.OperatorProjectorDD_GPU(s)
    with pytest.raises(TypeError, match="cannot create"):
        petrel.ProjectionListDevice(s, his)
    cls = petrel.ProjectionListDeviceOwned
    with pytest.raises(TypeError, match="Histogram3D or a ListModeLUT"):
        cls(s, np.zeros(3), ("LOR",), 0, 1)
    with pytest.raises(ValueError, match="another Scanner"):
        cls(small_scanner(), his, ("LOR",), 0, 1)
    with pytest.raises(ValueError, match="unknown projection property 'XYZ'"):
        cls(s, his, ("LOR", "XYZ"), 0, 1)
    with pytest.raises(ValueError, match="memory_budget"):
        cls(s, his, ("LOR",), -5, 1)
    op = petrel.OperatorProjectorSiddon_GPU(params(s, "DD"))
    assert op.projector == "S"  # the class decides the projector, as for the CPU operators
    with pytest.raises(TypeError, match="ProjectionListDevice"):
        op.applyA(host_image(), his)
    with pytest.raises(TypeError, match="petrel image"):
        op.applyAH(his, np.zeros(3))


# ---- on the GPU -----------------------------------------------------------------------------

@requires_gpu
@pytest.mark.parametrize("name", ["S", "DD", "MRS"])
def test_forward_batches_equal_the_cpu_projection(setup, name):
    s, his = setup
    S = 3
    gop = (petrel.OperatorProjectorDD_GPU if name == "DD" else petrel.OperatorProjectorSiddon_GPU)(
        params(s, name))
    cop = petrel.OperatorProjector(params(s, name))
    x = host_image(phantom())
    xdev = device_image(phantom())
    pl = petrel.ProjectionListDeviceOwned(s, his, gop.getProjectionPropertyTypes(his),
                                          HISTO_BYTES_PER_LOR * 1000, S)
    assert pl.getBatchCapacity() == 1000 and pl.getNumSubsets() == S and not pl.hasTOF()
    assert pl.getLoadedBatchSize() == 0
    pl.allocate()
    for sub in range(S):
        cop.setBinIter(his.getBinIter(S, sub))
        his.clearProjections(0)
        cop.applyA(x, his)
        bins = subset_bins(his, S, sub)
        expected = np.asarray(his).ravel()[bins]
        nb = pl.getNumBatches(sub)
        assert nb == -(-len(bins) // 1000)
        got, got_host_img = [], []
        for b in range(nb):
            pl.prepareBatchLORs(sub, b)
            gop.applyA(xdev, pl)
            got.append(pl.getProjValues())
            gop.applyA(x, pl)  # a host image goes through the device
            got_host_img.append(pl.getProjValues())
        got = np.concatenate(got)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * float(expected.max()))
        np.testing.assert_array_equal(np.concatenate(got_host_img), got)


@requires_gpu
@pytest.mark.parametrize("name", ["S", "DD"])
def test_back_projection_equals_the_cpu_one(setup, name):
    s, his = setup
    S = 2
    gop = (petrel.OperatorProjectorDD_GPU if name == "DD" else petrel.OperatorProjectorSiddon_GPU)(
        params(s, name))
    cop = petrel.OperatorProjector(params(s, name))
    rng = np.random.default_rng(2)
    values = rng.random(np.asarray(his).shape, dtype=np.float32)
    np.asarray(his)[:] = values
    pl = petrel.ProjectionListDeviceOwned(s, his, gop.getProjectionPropertyTypes(his),
                                          HISTO_BYTES_PER_LOR * 4096, S)
    pl.allocate()
    for sub in range(S):
        cop.setBinIter(his.getBinIter(S, sub))
        cpu = host_image()
        cop.applyAH(his, cpu)
        bins = subset_bins(his, S, sub)
        dev = device_image(0.0)
        host = host_image(0.0)
        k = 0
        for b in range(pl.getNumBatches(sub)):
            pl.prepareBatchLORs(sub, b)
            n = pl.getLoadedBatchSize()
            pl.setProjValues(values.ravel()[bins[k:k + n]])
            k += n
            gop.applyAH(pl, dev)  # accumulates over the batches
            gop.applyAH(pl, host)  # through a device copy and back
        assert k == len(bins)
        ref = np.asarray(cpu)
        np.testing.assert_allclose(to_host(dev), ref, rtol=1e-4, atol=1e-5 * float(ref.max()))
        np.testing.assert_allclose(np.asarray(host), to_host(dev), rtol=1e-5,
                                   atol=1e-6 * float(ref.max()))


@requires_gpu
def test_listmode_projection_list(setup):
    s, _ = setup
    rng = np.random.default_rng(5)
    n = 5000
    d1 = rng.integers(0, s.getNumDets(), n).astype(np.uint32)
    d2 = ((d1 + 32 + rng.integers(-10, 10, n)) % s.getNumDets()).astype(np.uint32)
    lm = petrel.ListModeLUTOwned(s)
    lm.allocate(n)
    lm.getDetector1Array()[:] = d1
    lm.getDetector2Array()[:] = d2
    gop = petrel.OperatorProjectorDD_GPU(params(s, "DD"))
    cpu = host_image()
    petrel.OperatorProjectorDD(params(s, "DD")).applyAH(lm, cpu)
    pl = petrel.ProjectionListDeviceAlias(s, lm, gop.getProjectionPropertyTypes(lm),
                                          LISTMODE_BYTES_PER_LOR * 2000, 1)
    assert pl.getNumBatches(0) == 3 and pl.getReference() is lm
    dev = device_image(0.0)
    ones = petrel.ProjectionListDeviceOwned(s, lm, None, LISTMODE_BYTES_PER_LOR * 2000, 1)
    ones.allocate()
    for b in range(3):
        pl.prepareBatchLORs(0, b)
        ones.prepareBatchLORs(0, b)
        ones.clearProjections(1.0)
        pl.setProjValuesDevicePointer(ones.getProjValuesDevicePointer())
        gop.applyAH(pl, dev)
    ref = np.asarray(cpu)
    np.testing.assert_allclose(to_host(dev), ref, rtol=1e-4, atol=1e-5 * float(ref.max()))
    with pytest.raises(BufferError):  # the list borrows the events: no reallocation under it
        lm.allocate(10)
    del pl, ones
    gc.collect()
    lm.allocate(10)


@requires_gpu
def test_error_paths(setup):
    s, his = setup
    gop = petrel.OperatorProjectorDD_GPU(params(s, "DD"))
    props = gop.getProjectionPropertyTypes(his)
    owned = petrel.ProjectionListDeviceOwned(s, his, props, HISTO_BYTES_PER_LOR * 1000, 3)
    alias = petrel.ProjectionListDeviceAlias(s, his, props, HISTO_BYTES_PER_LOR * 1000, 3)
    img = device_image(1.0)
    for pl in (owned, alias):
        with pytest.raises(ValueError, match=r"subset 3 outside \[0, 3\)"):
            pl.prepareBatchLORs(3, 0)
        with pytest.raises(ValueError, match="subset -1 outside"):
            pl.prepareBatchLORs(-1, 0)
        nb = pl.getNumBatches(1)
        with pytest.raises(ValueError, match=f"batch {nb} outside"):
            pl.prepareBatchLORs(1, nb)
        with pytest.raises(ValueError, match="batch -1 outside"):
            pl.prepareBatchLORs(1, -1)
        with pytest.raises(ValueError, match="subset 7 outside"):
            pl.getNumBatches(7)
        with pytest.raises(RuntimeError, match="no batch is loaded"):
            gop.applyA(img, pl)
        with pytest.raises(RuntimeError, match="no batch is loaded"):
            pl.getProjValues()
    owned.prepareBatchLORs(0, 0)
    alias.prepareBatchLORs(0, 0)
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        gop.applyAH(owned, img)
    with pytest.raises(RuntimeError, match="before allocate"):
        owned.getProjValuesDevicePointer()
    with pytest.raises(RuntimeError, match="before setProjValuesDevicePointer"):
        gop.applyAH(alias, img)
    with pytest.raises(RuntimeError, match="before setProjValuesDevicePointer"):
        gop.applyA(img, alias)
    with pytest.raises(RuntimeError):
        alias.__dlpack__()
    assert not hasattr(alias, "allocate") and not hasattr(owned, "setProjValuesDevicePointer")
    host = np.zeros(16, np.float32)
    with pytest.raises(ValueError, match="not CUDA device memory"):
        alias.setProjValuesDevicePointer(host.ctypes.data)
    with pytest.raises(ValueError, match="CUDA device memory expected"):
        alias.bind(host)
    with pytest.raises(ValueError, match="another Scanner"):
        petrel.OperatorProjectorDD_GPU(params(small_scanner(), "DD")).applyA(img, owned)
    with pytest.raises(ValueError, match="outside"):
        petrel.ProjectionListDeviceOwned(s, his, props, 0, 10**6)
    with pytest.raises(ValueError, match="holds no LOR"):
        petrel.ProjectionListDeviceOwned(s, his, props, 1, 1)
    with pytest.raises(ValueError, match="TOF"):
        petrel.ProjectionListDeviceOwned(s, his, ("LOR", "DetOrient", "TOF"), 0, 1)
    assert "values not bound" in repr(alias) and "values not allocated" in repr(owned)


@requires_gpu
def test_gpu_calls_release_the_gil():
    from conftest import seed_scanner
    s = seed_scanner()
    his = petrel.Histogram3DOwned(s)
    gop = petrel.OperatorProjectorDD_GPU(params(s, "DD"))
    pl = petrel.ProjectionListDeviceOwned(s, his, gop.getProjectionPropertyTypes(his), 0, 1)
    pl.allocate()
    pl.prepareBatchLORs(0, 0)
    pl.clearProjections(1.0)
    img = petrel.ImageOwned(petrel.ImageParams(100, 100, 50, 100.0, 100.0, 50.0))
    img.allocate()
    assert runs_during(lambda: gop.applyAH(pl, img), repeats=6) >= 3


# ---- with torch -------------------------------------------------------------------------------

@requires_torch
def test_alias_over_a_torch_tensor(setup):
    torch = torch_cuda()
    s, his = setup
    gop = petrel.OperatorProjectorDD_GPU(params(s, "DD"))
    pl = petrel.ProjectionListDeviceAlias(s, his, gop.getProjectionPropertyTypes(his), 0, 2)
    assert pl.getNumBatches(0) == 1
    pl.prepareBatchLORs(1, 0)
    n = pl.getLoadedBatchSize()
    assert n == len(subset_bins(his, 2, 1))
    t = torch.zeros([n], device="cuda:0", dtype=torch.float32)
    pl.setProjValuesDevicePointer(t.data_ptr())  # the seed's way
    assert pl.getProjValuesDevicePointer() == t.data_ptr()
    x = device_image(phantom())
    gop.applyA(x, pl)  # writes into the torch tensor
    torch.cuda.synchronize()
    np.testing.assert_array_equal(t.cpu().numpy(), pl.getProjValues())
    assert float(t.max()) > 0
    # bind: DLPack, keeps the tensor alive, checks its length
    u = torch.full([n], 2.0, device="cuda:0")
    pl.bind(u)
    assert pl.getProjValuesDevicePointer() == u.data_ptr()
    del u
    gc.collect()
    img = device_image(0.0)
    gop.applyAH(pl, img)  # back-projects the 2s of the (now unnamed) tensor
    ref = device_image(0.0)
    t.fill_(2.0)
    pl.setProjValuesDevicePointer(t.data_ptr())
    gop.applyAH(pl, ref)
    np.testing.assert_allclose(to_host(img), to_host(ref), rtol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        pl.bind(torch.zeros([n + 1], device="cuda:0"))
    with pytest.raises(ValueError, match="dtype"):
        pl.bind(torch.zeros([n], device="cuda:0", dtype=torch.float64))
    with pytest.raises(ValueError, match="CUDA device memory expected"):
        pl.bind(torch.zeros([n]))
    # a tensor bound for a small batch does not fit a bigger one
    small = petrel.ProjectionListDeviceAlias(s, his, None, HISTO_BYTES_PER_LOR * 1000, 1)
    last = small.getNumBatches(0) - 1
    small.prepareBatchLORs(0, last)
    m = small.getLoadedBatchSize()
    assert m < 1000
    small.bind(torch.zeros([m], device="cuda:0"))
    small.prepareBatchLORs(0, 0)
    with pytest.raises(ValueError, match=f"holds {m} values"):
        gop.applyA(x, small)


@requires_torch
def test_dlpack_round_trips(setup):
    torch = torch_cuda()
    s, his = setup
    gop = petrel.OperatorProjectorSiddon_GPU(params(s, "S"))
    owned = petrel.ProjectionListDeviceOwned(s, his, gop.getProjectionPropertyTypes(his), 0, 1)
    owned.allocate()
    owned.prepareBatchLORs(0, 0)
    n = owned.getLoadedBatchSize()
    assert owned.__dlpack_device__() == (2, 0)
    t = torch.from_dlpack(owned)  # aliases the values
    assert t.shape == (n,) and t.dtype == torch.float32 and t.device.type == "cuda"
    assert t.data_ptr() == owned.getProjValuesDevicePointer()
    t.fill_(3.0)
    torch.cuda.synchronize()
    assert np.all(owned.getProjValues() == 3.0)
    owned.setProjValues(np.arange(n, dtype=np.float32))
    assert torch.equal(t.cpu(), torch.arange(n, dtype=torch.float32))
    owned.clearProjections(1.0)
    assert float(t.sum()) == n
    # the tensor keeps the list alive
    del owned
    gc.collect()
    t.add_(1.0)
    assert float(t.sum()) == 2 * n
    # torch -> Alias -> torch: the same memory all the way
    alias = petrel.ProjectionListDeviceAlias(s, his, None, 0, 1)
    alias.prepareBatchLORs(0, 0)
    src = torch.zeros([n], device="cuda:0")
    alias.bind(src)
    back = torch.from_dlpack(alias)
    assert back.data_ptr() == src.data_ptr()
    x = device_image(phantom())
    gop.applyA(x, alias)
    torch.cuda.synchronize()
    assert torch.equal(back, src) and float(src.max()) > 0
    with pytest.raises(BufferError):  # exported: no rebinding underneath the tensor
        alias.bind(torch.zeros([n], device="cuda:0"))
    with pytest.raises(BufferError):
        alias.setProjValuesDevicePointer(src.data_ptr())
    del back
    gc.collect()
    alias.bind(torch.zeros([n], device="cuda:0"))
    # torch views of a device image work with the GPU operators as well
    ones = torch.ones([GRID.nz, GRID.ny, GRID.nx], device="cuda:0")
    img = petrel.ImageDeviceAlias.fromDlpack(GRID, ones)
    gop.applyA(img, alias)
    assert float(torch.from_dlpack(alias).max()) > 0
