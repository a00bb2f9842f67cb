"""The seed's examples (python/examples/seed_*.py) run unchanged but for the import."""
import os
import subprocess
import sys

import numpy as np
import pytest

import petrel
from conftest import EXAMPLES_DIR, has_gpu, requires_nifti, seed_scanner


def run_example(name, cwd):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(petrel.__file__)] + env.get("PYTHONPATH", "").split(os.pathsep))
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES_DIR, name)], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{name} failed:\n{r.stdout}\n{r.stderr}"


@requires_nifti
def test_seed_owned_example(tmp_path):
    run_example("seed_owned.py", tmp_path)
    img = petrel.ImageOwned(str(tmp_path / "seed_owned.nii"))
    p = img.getParams()
    assert (p.nx, p.ny, p.nz) == (100, 100, 50)
    assert np.all(np.asarray(img) == 1)


@requires_nifti
def test_seed_alias_example(tmp_path):
    run_example("seed_alias.py", tmp_path)
    a = np.asarray(petrel.ImageOwned(str(tmp_path / "seed_alias.nii")))
    assert np.all(a[:, 0, :] == 2) and np.all(a[:, 1:, :] == 1)


def have_torch_cuda():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.skipif(not has_gpu() or not have_torch_cuda(), reason="needs torch, CUDA and a GPU")
@requires_nifti
def test_seed_torch_gpu_example(tmp_path):
    """The seed's GPU example runs verbatim, and its back-projection of the all-ones histogram
    equals the CPU back-projection (OperatorProjectorDD.applyAH) of the same histogram."""
    run_example("seed_torch_gpu.py", tmp_path)
    gpu = np.asarray(petrel.ImageOwned(str(tmp_path / "seed_torch_gpu.nii")))
    scanner = seed_scanner()
    his = petrel.Histogram3DOwned(scanner)
    his.allocate()
    his.clearProjections(1.0)
    pp = petrel.ProjectorParams(scanner)
    pp.setProjector("DD")
    cpu = petrel.ImageOwned(petrel.ImageParams(100, 100, 50, 100.0, 100.0, 50.0))
    cpu.allocate()
    petrel.OperatorProjectorDD(pp).applyAH(his, cpu)
    ref = np.asarray(cpu)
    assert gpu.shape == ref.shape and ref.max() > 0
    np.testing.assert_allclose(gpu, ref, rtol=1e-4, atol=1e-4 * float(ref.max()))
