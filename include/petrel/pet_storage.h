/* petrel: the one memory buffer under every Owned/Alias container (image, histogram, each
 * list-mode array). A pet_storage describes `count` elements of `elem_size` bytes at `data`,
 * in host or device memory, Owned (allocated and freed here) or Alias (bound caller memory).
 * The containers keep their public fields (data, ownership, space) as the one record of their
 * memory and pass a pet_storage made from them (pet_storage_make) to these functions, so the
 * allocate / bind / release / require / fill / copy rules and messages live in one place.
 * `what` names the container in messages ("image", "histogram", "list-mode"). */
#ifndef PET_STORAGE_H
#define PET_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pet_memspace { PET_HOST = 0, PET_DEVICE = 1 } pet_memspace;
typedef enum pet_ownership { PET_OWNED = 0, PET_ALIAS = 1 } pet_ownership;

typedef struct pet_storage {
  void *data;              /* NULL until allocate()/bind() */
  int64_t count;           /* elements */
  size_t elem_size;        /* bytes per element */
  pet_ownership ownership;
  pet_memspace space;      /* where data lives (or will) */
} pet_storage;

/** A descriptor of existing fields (no allocation). Local. */
pet_storage pet_storage_make(void *data, int64_t count, size_t elem_size, pet_ownership own,
                             pet_memspace space);
/** Bytes of the buffer (count * elem_size). Local. */
size_t pet_storage_bytes(const pet_storage *s);

/**
 * Owned only: allocates count elements (at least one, so that "allocated" differs from "not
 * yet" for 0 elements), zeroed, on the host (calloc) or the device (pet_devmem.h; elements
 * of a multiple of 4 bytes). A no-op when already allocated. Local.
 * Errors: PET_ERR_STATE on an Alias ("<what>: allocate() called on an Alias <what>; use
 * bind()"), PET_ERR_NOMEM, device errors.
 */
pet_status pet_storage_allocate(pet_storage *s, const char *what);
/**
 * Alias only: binds borrowed `data` (in s->space; it must outlive the binding). Rebinding is
 * allowed. Local.
 * Errors: PET_ERR_STATE on an Owned ("<what>: bind() called on an Owned <what>; use
 * allocate()"), PET_ERR_ARG on NULL data.
 */
pet_status pet_storage_bind(pet_storage *s, void *data, const char *what);
/** NULL-safe; frees data iff Owned; sets s->data = NULL. Local. */
void pet_storage_release(pet_storage *s);
/** PET_ERR_STATE "<what> used before allocate()" (Owned) or "... bind()" (Alias) when there
 *  is no memory. Local. */
pet_status pet_storage_require(const pet_storage *s, const char *what);
/** pet_storage_require, then PET_ERR_STATE "<what> is in host memory, device memory
 *  expected" (or the reverse) unless s->space == space. Local. */
pet_status pet_storage_require_space(const pet_storage *s, pet_memspace space, const char *what);
/** Sets every element (elem_size 4, float) to value, on the host or the device. Local.
 *  Errors: those of pet_storage_require, PET_ERR_ARG for another element size. */
pet_status pet_storage_fill_f32(pet_storage *s, float value, const char *what);
/** Copies src's bytes into dst (equal sizes), in any memory spaces; host to host may
 *  overlap. Local. Errors: those of pet_storage_require, PET_ERR_ARG for unequal sizes. */
pet_status pet_storage_copy(pet_storage *dst, const pet_storage *src, const char *what);

#ifdef __cplusplus
}
#endif
#endif /* PET_STORAGE_H */
