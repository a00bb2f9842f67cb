/* petrel Python module: what the per-family files (py_image.c, py_scanner.c, py_projdata.c,
 * py_projector.c) share: status -> exception mapping, memory keepers for Alias objects
 * (a held Py_buffer or a consumed DLPack tensor) and DLPack export. */
#ifndef PETREL_PY_COMMON_H
#define PETREL_PY_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdbool.h>
#include <stdint.h>

#include "pet_image.h"
#include "pet_status.h"

/* METH_VARARGS | METH_KEYWORDS functions go into PyMethodDef through void(*)(void), which
 * -Wcast-function-type accepts. */
#define PY_METH(f) ((PyCFunction)(void (*)(void))(f))

/* pet_nifti.h comes from another branch; the module builds without it and says so. */
#if defined(__has_include)
#if __has_include("pet_nifti.h")
#include "pet_nifti.h"
#define PETREL_PY_HAVE_NIFTI 1
#endif
#endif
#ifndef PETREL_PY_HAVE_NIFTI
#define PETREL_PY_HAVE_NIFTI 0
#endif

/* ---- errors ---------------------------------------------------------------------------- */

/**
 * Raises the Python exception of a petrel status with pet_last_error() as its message:
 * PET_ERR_ARG/CONFIG -> ValueError, IO -> OSError, NOMEM -> MemoryError, STATE ->
 * RuntimeError, UNSUPPORTED -> NotImplementedError, anything else -> RuntimeError.
 * Returns NULL so that `return py_raise_status(st);` reads naturally.
 */
PyObject *py_raise_status(pet_status st);
/** 0 on PET_OK, else raises (py_raise_status) and returns -1. */
int py_check(pet_status st);

/** PyArg "O&" converter for a path (str, bytes or os.PathLike) into a bytes object. */
int py_path_converter(PyObject *o, void *out);

/* ---- DLPack (the public dlpack.h v0.8 ABI; unversioned "dltensor" capsules) ------------- */

typedef enum { PY_DL_CPU = 1, PY_DL_CUDA = 2, PY_DL_CUDA_HOST = 3, PY_DL_CUDA_MANAGED = 13 } py_dl_device_type;
typedef enum { PY_DL_INT = 0, PY_DL_UINT = 1, PY_DL_FLOAT = 2 } py_dl_type_code;

typedef struct py_dl_device {
  int32_t device_type; /* DLDeviceType: a C enum, int-sized */
  int32_t device_id;
} py_dl_device;

typedef struct py_dl_dtype {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
} py_dl_dtype;

typedef struct py_dl_tensor {
  void *data;
  py_dl_device device;
  int32_t ndim;
  py_dl_dtype dtype;
  int64_t *shape;
  int64_t *strides; /* in elements; NULL = compact row-major */
  uint64_t byte_offset;
} py_dl_tensor;

typedef struct py_dl_managed_tensor {
  py_dl_tensor dl_tensor;
  void *manager_ctx;
  void (*deleter)(struct py_dl_managed_tensor *self);
} py_dl_managed_tensor;

/* ---- Alias memory: what keeps bound memory alive ---------------------------------------- */

/** Element type of a bound or exported array. */
typedef enum py_elem { PY_ELEM_F32 = 0, PY_ELEM_U32 = 1 } py_elem;

/**
 * What an Alias object holds on to while bound: a buffer view of the bound object, or a
 * consumed DLPack tensor whose deleter runs on release, or nothing (raw device pointers,
 * which the caller keeps alive as in YRT-PET).
 */
typedef struct py_keeper {
  Py_buffer view;
  bool has_view;
  py_dl_managed_tensor *dl;
} py_keeper;

/**
 * Takes a writable, C-contiguous buffer of `elem` with exactly `shape` (ndim dims, named by
 * `dims`, e.g. "[nz, ny, nx]") from obj. On success releases what k held before, keeps the new
 * view and sets *data. On failure k is unchanged and a ValueError (TypeError for an object
 * without the buffer protocol) names `what` and the expected dtype, shape and layout.
 */
int py_keeper_bind_buffer(py_keeper *k, PyObject *obj, int ndim, const int64_t *shape,
                          const char *dims, py_elem elem, const char *what, void **data);
/** py_keeper_bind_buffer for memory that is only read: read-only buffers are accepted too. */
int py_keeper_bind_buffer_ro(py_keeper *k, PyObject *obj, int ndim, const int64_t *shape,
                             const char *dims, py_elem elem, const char *what, void **data);
/**
 * Consumes obj.__dlpack__() (obj.__dlpack_device__() must report one of the allowed device
 * types: PY_DL_CPU when want_device is false, PY_DL_CUDA or PY_DL_CUDA_MANAGED when true):
 * checks dtype, shape and compact row-major strides like py_keeper_bind_buffer, then keeps
 * the managed tensor. *device_id receives the tensor's device.
 */
int py_keeper_bind_dlpack(py_keeper *k, PyObject *obj, bool want_device, int ndim,
                          const int64_t *shape, const char *dims, py_elem elem, const char *what,
                          void **data, int *device_id);
/** Lets go of what k holds (NULL-safe on an empty keeper). */
void py_keeper_release(py_keeper *k);

/**
 * A DLPack capsule over `data` (ndim <= 4, compact row-major) owned by `owner`: the capsule
 * holds a reference to owner and keeps *pins incremented until the consumer's deleter runs.
 */
PyObject *py_dlpack_export(PyObject *owner, Py_ssize_t *pins, void *data, py_dl_device device,
                           int ndim, const int64_t *shape, py_elem elem);

/**
 * A numpy array over `data` (ndim <= 4, C-contiguous, writable unless readonly) that keeps
 * `owner` alive and *pins raised for as long as the array lives.
 */
PyObject *py_numpy_view(PyObject *owner, Py_ssize_t *pins, void *data, int ndim,
                        const int64_t *shape, py_elem elem, bool readonly);

/** BufferError naming `what` unless pins == 0 (rebinding under live views is refused). */
int py_check_unpinned(Py_ssize_t pins, const char *what);

/** Fills `view` for a writable C-contiguous float32 array of 3 dims over `data`, owned by obj
 *  (referenced by the view), honouring the consumer's flags; raises *pins. */
void py_fill_buffer3(Py_buffer *view, PyObject *obj, void *data, Py_ssize_t *shape,
                     Py_ssize_t *strides, int flags, Py_ssize_t *pins);
/** py_fill_buffer3 with ndim (1..4) dimensions. */
void py_fill_buffer_nd(Py_buffer *view, PyObject *obj, void *data, int ndim, Py_ssize_t *shape,
                       Py_ssize_t *strides, int flags, Py_ssize_t *pins);

/** The __array__(dtype=None, copy=None) method of objects with the buffer protocol: a numpy
 *  view of memoryview(self) (a copy when copy=True); the buffer's error when it has none. */
PyObject *py_array_method(PyObject *self, PyObject *args, PyObject *kwds);

/* ---- per-family registration (each adds its types to the module) ----------------------- */

int py_common_init(PyObject *m);
int py_image_init(PyObject *m);
int py_scanner_init(PyObject *m);
int py_projdata_init(PyObject *m);
int py_projector_init(PyObject *m);
int py_gpu_init(PyObject *m);
int py_osem_init(PyObject *m);
int py_job_init(PyObject *m);
int py_compat_init(PyObject *m); /* after the others: it uses their classes */

/* ---- images: used by the other families (projectors take images) ------------------------ */

typedef struct py_image_params_object {
  PyObject_HEAD
  pet_image_params p;
} py_image_params_object;

typedef struct py_image_object {
  PyObject_HEAD
  pet_image *img;      /* never NULL after construction */
  py_keeper keep;      /* Alias: what keeps the bound memory alive */
  Py_ssize_t pins;     /* exported buffers, DLPack tensors and running operations */
  int device_id;       /* device of the memory (device images) */
  Py_ssize_t shape[3]; /* nz, ny, nx for the buffer protocol */
  Py_ssize_t strides[3];
} py_image_object;

extern PyTypeObject py_image_params_type;
extern PyTypeObject py_image_base_type; /* ImageBase: every image */
extern PyTypeObject py_image_type;      /* Image: host images */
extern PyTypeObject py_image_device_type;

/** New ImageParams object holding a copy of p. */
PyObject *py_image_params_new(const pet_image_params *p);
/** A new host ImageOwned of grid p, allocated (zeroed). */
PyObject *py_image_owned_new(const pet_image_params *p);
/** The pet_image of a petrel image object, or NULL with a TypeError naming `what`. */
pet_image *py_image_get(PyObject *o, const char *what);

/* ---- scanners and projection data: used by the projectors --------------------------------- */

struct pet_scanner;
struct pet_histogram;
struct pet_listmode;

typedef struct py_scanner_object {
  PyObject_HEAD
  struct pet_scanner *s; /* never NULL after construction */
} py_scanner_object;

/** What every projection-data object starts with. */
typedef struct py_projdata_object {
  PyObject_HEAD
  PyObject *scanner; /* the Scanner; the C object borrows its pet_scanner */
  Py_ssize_t pins;   /* exported buffers/views and running operations */
} py_projdata_object;

typedef struct py_histogram_object {
  py_projdata_object base;
  struct pet_histogram *h;
  py_keeper keep;
  Py_ssize_t shape[4]; /* num_zbin, num_phi, num_r (, num_tof_bins for a TOF histogram) */
  Py_ssize_t strides[4];
  int ndim;            /* 3, or 4 for a TOF histogram */
} py_histogram_object;

typedef struct py_listmode_object {
  py_projdata_object base;
  struct pet_listmode *lm;
  bool has_tof;
  py_keeper keep[4]; /* time, d1, d2, tof */
} py_listmode_object;

/** BinIter: bins (histogram) or events (list-mode) of subset `subset` of `num_subsets`. */
typedef struct py_bin_iter_object {
  PyObject_HEAD
  PyObject *data; /* the ProjectionData iterated over */
  int32_t num_subsets, subset;
} py_bin_iter_object;

extern PyTypeObject py_scanner_type;
extern PyTypeObject py_projdata_type;
extern PyTypeObject py_histogram_type;
extern PyTypeObject py_listmode_type;
extern PyTypeObject py_bin_iter_type;

/* ---- projector parameters: used by the GPU operators and OSEM ---------------------------- */

#include "pet_projector.h"

typedef struct py_proj_params_object {
  PyObject_HEAD
  pet_projector_params p;
  PyObject *scanner;
} py_proj_params_object;

extern PyTypeObject py_proj_params_type;

/** "S", "MRS" or "DD". */
const char *py_projector_kind_name(const pet_projector_params *p);

#endif /* PETREL_PY_COMMON_H */
