/* libFuzzer target: pet_image_read_nifti and pet_image_read_nifti_4d (src/io/pet_nifti.c) on an
 * uncompressed .nii (nifti_clib parses the header; petrel checks it and reads the voxels). */
#include "fuzz_common.h"
#include "pet_image.h"
#include "pet_nifti.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  fuzz_setup_named("input.nii");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *path = fuzz_input_file(data, size);
  pet_image *img = NULL;
  if (pet_image_read_nifti(&img, path) == PET_OK)
    fuzz_touch(img->data, (size_t)pet_image_params_num_voxels(&img->params) * sizeof(float));
  pet_image_destroy(&img);
  pet_error_clear();

  pet_image **frames = NULL;
  int nt = 0;
  if (pet_image_read_nifti_4d(&frames, &nt, path) == PET_OK) {
    if (nt < 1) abort();
    for (int f = 0; f < nt; ++f)
      fuzz_touch(frames[f]->data,
                 (size_t)pet_image_params_num_voxels(&frames[f]->params) * sizeof(float));
  }
  pet_image_free_frames(&frames, nt);
  pet_error_clear();
  return 0;
}
