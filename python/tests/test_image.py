"""ImageParams and host images: Owned/Alias aliasing with numpy, ownership, errors."""
import gc
import sys
import weakref

import numpy as np
import pytest

import petrel
from conftest import ramp, requires_nifti, shape_of


# ---- ImageParams --------------------------------------------------------------------------

def test_params_attributes_and_voxel_sizes():
    p = petrel.ImageParams(100, 100, 50, 30, 30, 25)
    assert (p.nx, p.ny, p.nz) == (100, 100, 50)
    assert (p.length_x, p.length_y, p.length_z) == (30, 30, 25)
    assert (p.off_x, p.off_y, p.off_z) == (0, 0, 0)
    assert p.vx == pytest.approx(0.3) and p.vy == pytest.approx(0.3) and p.vz == pytest.approx(0.5)


def test_params_offsets_keywords_and_equality():
    p = petrel.ImageParams(nx=4, ny=4, nz=2, length_x=8, length_y=8, length_z=4, off_z=-1.5)
    assert p.off_z == -1.5 and p.off_x == 0
    assert p == petrel.ImageParams(4, 4, 2, 8, 8, 4, 0, 0, -1.5)
    assert p != petrel.ImageParams(4, 4, 2, 8, 8, 4)
    assert "nx=4" in repr(p)


@pytest.mark.parametrize("attr", ["nx", "length_x", "off_y", "vx"])
def test_params_are_read_only(attr):
    p = petrel.ImageParams(4, 4, 2, 8, 8, 4)
    with pytest.raises(AttributeError):
        setattr(p, attr, 1)


@pytest.mark.parametrize("args, match", [
    ((0, 4, 4, 1, 1, 1), "nx, ny, nz must be > 0"),
    ((4, -1, 4, 1, 1, 1), "nx, ny, nz must be > 0"),
    ((4, 4, 4, 0, 1, 1), "length_x/y/z must be finite and > 0"),
    ((4, 4, 4, 1, float("nan"), 1), "length_x/y/z must be finite and > 0"),
    ((4, 4, 4, 1, 1, 1, float("inf")), "off_x/y/z must be finite"),
])
def test_params_bad_values_raise_value_error(args, match):
    with pytest.raises(ValueError, match=match):
        petrel.ImageParams(*args)


def test_params_bad_types_raise_type_error():
    with pytest.raises(TypeError):
        petrel.ImageParams(4, 4, 4, 1, 1)
    with pytest.raises(TypeError):
        petrel.ImageParams("4", 4, 4, 1, 1, 1)
    with pytest.raises(OverflowError):
        petrel.ImageParams(2**40, 4, 4, 1, 1, 1)


# ---- ImageOwned -----------------------------------------------------------------------------

def test_owned_exports_writable_c_contiguous_float32(owned, params):
    mv = memoryview(owned)
    assert mv.format == "f" and mv.itemsize == 4 and not mv.readonly
    assert mv.shape == shape_of(params) and mv.c_contiguous
    assert mv.strides == (params.ny * params.nx * 4, params.nx * 4, 4)
    mv.release()
    a = np.array(owned, copy=False)
    assert a.dtype == np.float32 and a.shape == shape_of(params) and a.flags.c_contiguous
    assert a.flags.writeable and not a.flags.owndata
    assert np.all(a == 0)  # allocate() zeroes


def test_owned_numpy_writes_are_seen_by_petrel_and_back(owned, params):
    a = np.array(owned, copy=False)
    a[:] = ramp(params)
    b = np.array(owned, copy=False)
    np.testing.assert_array_equal(b, ramp(params))
    owned.setValue(7.5)
    assert np.all(a == 7.5)
    a[1, 2, 3] = -1
    assert np.asarray(owned)[1, 2, 3] == -1


def test_owned_view_keeps_image_alive(params):
    img = petrel.ImageOwned(params)
    img.allocate()
    before = sys.getrefcount(img)
    a = np.array(img, copy=False)
    assert sys.getrefcount(img) == before + 1
    wr = weakref.ref(a)
    del img
    gc.collect()
    a[:] = 3  # the image (and its memory) lives as long as the view
    assert a.sum() == 3 * a.size
    del a
    gc.collect()
    assert wr() is None


def test_owned_allocate_twice_keeps_memory(owned):
    np.array(owned, copy=False)[:] = 4
    owned.allocate()
    assert np.all(np.asarray(owned) == 4)


def test_use_before_allocate_raises(params):
    img = petrel.ImageOwned(params)
    assert not img.isMemoryValid()
    assert "not allocated" in repr(img)
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        memoryview(img)
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        np.array(img, copy=False)
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        img.setValue(1.0)
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        img.__dlpack__()
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        img.writeToFile("never.nii")
    other = petrel.ImageOwned(params)
    other.allocate()
    with pytest.raises(RuntimeError, match=r"before allocate\(\)"):
        other.copyFromImage(img)
    img.allocate()
    assert img.isMemoryValid() and "allocated" in repr(img)


def test_get_params_returns_a_copy(owned, params):
    assert owned.getParams() == params
    assert owned.getParams() is not params


def test_constructor_errors(params):
    with pytest.raises(TypeError):
        petrel.ImageOwned()
    with pytest.raises(TypeError):
        petrel.ImageOwned(42)
    with pytest.raises(TypeError):
        petrel.ImageOwned(params, 42)
    with pytest.raises(TypeError, match="ImageParams first"):
        petrel.ImageOwned("a.nii", "b.nii")
    with pytest.raises(TypeError, match="expected an ImageParams"):
        petrel.ImageAlias("a.nii")
    with pytest.raises(TypeError, match="expected an ImageParams"):
        petrel.ImageAlias(params, "a.nii")
    with pytest.raises(TypeError):
        petrel.ImageBase(params)
    with pytest.raises(TypeError):
        petrel.Image(params)


def test_set_value_bad_type(owned):
    with pytest.raises(TypeError):
        owned.setValue("one")


def test_copy_from_image(owned, params):
    src = petrel.ImageAlias(params)
    src.bind(ramp(params))
    owned.copyFromImage(src)
    np.testing.assert_array_equal(np.asarray(owned), ramp(params))
    with pytest.raises(TypeError, match="expected a petrel image"):
        owned.copyFromImage(np.zeros(shape_of(params), np.float32))
    other = petrel.ImageOwned(petrel.ImageParams(5, 4, 2, 10, 8, 6))
    other.allocate()
    with pytest.raises(ValueError, match="geometries differ"):
        owned.copyFromImage(other)


# ---- ImageAlias -----------------------------------------------------------------------------

def test_alias_aliases_numpy_both_ways(params):
    x = np.ones(shape_of(params), dtype=np.float32)
    img = petrel.ImageAlias(params)
    img.bind(x)
    x[:, 0, :] = 2
    view = np.array(img, copy=False)
    assert np.shares_memory(view, x)
    np.testing.assert_array_equal(view, x)
    img.setValue(5)
    assert np.all(x == 5)


def test_alias_holds_a_reference_to_the_bound_array(params):
    x = np.zeros(shape_of(params), dtype=np.float32)
    base = sys.getrefcount(x)
    img = petrel.ImageAlias(params)
    img.bind(x)
    assert sys.getrefcount(x) == base + 1
    del img
    gc.collect()
    assert sys.getrefcount(x) == base


def test_alias_keeps_array_alive_after_the_array_is_dropped(params):
    x = ramp(params)
    wr = weakref.ref(x)
    img = petrel.ImageAlias(params)
    img.bind(x)
    del x
    gc.collect()
    assert wr() is not None
    np.testing.assert_array_equal(np.asarray(img), ramp(params))
    img.setValue(1)
    assert np.asarray(img).sum() == params.nx * params.ny * params.nz
    del img
    gc.collect()
    assert wr() is None


def test_rebind_releases_the_previous_array(params):
    x = np.zeros(shape_of(params), dtype=np.float32)
    y = np.ones(shape_of(params), dtype=np.float32)
    bx, by = sys.getrefcount(x), sys.getrefcount(y)
    img = petrel.ImageAlias(params)
    img.bind(x)
    img.bind(y)
    assert sys.getrefcount(x) == bx and sys.getrefcount(y) == by + 1
    assert np.all(np.asarray(img) == 1)


def test_rebind_while_a_view_is_alive_is_refused(params):
    img = petrel.ImageAlias(params)
    img.bind(np.zeros(shape_of(params), dtype=np.float32))
    view = np.array(img, copy=False)
    with pytest.raises(BufferError, match="in use"):
        img.bind(np.ones(shape_of(params), dtype=np.float32))
    del view
    img.bind(np.ones(shape_of(params), dtype=np.float32))


def test_alias_use_before_bind_raises(params):
    img = petrel.ImageAlias(params)
    assert not img.isMemoryValid() and "not bound" in repr(img)
    with pytest.raises(RuntimeError, match=r"before bind\(\)"):
        np.array(img, copy=False)
    with pytest.raises(RuntimeError, match=r"before bind\(\)"):
        img.setValue(0)
    assert not hasattr(img, "allocate")


EXPECT = r"expected a writable C-contiguous float32 array of shape \(3, 4, 5\) \[nz, ny, nx\]"


@pytest.mark.parametrize("make, got", [
    (lambda s: np.zeros(s, dtype=np.float64), "format 'd'"),
    (lambda s: np.zeros(s, dtype=np.int32), "format 'i'"),
    (lambda s: np.zeros(s, dtype=np.float32).astype(">f4"), "format '>f'"),
    (lambda s: np.zeros(s[::-1], dtype=np.float32), r"shape \(5, 4, 3\)"),
    (lambda s: np.zeros(s[0] * s[1] * s[2], dtype=np.float32), "1 dimensions"),
    (lambda s: np.zeros((s[0], s[1], 2 * s[2]), dtype=np.float32)[:, :, ::2], "non-C-contiguous"),
    (lambda s: np.asfortranarray(np.zeros(s, dtype=np.float32)), "non-C-contiguous"),
])
def test_bind_rejects_wrong_dtype_shape_layout(params, make, got):
    img = petrel.ImageAlias(params)
    with pytest.raises(ValueError, match=EXPECT + ".*" + got):
        img.bind(make(shape_of(params)))
    assert not img.isMemoryValid()


def test_bind_rejects_read_only_and_non_buffers(params):
    img = petrel.ImageAlias(params)
    ro = np.zeros(shape_of(params), dtype=np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=EXPECT + ".*read-only"):
        img.bind(ro)
    with pytest.raises(TypeError, match=EXPECT + ".*'list' object"):
        img.bind([[[0.0]]])
    with pytest.raises(TypeError):
        img.bind()


def test_failed_bind_keeps_previous_binding(params):
    x = ramp(params)
    img = petrel.ImageAlias(params)
    img.bind(x)
    with pytest.raises(ValueError):
        img.bind(np.zeros(3, np.float32))
    np.testing.assert_array_equal(np.asarray(img), ramp(params))


# ---- DLPack on the host ---------------------------------------------------------------------

class DlpackOnly:
    """A producer that exposes only DLPack (no buffer protocol), delegating to numpy."""

    def __init__(self, arr, device=(1, 0)):
        self.arr = arr
        self.device = device

    def __dlpack__(self, stream=None):
        return self.arr.__dlpack__()

    def __dlpack_device__(self):
        return self.device


def test_dlpack_export_aliases_and_keeps_image_alive(owned, params):
    before = sys.getrefcount(owned)
    t = np.from_dlpack(owned)
    assert sys.getrefcount(owned) == before + 1
    assert t.shape == shape_of(params) and t.dtype == np.float32
    assert owned.__dlpack_device__() == (1, 0)
    owned.setValue(2)
    assert np.all(t == 2)
    del t
    gc.collect()
    assert sys.getrefcount(owned) == before


def test_unconsumed_dlpack_capsule_releases_the_image(owned):
    before = sys.getrefcount(owned)
    cap = owned.__dlpack__()
    assert sys.getrefcount(owned) == before + 1
    del cap
    assert sys.getrefcount(owned) == before


def test_dlpack_export_pins_an_alias(params):
    img = petrel.ImageAlias(params)
    img.bind(np.zeros(shape_of(params), np.float32))
    t = np.from_dlpack(img)
    with pytest.raises(BufferError):
        img.bind(np.zeros(shape_of(params), np.float32))
    del t
    img.bind(np.zeros(shape_of(params), np.float32))


def test_alias_binds_a_cpu_dlpack_tensor_and_keeps_it_alive(params):
    x = ramp(params)
    base = sys.getrefcount(x)
    img = petrel.ImageAlias(params)
    img.bind(DlpackOnly(x))
    assert sys.getrefcount(x) == base + 1  # held by numpy's DLManagedTensor
    img.setValue(9)
    assert np.all(x == 9)
    del img
    gc.collect()
    assert sys.getrefcount(x) == base


def test_alias_dlpack_rejections_free_the_producer_tensor(params):
    x = np.zeros(shape_of(params)[::-1], np.float32)
    base = sys.getrefcount(x)
    img = petrel.ImageAlias(params)
    with pytest.raises(ValueError, match=EXPECT + r".*shape \(5, 4, 3\)"):
        img.bind(DlpackOnly(x))
    with pytest.raises(ValueError, match="CUDA memory"):
        img.bind(DlpackOnly(np.zeros(shape_of(params), np.float32), device=(2, 0)))
    with pytest.raises(ValueError, match=r"DLPack dtype \(code 2, bits 64"):
        img.bind(DlpackOnly(np.zeros(shape_of(params), np.float64)))
    gc.collect()
    assert sys.getrefcount(x) == base


def test_dlpack_rejects_unknown_keywords(owned):
    with pytest.raises(TypeError):
        owned.__dlpack__(max_version=(1, 0))


# ---- files ----------------------------------------------------------------------------------

@requires_nifti
def test_nifti_round_trip(tmp_path, params):
    src = petrel.ImageAlias(params)
    src.bind(ramp(params))
    path = tmp_path / "ramp.nii"
    src.writeToFile(str(path))
    back = petrel.ImageOwned(str(path))
    assert back.getParams() == params
    np.testing.assert_array_equal(np.asarray(back), ramp(params))
    again = petrel.ImageOwned(params, path)  # os.PathLike accepted
    np.testing.assert_array_equal(np.asarray(again), ramp(params))
    with pytest.raises(ValueError, match="ImageParams"):
        petrel.ImageOwned(petrel.ImageParams(5, 4, 2, 10, 8, 6), str(path))


@requires_nifti
def test_nifti_errors(tmp_path, owned):
    with pytest.raises(OSError):
        petrel.ImageOwned(str(tmp_path / "missing.nii"))
    with pytest.raises(OSError):
        owned.writeToFile(str(tmp_path / "no" / "such" / "dir.nii"))


@pytest.mark.skipif(petrel.HAS_NIFTI, reason="this build has NIfTI I/O")
def test_without_nifti_files_raise_not_implemented(owned, params):
    with pytest.raises(NotImplementedError, match="NIfTI"):
        owned.writeToFile("x.nii")
    with pytest.raises(NotImplementedError, match="NIfTI"):
        petrel.ImageOwned("x.nii")
    with pytest.raises(NotImplementedError, match="NIfTI"):
        petrel.ImageOwned(params, "x.nii")
