# The "Owned object" example of ../../shared/seed/owned_vs_alias.txt (YRT-PET docs), verbatim except for
# `import petrel as yrt` and the output file name.
import petrel as yrt
import numpy as np

img_shape = (100, 100, 50)  # in x, y, z dimensions
img_size_mm = (30, 30, 25)  # in x, y, z dimensions
img_params = yrt.ImageParams(*img_shape, *img_size_mm)

# Allocate memory in YRT-PET
img_yrt = yrt.ImageOwned(img_params)
img_yrt.allocate()

# Bind to numpy
img_np = np.array(img_yrt, copy=False)
# Setting "copy=False" is what allows for the memory aliasing.

# From now on, whatever that is done in the img_np array,
# it will internally be done in img_yrt's memory
# and vice-versa

# Example: This will write in img_yrt's memory
img_np[:] = 1 # The "[:]" is important to avoid reassignment

# This will write the image into a file
img_yrt.writeToFile("seed_owned.nii")
