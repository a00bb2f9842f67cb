"""Shared fixtures for the petrel module tests (run with PYTHONPATH=<build>/python)."""
import os

import numpy as np
import pytest

import petrel

EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")

requires_nifti = pytest.mark.skipif(
    not petrel.HAS_NIFTI, reason="this petrel build has no NIfTI I/O (pet_nifti not merged yet)")


def has_gpu():
    return petrel.compiledWithCuda() and petrel.getDeviceCount() > 0


requires_gpu = pytest.mark.skipif(not has_gpu(), reason="needs a CUDA build and a visible GPU")
requires_no_cuda = pytest.mark.skipif(petrel.compiledWithCuda(), reason="this build has CUDA")


@pytest.fixture
def params():
    """A small anisotropic grid: nx=5, ny=4, nz=3 over 10 x 8 x 6 mm."""
    return petrel.ImageParams(5, 4, 3, 10.0, 8.0, 6.0)


@pytest.fixture
def owned(params):
    img = petrel.ImageOwned(params)
    img.allocate()
    return img


def shape_of(p):
    return (p.nz, p.ny, p.nx)


def ramp(p):
    return np.arange(p.nx * p.ny * p.nz, dtype=np.float32).reshape(shape_of(p))


def rss_bytes():
    """Resident set size from /proc/self/statm (independent of tracemalloc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


FIXTURES_DIR = os.environ.get(
    "PETREL_FIXTURES_DIR",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures",
                 "yrtpet"))


def seed_scanner():
    """The seed's MYSCANNER."""
    return petrel.Scanner(scanner_name='MYSCANNER', axial_fov=25,
                          crystal_size_z=2.0, crystal_size_trans=2.0,
                          crystal_depth=10.0, scanner_radius=161,
                          dets_per_ring=256, num_rings=8, num_doi=1,
                          max_ring_diff=7, min_ang_diff=1, dets_per_block=32)


@pytest.fixture(scope="module")
def scanner():
    return seed_scanner()
