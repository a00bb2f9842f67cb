/* Links an installed petrel: an Owned image, filled, summed; the version it was built as. */
#include <stdio.h>

#include "pet_image.h"
#include "pet_status.h"
#include "pet_version.h"

int main(void)
{
  pet_image *img = NULL;
  pet_image_params p = pet_image_params_make(4, 5, 6, 40.0f, 50.0f, 60.0f);
  pet_status st = pet_image_create_owned(&img, p, PET_HOST);
  if (st == PET_OK) st = pet_image_fill(img, 0.5f);
  if (st != PET_OK) {
    fprintf(stderr, "consumer: %s: %s\n", pet_status_name(st), pet_last_error());
    pet_image_destroy(&img);
    return 1;
  }
  double sum = 0.0;
  for (int64_t i = 0; i < pet_image_num_voxels(img); ++i) sum += img->data[i];
  printf("sum %.1f\n", sum);
  printf("petrel %s\n", PETREL_VERSION);
  pet_image_destroy(&img);
  return 0;
}
