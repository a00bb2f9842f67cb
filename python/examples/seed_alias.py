# The "Alias object" example of ../../shared/seed/owned_vs_alias.txt (YRT-PET docs), verbatim except for
# `import petrel as yrt` and the output file name.
import petrel as yrt
import numpy as np

img_shape = (100, 100, 50)  # in x, y, z dimensions
img_size_mm = (30, 30, 25)  # in x, y, z dimensions
img_params = yrt.ImageParams(*img_shape, *img_size_mm)

# Allocate memory in numpy
img_np = np.ones([img_params.nz, img_params.ny, img_params.nx], dtype=np.float32)

# Bind to YRT-PET
img_yrt = yrt.ImageAlias(img_params)
img_yrt.bind(img_np)

# Whatever is done in the img_np array,
# it will internally be done in img_np's memory,
# and vice-versa

# Example: This will write in img_yrt's memory
img_np[:, 0, :] = 2

# This will write the image into a file
img_yrt.writeToFile("seed_alias.nii")
