# A reconstruction script written for YRT-PET's Python interface (pyyrtpet); with petrel the
# only change is the import line (`import pyyrtpet as yrt` in YRT-PET). It simulates a small
# acquisition (phantom -> forward projection -> randoms -> Poisson noise), then reconstructs
# it with OSEM set up through keyword arguments, and saves the inputs and the result.
#
#   python3 yrtpet_style_recon.py [output folder]
import os
import sys

import numpy as np
import petrel as yrt

out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
os.makedirs(out_dir, exist_ok=True)

yrt.setNumThreads(2)
print("Version:", yrt.getVersionString())

# %% Scanner: a small cylindrical scanner defined by its geometry
scanner = yrt.Scanner(scanner_name="SMALL", axial_fov=12, crystal_size_z=2.0,
                      crystal_size_trans=4.0, crystal_depth=10.0, scanner_radius=80,
                      dets_per_ring=64, num_rings=6, num_doi=1, max_ring_diff=5,
                      min_ang_diff=8, dets_per_block=8)
scanner.writeToJSON(os.path.join(out_dir, "scanner.json"))

# %% Image space: 4 mm voxels, written to and read back from an image-parameters file
img_params = yrt.ImageParams(nx=24, ny=24, nz=6, length_x=96.0, length_y=96.0, length_z=12.0)
img_params.serialize(os.path.join(out_dir, "img_params.json"))
img_params = yrt.ImageParams(os.path.join(out_dir, "img_params.json"))

# %% Phantom: a warm cylinder with a hot rod
nx, ny, nz = img_params.nx, img_params.ny, img_params.nz
x = (np.arange(nx) - (nx - 1) / 2) * img_params.vx + img_params.off_x
y = (np.arange(ny) - (ny - 1) / 2) * img_params.vy + img_params.off_y
yy, xx = np.meshgrid(y, x, indexing="ij")
phantom_np = np.zeros((nz, ny, nx), dtype=np.float32)
phantom_np[:] = np.where(xx**2 + yy**2 < 35.0**2, 1.0, 0.0)
phantom_np[:] += np.where((xx - 12) ** 2 + (yy + 8) ** 2 < 10.0**2, 3.0, 0.0)
phantom = yrt.ImageAlias(img_params)
phantom.bind(phantom_np)
phantom.writeToFile(os.path.join(out_dir, "phantom.nii"))

# %% Simulation: forward projection, randoms, Poisson noise
his = yrt.Histogram3DOwned(scanner)
his.allocate()
bin_iter = his.getBinIter(num_subsets=1, idx_subset=0)
proj_params = yrt.ProjectorParams(scanner)
proj_params.setProjector("S")  # Siddon
proj_oper = yrt.createOperatorProjector(proj_params, bin_iter)
proj_oper.applyA(phantom, his)

randoms = yrt.Histogram3DOwned(scanner)
randoms.allocate()
randoms.clearProjections(0.05)

rng = np.random.default_rng(42)
his_np = np.array(his, copy=False)
his_np[:] = rng.poisson(his_np + np.array(randoms, copy=False))
his.writeToFile(os.path.join(out_dir, "prompts.his"))
print("Simulated", int(his_np.sum()), "prompts in", his.histoSize, "bins")

# %% Reconstruction
osem = yrt.createOSEM(scanner, use_gpu=False)
osem.setImageParams(img_params)
osem.setDataInput(his)
osem.setProjector("S")
osem.num_MLEM_iterations = 4
osem.num_OSEM_subsets = 4
osem.setRandomsHistogram(randoms)
osem.summary()

# Sensitivity images (one per subset), saved as sens_subset<k>.nii
sens_images = osem.generateSensitivityImages(out_fname=os.path.join(out_dir, "sens.nii"))
assert len(sens_images) == osem.getExpectedSensImagesAmount()
osem.setSensitivityImages(sens_images)

# Reconstruct and save the result
recon = osem.reconstruct(out_fname=os.path.join(out_dir, "recon.nii"))
recon_np = np.array(recon, copy=False)
error = np.linalg.norm(recon_np - phantom_np) / np.linalg.norm(phantom_np)
print(f"Relative error after {osem.num_MLEM_iterations} iterations: {error:.3f}")
