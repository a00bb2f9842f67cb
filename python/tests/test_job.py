"""reconstructConfig: the job of a petrel config from Python equals `petrel recon` on the same
config (the NIfTI read back), overrides go through the config's one table, errors name the
field."""
import json
import os
import subprocess

import numpy as np
import pytest

import petrel
from conftest import requires_nifti
from test_osem import GRID, Problem, petrel_exe, small_scanner


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """scanner.json, prompts.his, norm.his, randoms.his and recon.json in one folder."""
    d = tmp_path_factory.mktemp("job")
    p = Problem(small_scanner())
    p.scanner.writeToJSON(str(d / "scanner.json"))
    p.his.writeToFile(str(d / "prompts.his"))
    for name, values in (("norm", p.mult), ("randoms", p.add)):
        h = petrel.Histogram3DAlias(p.scanner)
        h.bind(values.reshape(np.asarray(p.his).shape).copy())
        h.writeToFile(str(d / f"{name}.his"))
    cfg = {
        "scanner": "scanner.json", "data": "prompts.his", "data_format": "yrt-histogram",
        "normalisation": "norm.his", "randoms": "randoms.his", "output": "cli.nii",
        "iterations": 3, "subsets": 4, "projector": "DD", "threads": 1, "quiet": True,
        "image": {"nx": GRID.nx, "ny": GRID.ny, "nz": GRID.nz, "length_x": GRID.length_x,
                  "length_y": GRID.length_y, "length_z": GRID.length_z},
    }
    (d / "recon.json").write_text(json.dumps(cfg))
    return d, cfg


def cli_recon(d, *flags):
    exe = petrel_exe()
    if not os.path.exists(exe):
        pytest.skip(f"petrel executable not found at {exe} (set PETREL_EXE)")
    r = subprocess.run([exe, "recon", "--config", "recon.json", *flags], cwd=d,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    assert float(b.max()) > 0
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6 * float(b.max()))


@requires_nifti
def test_reconstruct_config_equals_petrel_recon(inputs):
    d, _ = inputs
    cli_recon(d)
    cli = petrel.ImageOwned(str(d / "cli.nii"))
    img = petrel.reconstructConfig(str(d / "recon.json"))
    assert isinstance(img, petrel.ImageOwned)
    p = img.getParams()
    assert (p.nx, p.ny, p.nz) == (GRID.nx, GRID.ny, GRID.nz)
    same(img, cli)
    # a path-like object too
    same(petrel.reconstructConfig(d / "recon.json"), cli)


@requires_nifti
def test_overrides_equal_the_same_flags(inputs):
    d, _ = inputs
    cli_recon(d, "--iterations", "2", "--subsets", "2", "--output", "cli2.nii")
    cli = petrel.ImageOwned(str(d / "cli2.nii"))
    img = petrel.reconstructConfig(str(d / "recon.json"), iterations=2, subsets=2, use_gpu=False)
    same(img, cli)
    # and they change the result: 3 iterations of 4 subsets is another image
    full = np.asarray(petrel.reconstructConfig(str(d / "recon.json")))
    assert not np.allclose(np.asarray(img), full, rtol=1e-3)


def test_dict_config_equals_file_config(inputs, monkeypatch):
    d, cfg = inputs
    monkeypatch.chdir(d)  # a dict's relative paths are relative to the working directory
    a = np.asarray(petrel.reconstructConfig(dict(cfg, output=""), iterations=1))
    b = np.asarray(petrel.reconstructConfig(str(d / "recon.json"), iterations=1))
    np.testing.assert_array_equal(a, b)
    # image overrides by the nested key's flat spelling: another grid
    c = petrel.reconstructConfig(dict(cfg), iterations=1, image_nx=20, image_length_x=80.0)
    assert c.getParams().nx == 20


def test_bad_values_name_the_field(inputs):
    d, cfg = inputs
    path = str(d / "recon.json")
    with pytest.raises(ValueError, match="iterations"):
        petrel.reconstructConfig(path, iterations=0)
    with pytest.raises(ValueError, match="projector"):
        petrel.reconstructConfig(path, projector="XYZ")
    with pytest.raises(ValueError, match="no_such_field"):
        petrel.reconstructConfig(path, no_such_field=3)
    with pytest.raises(ValueError, match="subsets"):
        petrel.reconstructConfig(dict(cfg, subsets="four"))
    with pytest.raises(OSError, match="nonexistent"):
        petrel.reconstructConfig(path, data=str(d / "nonexistent.his"))
    with pytest.raises(OSError, match="missing.json"):
        petrel.reconstructConfig(str(d / "missing.json"))
    with pytest.raises(TypeError):
        petrel.reconstructConfig(42)


@requires_nifti
def test_scatter_estimate_from_python_equals_petrel_recon(inputs):
    """scatter="estimate" (a mu-map, the tail fit to the prompts): reconstructConfig returns the
    image and the final estimate; petrel recon writes the same image and the estimate."""
    d, cfg = inputs
    mu = petrel.ImageOwned(GRID)
    mu.allocate()
    a = np.asarray(mu)
    nz, ny, nx = a.shape
    y, x = np.mgrid[0:ny, 0:nx]
    xs = (x - (nx - 1) / 2) * GRID.length_x / nx
    ys = (y - (ny - 1) / 2) * GRID.length_y / ny
    a[:] = np.where(xs**2 + ys**2 < 30.0**2, 0.0096, 0.0).astype(np.float32)[None, :, :]
    mu.writeToFile(str(d / "mu.nii"))
    sc = dict(cfg, attenuation_image="mu.nii", scatter="estimate", scatter_iterations=1,
              iterations=2, output="cli_sss.nii", scatter_output="cli_sss_scatter.h5")
    (d / "sss.json").write_text(json.dumps(sc))
    exe = petrel_exe()
    if not os.path.exists(exe):
        pytest.skip(f"petrel executable not found at {exe} (set PETREL_EXE)")
    r = subprocess.run([exe, "recon", "--config", "sss.json"], cwd=d, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (d / "cli_sss_scatter.h5").exists()
    img, est = petrel.reconstructConfig(str(d / "sss.json"), return_scatter=True)
    same(img, petrel.ImageOwned(str(d / "cli_sss.nii")))
    assert est.dtype == np.float32 and est.ndim == 1
    assert np.all(np.isfinite(est)) and float(est.min()) >= 0.0
    # without the estimate there is none
    assert petrel.reconstructConfig(str(d / "recon.json"), iterations=1, return_scatter=True)[1] is None
    with pytest.raises(ValueError, match="scatter_iterations"):
        petrel.reconstructConfig(str(d / "sss.json"), scatter_iterations=3)
