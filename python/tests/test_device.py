"""Device images, GPU queries: NotImplementedError without CUDA, real CUDA memory with it."""
import gc
import sys

import numpy as np
import pytest

import petrel
from conftest import ramp, requires_gpu, requires_no_cuda, shape_of


def test_device_count_is_a_non_negative_int():
    n = petrel.getDeviceCount()
    assert isinstance(n, int) and n >= 0
    if not petrel.compiledWithCuda():
        assert n == 0


@requires_no_cuda
@pytest.mark.parametrize("cls", ["ImageDeviceOwned", "ImageDeviceAlias"])
def test_device_images_raise_not_implemented_without_cuda(params, cls):
    with pytest.raises(NotImplementedError, match="no CUDA support"):
        getattr(petrel, cls)(params)


@requires_no_cuda
def test_available_vram_raises_not_implemented_without_cuda():
    with pytest.raises(NotImplementedError, match="no CUDA support"):
        petrel.getAvailableVRAM()


@pytest.mark.skipif(not petrel.compiledWithCuda() or petrel.getDeviceCount() > 0,
                    reason="needs a CUDA build on a machine without a GPU")
def test_available_vram_without_a_gpu_says_so():
    with pytest.raises(RuntimeError, match="no CUDA device"):
        petrel.getAvailableVRAM()


@requires_gpu
def test_available_vram_is_positive():
    assert petrel.getAvailableVRAM() > 0


@requires_gpu
def test_device_owned_round_trip_through_host(params):
    dev = petrel.ImageDeviceOwned(params)
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        dev.getDevicePointer()
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        dev.setValue(1)
    dev.allocate()
    assert dev.isMemoryValid() and dev.getDevicePointer() != 0
    assert dev.__dlpack_device__() == (2, 0)
    src = petrel.ImageAlias(params)
    src.bind(ramp(params))
    dev.copyFromHostImage(src)
    back = petrel.ImageOwned(params)
    back.allocate()
    dev.transferToHostMemory(back)
    np.testing.assert_array_equal(np.asarray(back), ramp(params))
    dev.setValue(3)
    back.copyFromImage(dev)
    assert np.all(np.asarray(back) == 3)
    with pytest.raises(TypeError, match="host Image"):
        dev.transferToHostMemory(dev)
    with pytest.raises(TypeError):
        np.array(dev, copy=False)
    with pytest.raises(TypeError):
        memoryview(dev)


@requires_gpu
def test_device_alias_set_device_pointer(params):
    owner = petrel.ImageDeviceOwned(params)
    owner.allocate()
    alias = petrel.ImageDeviceAlias(params)
    with pytest.raises(RuntimeError, match=r"before bind\(\)"):
        alias.getDevicePointer()
    alias.setDevicePointer(owner.getDevicePointer())
    alias.setValue(4)
    back = petrel.ImageOwned(params)
    back.allocate()
    owner.transferToHostMemory(back)
    assert np.all(np.asarray(back) == 4)
    host = np.zeros(shape_of(params), np.float32)
    with pytest.raises(ValueError, match="not CUDA device memory"):
        alias.setDevicePointer(host.ctypes.data)
    with pytest.raises(ValueError):
        alias.setDevicePointer(0)
    with pytest.raises(OverflowError):
        alias.setDevicePointer(-1)


@requires_gpu
def test_device_alias_binds_a_dlpack_tensor_and_keeps_it_alive(params):
    owner = petrel.ImageDeviceOwned(params)
    owner.allocate()
    base = sys.getrefcount(owner)
    alias = petrel.ImageDeviceAlias.fromDlpack(params, owner)
    assert sys.getrefcount(owner) == base + 1
    assert alias.getDevicePointer() == owner.getDevicePointer()
    alias.bind(owner)  # rebinding lets go of the first tensor
    assert sys.getrefcount(owner) == base + 1
    del owner
    gc.collect()
    alias.setValue(6)  # the memory is still owned by the (now unnamed) ImageDeviceOwned
    back = petrel.ImageOwned(params)
    back.allocate()
    alias.transferToHostMemory(back)
    assert np.all(np.asarray(back) == 6)


@requires_gpu
def test_device_alias_rejects_host_tensors_and_wrong_shapes(params):
    alias = petrel.ImageDeviceAlias(params)
    with pytest.raises(ValueError, match="CUDA device memory expected"):
        alias.bind(np.zeros(shape_of(params), np.float32))
    other = petrel.ImageDeviceOwned(petrel.ImageParams(5, 4, 2, 10, 8, 6))
    other.allocate()
    with pytest.raises(ValueError, match=r"shape \(2, 4, 5\)"):
        alias.bind(other)
    with pytest.raises(TypeError, match="does not support DLPack"):
        alias.bind([1, 2, 3])


def torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


@requires_gpu
@pytest.mark.skipif(torch_cuda() is None, reason="needs torch with CUDA")
def test_torch_interop_both_ways(params):
    torch = torch_cuda()
    t = torch.zeros([params.nz, params.ny, params.nx], device="cuda:0", dtype=torch.float32)
    img = petrel.ImageDeviceAlias(params)
    img.setDevicePointer(t.data_ptr())  # the seed's way
    img.setValue(2.0)
    torch.cuda.synchronize()
    assert float(t.sum()) == 2.0 * t.numel()
    held = petrel.ImageDeviceAlias.fromDlpack(params, t)  # DLPack: keeps the tensor alive
    del t
    gc.collect()
    held.setValue(3.0)
    out = torch.from_dlpack(held)  # and back to torch, aliasing
    assert out.device.type == "cuda" and float(out.sum()) == 3.0 * out.numel()
    with pytest.raises(BufferError):  # exported to torch: no rebinding underneath it
        held.bind(torch.zeros([params.nz, params.ny, params.nx], device="cuda:0"))
    del out
    with pytest.raises(ValueError, match="shape"):
        held.bind(torch.zeros([params.nx, params.ny, params.nz], device="cuda:0"))
