#include "pet_storage.h"

#include <stdlib.h>
#include <string.h>

#include "pet_devmem.h"

static const char *space_name(pet_memspace space) { return space == PET_HOST ? "host" : "device"; }

pet_storage pet_storage_make(void *data, int64_t count, size_t elem_size, pet_ownership own,
                             pet_memspace space)
{
  pet_storage s;
  s.data = data;
  s.count = count;
  s.elem_size = elem_size;
  s.ownership = own;
  s.space = space;
  return s;
}

size_t pet_storage_bytes(const pet_storage *s) { return (size_t)s->count * s->elem_size; }

pet_status pet_storage_allocate(pet_storage *s, const char *what)
{
  PET_CHECK(s != NULL, PET_ERR_ARG, "%s: NULL", what);
  PET_CHECK(s->ownership == PET_OWNED, PET_ERR_STATE,
            "%s: allocate() called on an Alias %s; use bind()", what, what);
  if (s->data != NULL) return PET_OK;
  /* calloc(0) may return NULL; one element keeps "allocated" distinguishable from "not yet" */
  const size_t n = s->count > 0 ? (size_t)s->count : 1;
  const size_t bytes = n * s->elem_size;
  if (s->space == PET_HOST) {
    s->data = calloc(n, s->elem_size);
    PET_CHECK(s->data != NULL, PET_ERR_NOMEM,
              "%s: cannot allocate %zu bytes of host memory (%lld elements)", what, bytes,
              (long long)s->count);
    return PET_OK;
  }
  PET_CHECK(s->elem_size % sizeof(float) == 0, PET_ERR_ARG,
            "%s: device storage of %zu-byte elements is not supported", what, s->elem_size);
  void *p = NULL;
  PET_TRY(pet_gpu_malloc(&p, bytes, what));
  /* zero bits are 0.0f and 0u alike */
  pet_status st = pet_gpu_fill_f32(p, (int64_t)(bytes / sizeof(float)), 0.0f);
  if (st != PET_OK) {
    pet_gpu_free(p);
    return st;
  }
  s->data = p;
  return PET_OK;
}

pet_status pet_storage_bind(pet_storage *s, void *data, const char *what)
{
  PET_CHECK(s != NULL, PET_ERR_ARG, "%s: NULL", what);
  PET_CHECK(s->ownership == PET_ALIAS, PET_ERR_STATE,
            "%s: bind() called on an Owned %s; use allocate()", what, what);
  PET_CHECK(data != NULL, PET_ERR_ARG, "%s: bind() to a NULL pointer", what);
  s->data = data;
  return PET_OK;
}

void pet_storage_release(pet_storage *s)
{
  if (s == NULL) return;
  if (s->ownership == PET_OWNED && s->data != NULL) {
    if (s->space == PET_HOST)
      free(s->data);
    else
      pet_gpu_free(s->data);
  }
  s->data = NULL;
}

pet_status pet_storage_require(const pet_storage *s, const char *what)
{
  PET_CHECK(s != NULL, PET_ERR_ARG, "%s: NULL", what);
  PET_CHECK(s->data != NULL, PET_ERR_STATE, "%s used before %s", what,
            s->ownership == PET_OWNED ? "allocate()" : "bind()");
  return PET_OK;
}

pet_status pet_storage_require_space(const pet_storage *s, pet_memspace space, const char *what)
{
  PET_TRY(pet_storage_require(s, what));
  PET_CHECK(s->space == space, PET_ERR_STATE, "%s is in %s memory, %s memory expected", what,
            space_name(s->space), space_name(space));
  return PET_OK;
}

pet_status pet_storage_fill_f32(pet_storage *s, float value, const char *what)
{
  PET_TRY(pet_storage_require(s, what));
  PET_CHECK(s->elem_size == sizeof(float), PET_ERR_ARG,
            "pet_storage_fill_f32: elements of %zu bytes are not floats", s->elem_size);
  const int64_t n = s->count;
  if (s->space == PET_DEVICE) return pet_gpu_fill_f32(s->data, n, value);
  float *d = s->data;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) d[i] = value;
  return PET_OK;
}

pet_status pet_storage_copy(pet_storage *dst, const pet_storage *src, const char *what)
{
  PET_TRY(pet_storage_require(dst, what));
  PET_TRY(pet_storage_require(src, what));
  const size_t bytes = pet_storage_bytes(dst);
  PET_CHECK(bytes == pet_storage_bytes(src), PET_ERR_ARG,
            "%s copy: sizes differ (%zu vs %zu bytes)", what, bytes, pet_storage_bytes(src));
  if (dst->space == PET_HOST && src->space == PET_HOST) {
    memmove(dst->data, src->data, bytes);
    return PET_OK;
  }
  const int kind = dst->space == PET_DEVICE ? (src->space == PET_HOST ? 0 : 2) : 1;
  return pet_gpu_memcpy(dst->data, src->data, bytes, kind);
}
