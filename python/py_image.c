/* petrel Python module: ImageParams and the image classes.
 *
 *   ImageBase ─┬─ Image ─────────┬─ ImageOwned        host, buffer protocol [nz, ny, nx]
 *              │                 └─ ImageAlias        binds a buffer (numpy) or a CPU DLPack tensor
 *              └─ ImageDevice ───┬─ ImageDeviceOwned  CUDA memory, __dlpack__ export
 *                                └─ ImageDeviceAlias  setDevicePointer(int) or bind(DLPack tensor)
 *
 * All share py_image_object. `pins` counts what may touch the memory without holding the
 * object's state stable (exported buffers, DLPack tensors, operations running without the
 * GIL); while pinned, an Alias cannot be rebound. */
#include "py_common.h" /* first: Python.h must precede the system headers */

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <structmember.h>

#include "pet_gpu.h"
#include "pet_image_json.h"

/* ---- ImageParams ------------------------------------------------------------------------ */

static pet_status read_params_file(pet_image_params *p, const char *path)
{
  return pet_image_params_read_json(p, path);
}

/* ImageParams(nx, ny, nz, length_x, length_y, length_z, off_x=0, off_y=0, off_z=0, nt=1)
 * | ImageParams(filename) | ImageParams(other). YRT-PET spells the offsets offset_x/y/z as
 * keywords; both spellings are accepted. */
static PyObject *params_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"nx",    "ny",    "nz",    "length_x", "length_y", "length_z",
                           "off_x", "off_y", "off_z", "nt",       NULL};
  pet_image_params p;
  const Py_ssize_t nargs = PyTuple_GET_SIZE(args);
  const Py_ssize_t nkw = kwds ? PyDict_GET_SIZE(kwds) : 0;
  if (nargs == 1 && nkw == 0) {
    PyObject *a = PyTuple_GET_ITEM(args, 0);
    if (PyObject_TypeCheck(a, &py_image_params_type)) {
      p = ((py_image_params_object *)a)->p;
    } else if (PyUnicode_Check(a) || PyBytes_Check(a) || PyObject_HasAttrString(a, "__fspath__")) {
      PyObject *fname = NULL;
      pet_status st;
      if (!py_path_converter(a, &fname)) return NULL;
      const char *path = PyBytes_AS_STRING(fname);
      Py_BEGIN_ALLOW_THREADS
      st = read_params_file(&p, path);
      Py_END_ALLOW_THREADS
      Py_DECREF(fname);
      if (st != PET_OK) return py_raise_status(st);
    } else {
      PyErr_Format(PyExc_TypeError,
                   "ImageParams: expected (nx, ny, nz, length_x, length_y, length_z, ...), "
                   "(filename) or (ImageParams), got '%.100s'",
                   Py_TYPE(a)->tp_name);
      return NULL;
    }
  } else {
    int nx, ny, nz, nt = 1;
    float lx, ly, lz, off[3] = {0.0f, 0.0f, 0.0f};
    PyObject *kw = NULL;
    if (kwds != NULL) {
      kw = PyDict_Copy(kwds);
      if (kw == NULL) return NULL;
      static const char *yrt_names[3] = {"offset_x", "offset_y", "offset_z"};
      static const char *our_names[3] = {"off_x", "off_y", "off_z"};
      for (int i = 0; i < 3; ++i) {
        PyObject *v = PyDict_GetItemString(kw, yrt_names[i]);
        if (v == NULL) continue;
        if (PyDict_GetItemString(kw, our_names[i]) != NULL || nargs > 6 + i) {
          Py_DECREF(kw);
          PyErr_Format(PyExc_TypeError, "ImageParams: %s given twice (as %s and %s)",
                       our_names[i], our_names[i], yrt_names[i]);
          return NULL;
        }
        if (PyDict_SetItemString(kw, our_names[i], v) != 0 ||
            PyDict_DelItemString(kw, yrt_names[i]) != 0) {
          Py_DECREF(kw);
          return NULL;
        }
      }
    }
    int ok = PyArg_ParseTupleAndKeywords(args, kw, "iiifff|fffi:ImageParams", kwlist, &nx, &ny,
                                         &nz, &lx, &ly, &lz, &off[0], &off[1], &off[2], &nt);
    Py_XDECREF(kw);
    if (!ok) return NULL;
    if (nt != 1)
      return py_raise_status(PET_ERROR(nt < 1 ? PET_ERR_ARG : PET_ERR_UNSUPPORTED,
                                       "ImageParams: nt=%d: petrel images have one frame "
                                       "(nt=1); dynamic images are not supported",
                                       nt));
    p = pet_image_params_make(nx, ny, nz, lx, ly, lz);
    p.off_x = off[0];
    p.off_y = off[1];
    p.off_z = off[2];
  }
  if (py_check(pet_image_params_check(&p)) != 0) return NULL;
  py_image_params_object *self = (py_image_params_object *)type->tp_alloc(type, 0);
  if (self == NULL) return NULL;
  self->p = p;
  return (PyObject *)self;
}

static PyObject *params_repr(py_image_params_object *self)
{
  char buf[320];
  const pet_image_params *p = &self->p;
  snprintf(buf, sizeof buf,
           "ImageParams(nx=%d, ny=%d, nz=%d, length_x=%g, length_y=%g, length_z=%g, off_x=%g, "
           "off_y=%g, off_z=%g)",
           p->nx, p->ny, p->nz, (double)p->length_x, (double)p->length_y, (double)p->length_z,
           (double)p->off_x, (double)p->off_y, (double)p->off_z);
  return PyUnicode_FromString(buf);
}

static PyObject *params_richcompare(PyObject *a, PyObject *b, int op)
{
  if ((op != Py_EQ && op != Py_NE) || !PyObject_TypeCheck(b, &py_image_params_type))
    Py_RETURN_NOTIMPLEMENTED;
  bool eq = pet_image_params_equal(&((py_image_params_object *)a)->p,
                                   &((py_image_params_object *)b)->p);
  return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyObject *params_get_vx(py_image_params_object *self, void *c)
{
  return PyFloat_FromDouble((double)pet_image_vx(&self->p));
}
static PyObject *params_get_vy(py_image_params_object *self, void *c)
{
  return PyFloat_FromDouble((double)pet_image_vy(&self->p));
}
static PyObject *params_get_vz(py_image_params_object *self, void *c)
{
  return PyFloat_FromDouble((double)pet_image_vz(&self->p));
}
static PyObject *params_get_nt(py_image_params_object *self, void *c) { return PyLong_FromLong(1); }

/* YRT-PET's ImageParams::setup: the largest transaxial half-length, less a thousandth of a
 * voxel so that the circle stays inside the grid. */
static double params_fov_radius(const pet_image_params *p)
{
  double vx = (double)pet_image_vx(p), vy = (double)pet_image_vy(p);
  double r = fmax((double)p->length_x / 2.0, (double)p->length_y / 2.0);
  return r - fmax(vx, vy) / 1000.0;
}
static PyObject *params_get_fov_radius(py_image_params_object *self, void *c)
{
  return PyFloat_FromDouble(params_fov_radius(&self->p));
}

static PyObject *params_serialize(py_image_params_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"fname", NULL};
  PyObject *fname = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&:serialize", kwlist, py_path_converter, &fname))
    return NULL;
  const char *path = PyBytes_AS_STRING(fname);
  pet_image_params p = self->p;
  pet_status st;
  Py_BEGIN_ALLOW_THREADS
  st = pet_image_params_write_json(&p, path);
  Py_END_ALLOW_THREADS
  Py_DECREF(fname);
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *params_deserialize(py_image_params_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"fname", NULL};
  PyObject *fname = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&:deserialize", kwlist, py_path_converter,
                                   &fname))
    return NULL;
  const char *path = PyBytes_AS_STRING(fname);
  pet_image_params p;
  pet_status st;
  Py_BEGIN_ALLOW_THREADS
  st = read_params_file(&p, path);
  Py_END_ALLOW_THREADS
  Py_DECREF(fname);
  if (st != PET_OK) return py_raise_status(st);
  self->p = p; /* only on success: a bad file leaves the object as it was */
  Py_RETURN_NONE;
}

static PyObject *params_to_string(py_image_params_object *self, PyObject *unused)
{
  char *text = NULL;
  if (py_check(pet_image_params_to_json(&self->p, &text)) != 0) return NULL;
  PyObject *r = PyUnicode_FromString(text);
  free(text);
  return r;
}

static PyObject *params_get_shape(py_image_params_object *self, PyObject *unused)
{
  return Py_BuildValue("(iiii)", 1, self->p.nz, self->p.ny, self->p.nx);
}

static py_image_params_object *params_arg(PyObject *args, PyObject *kwds, const char *fmt)
{
  static char *kwlist[] = {"other", NULL};
  PyObject *o = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &py_image_params_type, &o)) return NULL;
  return (py_image_params_object *)o;
}

#define PARAMS_TOL 1e-4f
static bool same_dims(const pet_image_params *a, const pet_image_params *b)
{
  return a->nx == b->nx && a->ny == b->ny && a->nz == b->nz;
}
static bool same_lengths(const pet_image_params *a, const pet_image_params *b)
{
  return fabsf(a->length_x - b->length_x) <= PARAMS_TOL &&
         fabsf(a->length_y - b->length_y) <= PARAMS_TOL &&
         fabsf(a->length_z - b->length_z) <= PARAMS_TOL;
}
static bool same_offsets(const pet_image_params *a, const pet_image_params *b)
{
  return fabsf(a->off_x - b->off_x) <= PARAMS_TOL && fabsf(a->off_y - b->off_y) <= PARAMS_TOL &&
         fabsf(a->off_z - b->off_z) <= PARAMS_TOL;
}

#define PARAMS_SAME(fn, test)                                                                    \
  static PyObject *params_##fn(py_image_params_object *self, PyObject *args, PyObject *kwds)     \
  {                                                                                              \
    py_image_params_object *o = params_arg(args, kwds, "O!:" #fn);                               \
    if (o == NULL) return NULL;                                                                  \
    return PyBool_FromLong(test(&self->p, &o->p));                                               \
  }
PARAMS_SAME(isSameAs, pet_image_params_equal)
PARAMS_SAME(isSameAsIgnoreFrames, pet_image_params_equal)
PARAMS_SAME(isSameDimensionsAs, same_dims)
PARAMS_SAME(isSameLengthsAs, same_lengths)
PARAMS_SAME(isSameOffsetAs, same_offsets)

/* fromParams(nx, ny, nz, vx, vy, vz, origin_x, origin_y, origin_z, nt=1): the grid whose voxel
 * (0, 0, 0) is centred at the origin; fromParams(nx, ny, nz, vx, vy, vz, nt=1): centred at 0. */
static PyObject *params_from_params(PyTypeObject *cls, PyObject *args, PyObject *kwds)
{
  static char *kw_origin[] = {"nx", "ny", "nz", "vx", "vy", "vz", "origin_x", "origin_y",
                              "origin_z", "nt", NULL};
  static char *kw_centred[] = {"nx", "ny", "nz", "vx", "vy", "vz", "nt", NULL};
  int nx, ny, nz, nt = 1;
  float v[3], o[3] = {0.0f, 0.0f, 0.0f};
  const bool with_origin = PyTuple_GET_SIZE(args) > 7 ||
                           (kwds != NULL && PyDict_GetItemString(kwds, "origin_x") != NULL);
  int ok = with_origin
               ? PyArg_ParseTupleAndKeywords(args, kwds, "iiiffffff|i:fromParams", kw_origin, &nx,
                                             &ny, &nz, &v[0], &v[1], &v[2], &o[0], &o[1], &o[2], &nt)
               : PyArg_ParseTupleAndKeywords(args, kwds, "iiifff|i:fromParams", kw_centred, &nx,
                                             &ny, &nz, &v[0], &v[1], &v[2], &nt);
  if (!ok) return NULL;
  if (nt != 1)
    return py_raise_status(PET_ERROR(PET_ERR_UNSUPPORTED,
                                     "fromParams: nt=%d: petrel images have one frame (nt=1)", nt));
  pet_image_params p = pet_image_params_make(nx, ny, nz, nx * v[0], ny * v[1], nz * v[2]);
  if (with_origin) {
    p.off_x = o[0] + (float)(nx - 1) / 2.0f * v[0];
    p.off_y = o[1] + (float)(ny - 1) / 2.0f * v[1];
    p.off_z = o[2] + (float)(nz - 1) / 2.0f * v[2];
  }
  if (py_check(pet_image_params_check(&p)) != 0) return NULL;
  py_image_params_object *self = (py_image_params_object *)cls->tp_alloc(cls, 0);
  if (self != NULL) self->p = p;
  return (PyObject *)self;
}

/* Pickling: (ImageParams, (nx, ny, nz, length_x, length_y, length_z, off_x, off_y, off_z)). */
static PyObject *params_reduce(py_image_params_object *self, PyObject *unused)
{
  const pet_image_params *p = &self->p;
  return Py_BuildValue("(O(iiiffffff))", (PyObject *)Py_TYPE(self), p->nx, p->ny, p->nz,
                       (double)p->length_x, (double)p->length_y, (double)p->length_z,
                       (double)p->off_x, (double)p->off_y, (double)p->off_z);
}

#define PARAM_MEMBER(name, type, doc)                                                            \
  {#name, type, offsetof(py_image_params_object, p) + offsetof(pet_image_params, name), READONLY, doc}

static PyMemberDef params_members[] = {
    PARAM_MEMBER(nx, T_INT, "Number of voxels along x."),
    PARAM_MEMBER(ny, T_INT, "Number of voxels along y."),
    PARAM_MEMBER(nz, T_INT, "Number of voxels along z."),
    PARAM_MEMBER(length_x, T_FLOAT, "Image extent along x, mm."),
    PARAM_MEMBER(length_y, T_FLOAT, "Image extent along y, mm."),
    PARAM_MEMBER(length_z, T_FLOAT, "Image extent along z, mm."),
    PARAM_MEMBER(off_x, T_FLOAT, "x of the image centre in the scanner frame, mm."),
    PARAM_MEMBER(off_y, T_FLOAT, "y of the image centre in the scanner frame, mm."),
    PARAM_MEMBER(off_z, T_FLOAT, "z of the image centre in the scanner frame, mm."),
    {NULL, 0, 0, 0, NULL}};

static PyGetSetDef params_getset[] = {
    {"vx", (getter)params_get_vx, NULL, "Voxel size along x (length_x / nx), mm.", NULL},
    {"vy", (getter)params_get_vy, NULL, "Voxel size along y (length_y / ny), mm.", NULL},
    {"vz", (getter)params_get_vz, NULL, "Voxel size along z (length_z / nz), mm.", NULL},
    {"nt", (getter)params_get_nt, NULL, "Number of frames: always 1 in petrel.", NULL},
    {"fov_radius", (getter)params_get_fov_radius, NULL,
     "YRT-PET's image FOV radius: max(length_x, length_y) / 2 - max(vx, vy) / 1000, mm.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef params_methods[] = {
    {"serialize", PY_METH(params_serialize), METH_VARARGS | METH_KEYWORDS,
     "serialize($self, /, fname)\n--\n\nWrites YRT-PET's image-parameters JSON (VERSION, nx, ny, "
     "nz, vx, vy, vz, off_x, off_y, off_z, nt), atomically. OSError naming the file."},
    {"writeToFile", PY_METH(params_serialize), METH_VARARGS | METH_KEYWORDS,
     "writeToFile($self, /, fname)\n--\n\nSame as serialize(fname)."},
    {"deserialize", PY_METH(params_deserialize), METH_VARARGS | METH_KEYWORDS,
     "deserialize($self, /, fname)\n--\n\nReplaces this grid by the one of an image-parameters "
     "JSON (as ImageParams(fname) reads it). ValueError naming the file and the field for "
     "malformed JSON or a missing/bad field (the object is then unchanged); OSError when the "
     "file cannot be read; NotImplementedError for nt > 1."},
    {"readFromFile", PY_METH(params_deserialize), METH_VARARGS | METH_KEYWORDS,
     "readFromFile($self, /, fname)\n--\n\nSame as deserialize(fname)."},
    {"toString", (PyCFunction)params_to_string, METH_NOARGS,
     "toString($self, /)\n--\n\nReturns str: The image-parameters JSON text serialize writes."},
    {"getShape", (PyCFunction)params_get_shape, METH_NOARGS,
     "getShape($self, /)\n--\n\nReturns tuple: (nt, nz, ny, nx), nt = 1."},
    {"isSameAs", PY_METH(params_isSameAs), METH_VARARGS | METH_KEYWORDS,
     "isSameAs($self, /, other)\n--\n\nSame dimensions, lengths and offsets (within 1e-4 mm)."},
    {"isSameAsIgnoreFrames", PY_METH(params_isSameAsIgnoreFrames), METH_VARARGS | METH_KEYWORDS,
     "isSameAsIgnoreFrames($self, /, other)\n--\n\nSame as isSameAs (petrel images have one "
     "frame)."},
    {"isSameDimensionsAs", PY_METH(params_isSameDimensionsAs), METH_VARARGS | METH_KEYWORDS,
     "isSameDimensionsAs($self, /, other)\n--\n\nSame nx, ny, nz."},
    {"isSameLengthsAs", PY_METH(params_isSameLengthsAs), METH_VARARGS | METH_KEYWORDS,
     "isSameLengthsAs($self, /, other)\n--\n\nSame length_x/y/z (within 1e-4 mm)."},
    {"isSameOffsetAs", PY_METH(params_isSameOffsetAs), METH_VARARGS | METH_KEYWORDS,
     "isSameOffsetAs($self, /, other)\n--\n\nSame off_x/y/z (within 1e-4 mm)."},
    {"fromParams", PY_METH(params_from_params), METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "fromParams($type, /, nx, ny, nz, vx, vy, vz, origin_x=..., origin_y=..., origin_z=..., "
     "nt=1)\n--\n\nReturns ImageParams from voxel sizes (mm): centred at 0, or, with origin_x/y/z, "
     "with voxel (0, 0, 0) centred at the origin."},
    {"__reduce__", (PyCFunction)params_reduce, METH_NOARGS,
     "__reduce__($self, /)\n--\n\nPickling support."},
    {NULL, NULL, 0, NULL}};

PyTypeObject py_image_params_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.ImageParams",
    .tp_basicsize = sizeof(py_image_params_object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "ImageParams(nx, ny, nz, length_x, length_y, length_z, off_x=0, off_y=0, off_z=0,\n"
              "            nt=1) | ImageParams(filename) | ImageParams(other)\n\n"
              "Image geometry: nx x ny x nz voxels over length_x/y/z mm, centred at\n"
              "(off_x, off_y, off_z) mm in the scanner frame (YRT-PET's keywords offset_x/y/z\n"
              "are accepted too). Voxel sizes vx/vy/vz are length/n. Arrays over an image\n"
              "have shape [nz, ny, nx] (x fastest). From a file: YRT-PET's image-parameters\n"
              "JSON (ValueError naming the file and the field when it is malformed).\n"
              "Attributes are read-only (deserialize replaces the whole grid); compares equal\n"
              "to params of the same grid (within 1e-4 mm). nt > 1: NotImplementedError.",
    .tp_new = params_new,
    .tp_repr = (reprfunc)params_repr,
    .tp_richcompare = params_richcompare,
    .tp_members = params_members,
    .tp_getset = params_getset,
    .tp_methods = params_methods,
};

PyObject *py_image_params_new(const pet_image_params *p)
{
  py_image_params_object *o =
      (py_image_params_object *)py_image_params_type.tp_alloc(&py_image_params_type, 0);
  if (o != NULL) o->p = *p;
  return (PyObject *)o;
}

/* ---- images: types and helpers ---------------------------------------------------------- */

PyTypeObject py_image_base_type;
PyTypeObject py_image_type;
PyTypeObject py_image_device_type;
static PyTypeObject image_owned_type;
static PyTypeObject image_alias_type;
static PyTypeObject image_device_owned_type;
static PyTypeObject image_device_alias_type;

static const char image_dims[] = "[nz, ny, nx]";

pet_image *py_image_get(PyObject *o, const char *what)
{
  if (!PyObject_TypeCheck(o, &py_image_base_type)) {
    PyErr_Format(PyExc_TypeError, "%s: expected a petrel image, got '%.100s'", what,
                 Py_TYPE(o)->tp_name);
    return NULL;
  }
  return ((py_image_object *)o)->img;
}

static void image_shape(const py_image_object *self, int64_t shape[3])
{
  shape[0] = self->img->params.nz;
  shape[1] = self->img->params.ny;
  shape[2] = self->img->params.nx;
}

#if PETREL_PY_HAVE_NIFTI
/* Reads a NIfTI file into a new Owned image of `space`; `want`, when given, must match. */
static pet_status read_image(pet_image **out, const char *path, const pet_image_params *want,
                             pet_memspace space)
{
  pet_status st = PET_OK;
  pet_image *host = NULL, *dev = NULL;
  PET_TRY_GOTO(st, pet_image_read_nifti(&host, path), out);
  if (want != NULL && !pet_image_params_equal(want, &host->params)) {
    st = PET_ERROR(PET_ERR_ARG,
                   "%s: the file's image is %dx%dx%d voxels over %gx%gx%g mm, the ImageParams "
                   "given are %dx%dx%d over %gx%gx%g mm",
                   path, host->params.nx, host->params.ny, host->params.nz,
                   (double)host->params.length_x, (double)host->params.length_y,
                   (double)host->params.length_z, want->nx, want->ny, want->nz,
                   (double)want->length_x, (double)want->length_y, (double)want->length_z);
    goto out;
  }
  if (space == PET_HOST) {
    *out = host;
    host = NULL;
  } else {
    PET_TRY_GOTO(st, pet_image_create_owned(&dev, host->params, PET_DEVICE), out);
    PET_TRY_GOTO(st, pet_image_copy(dev, host), out);
    *out = dev;
    dev = NULL;
  }
out:
  pet_image_destroy(&host);
  pet_image_destroy(&dev);
  return st;
}

static pet_status write_image(const pet_image *img, const char *path)
{
  if (img->space == PET_HOST) return pet_image_write_nifti(img, path);
  pet_status st = PET_OK;
  pet_image *host = NULL;
  PET_TRY_GOTO(st, pet_image_create_owned(&host, img->params, PET_HOST), out);
  PET_TRY_GOTO(st, pet_image_copy(host, img), out);
  st = pet_image_write_nifti(host, path);
out:
  pet_image_destroy(&host);
  return st;
}
#else
static const char no_nifti[] = "NIfTI files need pet_nifti, which this petrel build lacks";
static pet_status read_image(pet_image **out, const char *path, const pet_image_params *want,
                             pet_memspace space)
{
  (void)out, (void)path, (void)want, (void)space;
  return PET_ERROR(PET_ERR_UNSUPPORTED, "%s (reading %s)", no_nifti, path);
}
static pet_status write_image(const pet_image *img, const char *path)
{
  (void)img;
  return PET_ERROR(PET_ERR_UNSUPPORTED, "%s (writing %s)", no_nifti, path);
}
#endif /* PETREL_PY_HAVE_NIFTI */

static py_image_object *image_alloc(PyTypeObject *type, pet_image *img)
{
  py_image_object *self = (py_image_object *)type->tp_alloc(type, 0);
  if (self == NULL) {
    pet_image_destroy(&img);
    return NULL;
  }
  self->img = img;
  self->shape[0] = img->params.nz;
  self->shape[1] = img->params.ny;
  self->shape[2] = img->params.nx;
  self->strides[2] = (Py_ssize_t)sizeof(float);
  self->strides[1] = self->strides[2] * img->params.nx;
  self->strides[0] = self->strides[1] * img->params.ny;
  return self;
}

PyObject *py_image_owned_new(const pet_image_params *p)
{
  pet_image *img = NULL;
  if (py_check(pet_image_create_owned(&img, *p, PET_HOST)) != 0) return NULL;
  return (PyObject *)image_alloc(&image_owned_type, img);
}

/* ImageOwned / ImageAlias / ImageDeviceOwned / ImageDeviceAlias (and Python subclasses). */
static PyObject *image_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"params", "filename", NULL};
  PyObject *first = NULL, *fname = NULL;
  pet_memspace space = PyType_IsSubtype(type, &py_image_device_type) ? PET_DEVICE : PET_HOST;
  bool owned = PyType_IsSubtype(type, &image_owned_type) ||
               PyType_IsSubtype(type, &image_device_owned_type);
  pet_image *img = NULL;
  pet_status st;

  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O&", kwlist, &first, py_path_converter, &fname))
    return NULL;
  if (space == PET_DEVICE && !pet_gpu_compiled())
    return py_raise_status(PET_ERROR(PET_ERR_UNSUPPORTED,
                                     "%s: this petrel build has no CUDA support (rebuild with "
                                     "-DPET_ENABLE_CUDA=ON)",
                                     type->tp_name));
  bool first_is_params = PyObject_TypeCheck(first, &py_image_params_type);
  if (!owned && (!first_is_params || fname != NULL)) {
    Py_XDECREF(fname);
    PyErr_Format(PyExc_TypeError, "%s(params): expected an ImageParams, got '%.100s'",
                 type->tp_name, Py_TYPE(first)->tp_name);
    return NULL;
  }
  if (!first_is_params) {
    if (fname != NULL) {
      Py_DECREF(fname);
      PyErr_Format(PyExc_TypeError, "%s(params, filename): expected an ImageParams first",
                   type->tp_name);
      return NULL;
    }
    if (!py_path_converter(first, &fname)) {
      PyErr_Format(PyExc_TypeError,
                   "%s: expected (params), (params, filename) or (filename), got '%.100s'",
                   type->tp_name, Py_TYPE(first)->tp_name);
      return NULL;
    }
  }
  if (fname != NULL) {
    const pet_image_params *want = first_is_params ? &((py_image_params_object *)first)->p : NULL;
    const char *path = PyBytes_AS_STRING(fname);
    Py_BEGIN_ALLOW_THREADS
    st = read_image(&img, path, want, space);
    Py_END_ALLOW_THREADS
    Py_DECREF(fname);
  } else {
    st = pet_image_create(&img, ((py_image_params_object *)first)->p,
                          owned ? PET_OWNED : PET_ALIAS, space);
  }
  if (st != PET_OK) return py_raise_status(st);
  return (PyObject *)image_alloc(type, img);
}

static void image_dealloc(py_image_object *self)
{
  py_keeper_release(&self->keep);
  pet_image_destroy(&self->img);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *image_repr(py_image_object *self)
{
  const pet_image_params *p = &self->img->params;
  return PyUnicode_FromFormat("<%s %dx%dx%d (nx, ny, nz), %s>", Py_TYPE(self)->tp_name, p->nx,
                              p->ny, p->nz,
                              self->img->data == NULL
                                  ? (self->img->ownership == PET_OWNED ? "not allocated" : "not bound")
                                  : (self->img->ownership == PET_OWNED ? "allocated" : "bound"));
}

/* ---- ImageBase methods ------------------------------------------------------------------ */

static PyObject *image_get_params(py_image_object *self, PyObject *unused)
{
  return py_image_params_new(&self->img->params);
}

static PyObject *image_is_memory_valid(py_image_object *self, PyObject *unused)
{
  return PyBool_FromLong(self->img->data != NULL);
}

static PyObject *image_set_value(py_image_object *self, PyObject *arg)
{
  double v = PyFloat_AsDouble(arg);
  if (v == -1.0 && PyErr_Occurred()) return NULL;
  pet_status st;
  ++self->pins;
  Py_BEGIN_ALLOW_THREADS
  st = pet_image_fill(self->img, (float)v);
  Py_END_ALLOW_THREADS
  --self->pins;
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *copy_images(py_image_object *dst, PyObject *src_obj, const char *what)
{
  if (py_image_get(src_obj, what) == NULL) return NULL;
  py_image_object *src = (py_image_object *)src_obj;
  pet_status st;
  ++dst->pins;
  ++src->pins;
  Py_BEGIN_ALLOW_THREADS
  st = pet_image_copy(dst->img, src->img);
  Py_END_ALLOW_THREADS
  --dst->pins;
  --src->pins;
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *image_copy_from_image(py_image_object *self, PyObject *src)
{
  return copy_images(self, src, "copyFromImage");
}

/* ---- voxel arithmetic (host images; YRT-PET's ImageBase/Image methods) ------------------ */

/* The image's voxels on the host, or NULL with NotImplementedError (device image) or
 * RuntimeError (no memory yet) naming `what`. */
static float *host_voxels(PyObject *o, const char *what, const char *role)
{
  pet_image *img = py_image_get(o, what);
  if (img == NULL) return NULL;
  if (img->space != PET_HOST) {
    py_raise_status(PET_ERROR(PET_ERR_UNSUPPORTED,
                              "%s: %s is a device image; petrel does this on host images only "
                              "(transferToHostMemory first)",
                              what, role));
    return NULL;
  }
  if (py_check(pet_image_require(img, PET_HOST)) != 0) return NULL;
  return img->data;
}

/* Both host images with memory and the same grid; ValueError naming the grids otherwise. */
static int host_pair(PyObject *a, PyObject *b, const char *what, const char *role_b, float **da,
                     float **db)
{
  if ((*da = host_voxels(a, what, "this image")) == NULL) return -1;
  if ((*db = host_voxels(b, what, role_b)) == NULL) return -1;
  const pet_image_params *pa = &((py_image_object *)a)->img->params;
  const pet_image_params *pb = &((py_image_object *)b)->img->params;
  if (!pet_image_params_equal(pa, pb)) {
    py_raise_status(PET_ERROR(PET_ERR_ARG,
                              "%s: %s is %dx%dx%d voxels over %gx%gx%g mm, this image %dx%dx%d "
                              "over %gx%gx%g mm",
                              what, role_b, pb->nx, pb->ny, pb->nz, (double)pb->length_x,
                              (double)pb->length_y, (double)pb->length_z, pa->nx, pa->ny, pa->nz,
                              (double)pa->length_x, (double)pa->length_y, (double)pa->length_z));
    return -1;
  }
  return 0;
}

static int64_t voxels_of(PyObject *o) { return pet_image_num_voxels(((py_image_object *)o)->img); }

static PyObject *image_fill(py_image_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"value", NULL};
  PyObject *v = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:fill", kwlist, &v)) return NULL;
  return image_set_value(self, v);
}

static PyObject *image_mult_scalar(py_image_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"scalar", NULL};
  float c;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "f:multWithScalar", kwlist, &c)) return NULL;
  float *x = host_voxels((PyObject *)self, "multWithScalar", "this image");
  if (x == NULL) return NULL;
  const int64_t n = voxels_of((PyObject *)self);
  ++self->pins;
  Py_BEGIN_ALLOW_THREADS
  for (int64_t i = 0; i < n; ++i) x[i] *= c;
  Py_END_ALLOW_THREADS
  --self->pins;
  Py_RETURN_NONE;
}

static PyObject *image_add_to_second(py_image_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"second", NULL};
  PyObject *second = NULL;
  float *x, *y;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:addFirstImageToSecond", kwlist, &second))
    return NULL;
  if (host_pair((PyObject *)self, second, "addFirstImageToSecond", "second", &x, &y) != 0)
    return NULL;
  const int64_t n = voxels_of((PyObject *)self);
  py_image_object *o = (py_image_object *)second;
  ++self->pins;
  ++o->pins;
  Py_BEGIN_ALLOW_THREADS
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
  Py_END_ALLOW_THREADS
  --self->pins;
  --o->pins;
  Py_RETURN_NONE;
}

static PyObject *image_apply_threshold(py_image_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"maskImage",    "threshold",    "val_le_scale", "val_le_off",
                           "val_gt_scale", "val_gt_off",   NULL};
  PyObject *mask_obj = NULL;
  float thr, le_scale, le_off, gt_scale, gt_off;
  float *x, *m;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "Offfff:applyThreshold", kwlist, &mask_obj, &thr,
                                   &le_scale, &le_off, &gt_scale, &gt_off))
    return NULL;
  if (host_pair((PyObject *)self, mask_obj, "applyThreshold", "maskImage", &x, &m) != 0)
    return NULL;
  const int64_t n = voxels_of((PyObject *)self);
  py_image_object *o = (py_image_object *)mask_obj;
  ++self->pins;
  ++o->pins;
  Py_BEGIN_ALLOW_THREADS
  for (int64_t i = 0; i < n; ++i)
    x[i] = m[i] <= thr ? x[i] * le_scale + le_off : x[i] * gt_scale + gt_off;
  Py_END_ALLOW_THREADS
  --self->pins;
  --o->pins;
  Py_RETURN_NONE;
}

static PyObject *image_update_em(py_image_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"update_img", "sens_img", "threshold", NULL};
  PyObject *up_obj = NULL, *sens_obj = NULL;
  float thr;
  float *x, *u, *s;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOf:updateEMThresholdStatic", kwlist, &up_obj,
                                   &sens_obj, &thr))
    return NULL;
  if (host_pair((PyObject *)self, up_obj, "updateEMThresholdStatic", "update_img", &x, &u) != 0 ||
      host_pair((PyObject *)self, sens_obj, "updateEMThresholdStatic", "sens_img", &x, &s) != 0)
    return NULL;
  const int64_t n = voxels_of((PyObject *)self);
  ++self->pins;
  Py_BEGIN_ALLOW_THREADS
  for (int64_t i = 0; i < n; ++i)
    if (s[i] > thr) x[i] *= u[i] / s[i];
  Py_END_ALLOW_THREADS
  --self->pins;
  Py_RETURN_NONE;
}

static PyObject *image_dot(py_image_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"y", NULL};
  PyObject *y_obj = NULL;
  float *x, *y;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:dotProduct", kwlist, &y_obj)) return NULL;
  if (host_pair((PyObject *)self, y_obj, "dotProduct", "y", &x, &y) != 0) return NULL;
  const int64_t n = voxels_of((PyObject *)self);
  double sum = 0.0;
  ++self->pins;
  Py_BEGIN_ALLOW_THREADS
  for (int64_t i = 0; i < n; ++i) sum += (double)x[i] * (double)y[i];
  Py_END_ALLOW_THREADS
  --self->pins;
  return PyFloat_FromDouble(sum);
}

static PyObject *image_voxel_sum(py_image_object *self, PyObject *unused)
{
  float *x = host_voxels((PyObject *)self, "voxelSum", "this image");
  if (x == NULL) return NULL;
  const int64_t n = voxels_of((PyObject *)self);
  double sum = 0.0;
  ++self->pins;
  Py_BEGIN_ALLOW_THREADS
  for (int64_t i = 0; i < n; ++i) sum += (double)x[i];
  Py_END_ALLOW_THREADS
  --self->pins;
  return PyFloat_FromDouble(sum);
}

static PyObject *image_get_radius(py_image_object *self, PyObject *unused)
{
  const pet_image_params *p = &self->img->params;
  double vx = (double)pet_image_vx(p), vy = (double)pet_image_vy(p);
  return PyFloat_FromDouble(fmax((double)p->length_x, (double)p->length_y) / 2.0 -
                            fmax(vx, vy) / 1000.0);
}

static PyObject *image_write_to_file(py_image_object *self, PyObject *arg)
{
  PyObject *fname = NULL;
  if (!py_path_converter(arg, &fname)) return NULL;
  const char *path = PyBytes_AS_STRING(fname);
  pet_status st = pet_image_require(self->img, self->img->space);
  if (st == PET_OK) {
    ++self->pins;
    Py_BEGIN_ALLOW_THREADS
    st = write_image(self->img, path);
    Py_END_ALLOW_THREADS
    --self->pins;
  }
  Py_DECREF(fname);
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static py_dl_device image_dl_device(const py_image_object *self)
{
  py_dl_device d;
  d.device_type = self->img->space == PET_HOST ? PY_DL_CPU : PY_DL_CUDA;
  d.device_id = self->img->space == PET_HOST ? 0 : self->device_id;
  return d;
}

static PyObject *image_dlpack(py_image_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"stream", NULL};
  PyObject *stream = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$O:__dlpack__", kwlist, &stream)) return NULL;
  if (py_check(pet_image_require(self->img, self->img->space)) != 0) return NULL;
  int64_t shape[3];
  image_shape(self, shape);
  return py_dlpack_export((PyObject *)self, &self->pins, self->img->data, image_dl_device(self), 3,
                          shape, PY_ELEM_F32);
}

static PyObject *image_dlpack_device(py_image_object *self, PyObject *unused)
{
  py_dl_device d = image_dl_device(self);
  return Py_BuildValue("(ii)", d.device_type, d.device_id);
}

static PyMethodDef image_base_methods[] = {
    {"getParams", (PyCFunction)image_get_params, METH_NOARGS,
     "getParams($self, /)\n--\n\nReturns ImageParams: A copy of the image's geometry."},
    {"isMemoryValid", (PyCFunction)image_is_memory_valid, METH_NOARGS,
     "isMemoryValid($self, /)\n--\n\nReturns bool: True once allocate() (Owned) or bind() (Alias) gave the "
     "image memory."},
    {"setValue", (PyCFunction)image_set_value, METH_O,
     "setValue($self, value)\n--\n\nSets every voxel to value (float). Releases the GIL.\n"
     "RuntimeError before allocate()/bind()."},
    {"copyFromImage", (PyCFunction)image_copy_from_image, METH_O,
     "copyFromImage($self, src)\n--\n\nCopies the voxels of src (host or device image of the same "
     "geometry) into this image. Releases the GIL.\nValueError when the geometries differ, "
     "RuntimeError when either image has no memory."},
    {"fill", PY_METH(image_fill), METH_VARARGS | METH_KEYWORDS,
     "fill($self, /, value)\n--\n\nSets every voxel to value (YRT-PET's name; setValue is the "
     "legacy one). Releases the GIL."},
    {"multWithScalar", PY_METH(image_mult_scalar), METH_VARARGS | METH_KEYWORDS,
     "multWithScalar($self, /, scalar)\n--\n\nMultiplies every voxel by scalar (host images)."},
    {"addFirstImageToSecond", PY_METH(image_add_to_second), METH_VARARGS | METH_KEYWORDS,
     "addFirstImageToSecond($self, /, second)\n--\n\nsecond += this image, voxel by voxel (host "
     "images of the same grid; ValueError otherwise)."},
    {"applyThreshold", PY_METH(image_apply_threshold), METH_VARARGS | METH_KEYWORDS,
     "applyThreshold($self, /, maskImage, threshold, val_le_scale, val_le_off, val_gt_scale, "
     "val_gt_off)\n--\n\nPer voxel: v = v*val_le_scale + val_le_off where maskImage <= "
     "threshold, else v = v*val_gt_scale + val_gt_off (host images of the same grid)."},
    {"updateEMThresholdStatic", PY_METH(image_update_em), METH_VARARGS | METH_KEYWORDS,
     "updateEMThresholdStatic($self, /, update_img, sens_img, threshold)\n--\n\nThe EM update "
     "v *= update / sens where sens > threshold (host images of the same grid)."},
    {"dotProduct", PY_METH(image_dot), METH_VARARGS | METH_KEYWORDS,
     "dotProduct($self, /, y)\n--\n\nReturns float: sum of this image times y, voxel by voxel "
     "(accumulated in double)."},
    {"voxelSum", (PyCFunction)image_voxel_sum, METH_NOARGS,
     "voxelSum($self, /)\n--\n\nReturns float: Sum of the voxels (accumulated in double)."},
    {"getRadius", (PyCFunction)image_get_radius, METH_NOARGS,
     "getRadius($self, /)\n--\n\nReturns float: The grid's FOV radius (ImageParams.fov_radius), mm."},
    {"writeToFile", (PyCFunction)image_write_to_file, METH_O,
     "writeToFile($self, filename)\n--\n\nWrites the image as NIfTI-1 (.nii or .nii.gz); a device image "
     "is copied to the host first. Releases the GIL.\nOSError when the file cannot be written, "
     "RuntimeError before allocate()/bind()."},
    {"__dlpack__", PY_METH(image_dlpack), METH_VARARGS | METH_KEYWORDS,
     "__dlpack__($self, /, *, stream=None)\n--\n\nReturns a PyCapsule: DLPack export of the voxels, shape "
     "[nz, ny, nx] float32 (torch.from_dlpack, numpy.from_dlpack). The tensor keeps this image "
     "alive; petrel's calls are synchronous, so `stream` is not needed."},
    {"__dlpack_device__", (PyCFunction)image_dlpack_device, METH_NOARGS,
     "__dlpack_device__($self, /)\n--\n\nReturns tuple[int, int]: (device type, device id): (1, 0) for host "
     "images, (2, id) for CUDA ones."},
    {NULL, NULL, 0, NULL}};

/* ---- Image (host): buffer protocol ------------------------------------------------------ */

static int image_getbuffer(py_image_object *self, Py_buffer *view, int flags)
{
  if (py_check(pet_image_require(self->img, PET_HOST)) != 0) {
    view->obj = NULL;
    return -1;
  }
  py_fill_buffer3(view, (PyObject *)self, self->img->data, self->shape, self->strides, flags,
                  &self->pins);
  return 0;
}

static void image_releasebuffer(py_image_object *self, Py_buffer *view) { --self->pins; }

static PyMethodDef image_host_methods[] = {
    {"__array__", PY_METH(py_array_method), METH_VARARGS | METH_KEYWORDS,
     "__array__($self, /, dtype=None, copy=None)\n--\n\nnumpy view of the voxels ([nz, ny, nx] float32); "
     "RuntimeError before allocate()/bind()."},
    {NULL, NULL, 0, NULL}};

static PyBufferProcs image_buffer = {(getbufferproc)image_getbuffer,
                                     (releasebufferproc)image_releasebuffer};

/* ---- Owned: allocate ------------------------------------------------------------------- */

static PyObject *image_allocate(py_image_object *self, PyObject *unused)
{
  pet_status st;
  Py_BEGIN_ALLOW_THREADS
  st = pet_image_allocate(self->img);
  Py_END_ALLOW_THREADS
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *image_read_from_file(py_image_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"filename", NULL};
  PyObject *fname = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&:readFromFile", kwlist, py_path_converter,
                                   &fname))
    return NULL;
  if (py_check_unpinned(self->pins, "readFromFile") != 0) {
    Py_DECREF(fname);
    return NULL;
  }
  const char *path = PyBytes_AS_STRING(fname);
  pet_image *img = self->img, *tmp = NULL;
  pet_status st;
  ++self->pins;
  Py_BEGIN_ALLOW_THREADS
  st = read_image(&tmp, path, &img->params, img->space);
  if (st == PET_OK) st = pet_image_allocate(img);
  if (st == PET_OK) st = pet_image_copy(img, tmp);
  pet_image_destroy(&tmp);
  Py_END_ALLOW_THREADS
  --self->pins;
  Py_DECREF(fname);
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyMethodDef image_owned_methods[] = {
    {"readFromFile", PY_METH(image_read_from_file), METH_VARARGS | METH_KEYWORDS,
     "readFromFile($self, /, filename)\n--\n\nReads a NIfTI image of this image's grid into it "
     "(allocating it when needed). ValueError when the file's grid differs; OSError when it "
     "cannot be read."},
    {"allocate", (PyCFunction)image_allocate, METH_NOARGS,
     "allocate($self, /)\n--\n\nAllocates zeroed storage for the image (a no-op when already allocated).\n"
     "MemoryError when memory is short."},
    {NULL, NULL, 0, NULL}};

/* ---- ImageAlias: bind -------------------------------------------------------------------- */

static PyObject *image_alias_bind(py_image_object *self, PyObject *obj)
{
  int64_t shape[3];
  void *data = NULL;
  int dev = 0;
  if (py_check_unpinned(self->pins, "ImageAlias.bind") != 0) return NULL;
  image_shape(self, shape);
  int rc = (!PyObject_CheckBuffer(obj) && PyObject_HasAttrString(obj, "__dlpack__"))
               ? py_keeper_bind_dlpack(&self->keep, obj, false, 3, shape, image_dims, PY_ELEM_F32,
                                       "ImageAlias.bind", &data, &dev)
               : py_keeper_bind_buffer(&self->keep, obj, 3, shape, image_dims, PY_ELEM_F32,
                                       "ImageAlias.bind", &data);
  if (rc != 0) return NULL;
  if (py_check(pet_image_bind(self->img, data)) != 0) return NULL;
  Py_RETURN_NONE;
}

static PyMethodDef image_alias_methods[] = {
    {"bind", (PyCFunction)image_alias_bind, METH_O,
     "bind($self, array)\n--\n\nMakes the image use array's memory: a writable C-contiguous float32 "
     "buffer (numpy array) of shape [nz, ny, nx], or a CPU DLPack tensor of that shape. The "
     "image holds a reference to array until it is rebound or destroyed.\nValueError naming "
     "the expected dtype/shape/layout when array does not fit; BufferError while views of the "
     "current binding are alive."},
    {NULL, NULL, 0, NULL}};

/* ---- ImageDevice -------------------------------------------------------------------------- */

static PyObject *image_get_device_pointer(py_image_object *self, PyObject *unused)
{
  if (py_check(pet_image_require(self->img, PET_DEVICE)) != 0) return NULL;
  return PyLong_FromUnsignedLongLong((unsigned long long)(uintptr_t)self->img->data);
}

static PyObject *image_transfer_to_host(py_image_object *self, PyObject *host)
{
  if (!PyObject_TypeCheck(host, &py_image_type)) {
    PyErr_Format(PyExc_TypeError, "transferToHostMemory: expected a host Image, got '%.100s'",
                 Py_TYPE(host)->tp_name);
    return NULL;
  }
  return copy_images((py_image_object *)host, (PyObject *)self, "transferToHostMemory");
}

static PyObject *image_copy_from_host(py_image_object *self, PyObject *host)
{
  if (!PyObject_TypeCheck(host, &py_image_type)) {
    PyErr_Format(PyExc_TypeError, "copyFromHostImage: expected a host Image, got '%.100s'",
                 Py_TYPE(host)->tp_name);
    return NULL;
  }
  return copy_images(self, host, "copyFromHostImage");
}

static PyObject *image_device_array(py_image_object *self, PyObject *args, PyObject *kwds)
{
  PyErr_SetString(PyExc_TypeError,
                  "a device image has no host memory: use torch.from_dlpack(img), or "
                  "transferToHostMemory(host_image)");
  return NULL;
}

static PyMethodDef image_device_methods[] = {
    {"__array__", PY_METH(image_device_array), METH_VARARGS | METH_KEYWORDS,
     "__array__($self, /, dtype=None, copy=None)\n--\n\nRaises TypeError: device memory cannot be viewed "
     "from numpy."},
    {"getDevicePointer", (PyCFunction)image_get_device_pointer, METH_NOARGS,
     "getDevicePointer($self, /)\n--\n\nReturns int: Address of the voxels in device memory.\nRuntimeError "
     "before allocate()/setDevicePointer()."},
    {"transferToHostMemory", (PyCFunction)image_transfer_to_host, METH_O,
     "transferToHostMemory($self, host_image)\n--\n\nCopies this device image into host_image (an "
     "allocated/bound Image of the same geometry). Releases the GIL."},
    {"copyFromHostImage", (PyCFunction)image_copy_from_host, METH_O,
     "copyFromHostImage($self, host_image)\n--\n\nCopies host_image (same geometry) into this device "
     "image. Releases the GIL."},
    {NULL, NULL, 0, NULL}};

/* ---- ImageDeviceAlias ---------------------------------------------------------------------- */

static PyObject *image_set_device_pointer(py_image_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"pointer", "device_id", NULL};
  PyObject *ptr_obj;
  int dev = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|i:setDevicePointer", kwlist, &ptr_obj, &dev))
    return NULL;
  unsigned long long ptr = PyLong_AsUnsignedLongLong(ptr_obj);
  if (ptr == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
  if (py_check_unpinned(self->pins, "ImageDeviceAlias.setDevicePointer") != 0) return NULL;
  void *p = (void *)(uintptr_t)ptr;
  if (p != NULL && !pet_gpu_is_device_ptr(p)) {
    PyErr_Format(PyExc_ValueError,
                 "setDevicePointer: 0x%llx is not CUDA device memory (pass tensor.data_ptr() of a "
                 "CUDA tensor)",
                 ptr);
    return NULL;
  }
  if (py_check(pet_image_bind(self->img, p)) != 0) return NULL;
  py_keeper_release(&self->keep);
  self->device_id = dev;
  Py_RETURN_NONE;
}

static PyObject *image_device_alias_bind(py_image_object *self, PyObject *obj)
{
  int64_t shape[3];
  void *data = NULL;
  int dev = 0;
  if (py_check_unpinned(self->pins, "ImageDeviceAlias.bind") != 0) return NULL;
  image_shape(self, shape);
  if (py_keeper_bind_dlpack(&self->keep, obj, true, 3, shape, image_dims, PY_ELEM_F32,
                            "ImageDeviceAlias.bind", &data, &dev) != 0)
    return NULL;
  if (py_check(pet_image_bind(self->img, data)) != 0) return NULL;
  self->device_id = dev;
  Py_RETURN_NONE;
}

static PyObject *image_device_alias_from_dlpack(PyTypeObject *cls, PyObject *args)
{
  PyObject *params, *tensor;
  if (!PyArg_ParseTuple(args, "O!O:fromDlpack", &py_image_params_type, &params, &tensor))
    return NULL;
  PyObject *ctor_args = PyTuple_Pack(1, params);
  if (ctor_args == NULL) return NULL;
  PyObject *self = PyObject_Call((PyObject *)cls, ctor_args, NULL);
  Py_DECREF(ctor_args);
  if (self == NULL) return NULL;
  PyObject *r = image_device_alias_bind((py_image_object *)self, tensor);
  if (r == NULL) {
    Py_DECREF(self);
    return NULL;
  }
  Py_DECREF(r);
  return self;
}

static PyMethodDef image_device_alias_methods[] = {
    {"setDevicePointer", PY_METH(image_set_device_pointer), METH_VARARGS | METH_KEYWORDS,
     "setDevicePointer($self, pointer, device_id=0)\n--\n\nMakes the image use the device memory at "
     "pointer (e.g. torch_tensor.data_ptr(), float32, nx*ny*nz elements, x fastest). As in "
     "YRT-PET, the caller keeps that memory alive; prefer bind(tensor), which holds it.\n"
     "ValueError when pointer is not CUDA device memory."},
    {"bind", (PyCFunction)image_device_alias_bind, METH_O,
     "bind($self, tensor)\n--\n\nMakes the image use the memory of a CUDA DLPack tensor (torch, cupy, "
     "...) of shape [nz, ny, nx], float32, C-contiguous; the consumed tensor is kept alive until "
     "the image is rebound or destroyed.\nValueError naming the expectation when it does not fit."},
    {"fromDlpack", (PyCFunction)image_device_alias_from_dlpack, METH_VARARGS | METH_CLASS,
     "fromDlpack($type, params, tensor)\n--\n\nReturns ImageDeviceAlias(params) bound to "
     "tensor (see bind)."},
    {NULL, NULL, 0, NULL}};

/* ---- type objects ------------------------------------------------------------------------- */

#define IMAGE_TYPE_COMMON                                                                        \
  .tp_basicsize = sizeof(py_image_object), .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, \
  .tp_dealloc = (destructor)image_dealloc, .tp_repr = (reprfunc)image_repr

PyTypeObject py_image_base_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.ImageBase",
    IMAGE_TYPE_COMMON,
    .tp_doc = "Base of every petrel image (host or device, Owned or Alias); not instantiable.",
    .tp_methods = image_base_methods,
};

PyTypeObject py_image_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.Image",
    IMAGE_TYPE_COMMON,
    .tp_doc = "A host image; exports its voxels through the buffer protocol as a writable\n"
              "float32 array of shape [nz, ny, nx] (np.array(img, copy=False) aliases them).\n"
              "Use ImageOwned or ImageAlias.",
    .tp_base = &py_image_base_type,
    .tp_as_buffer = &image_buffer,
    .tp_methods = image_host_methods,
};

static PyTypeObject image_owned_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.ImageOwned",
    IMAGE_TYPE_COMMON,
    .tp_doc = "ImageOwned(params) | ImageOwned(params, filename) | ImageOwned(filename)\n\n"
              "A host image that owns its memory. From params, call allocate() before use;\n"
              "from a NIfTI file, it is read (and checked against params when given).\n"
              "np.array(img, copy=False) is a float32 [nz, ny, nx] view of the voxels.",
    .tp_base = &py_image_type,
    .tp_new = image_new,
    .tp_methods = image_owned_methods,
};

static PyTypeObject image_alias_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.ImageAlias",
    IMAGE_TYPE_COMMON,
    .tp_doc = "ImageAlias(params)\n--\n\n"
              "A host image over memory someone else owns: bind() a float32 [nz, ny, nx]\n"
              "C-contiguous numpy array before use. The image keeps the array alive.",
    .tp_base = &py_image_type,
    .tp_new = image_new,
    .tp_methods = image_alias_methods,
};

PyTypeObject py_image_device_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.ImageDevice",
    IMAGE_TYPE_COMMON,
    .tp_doc = "A CUDA device image; exported through __dlpack__ and getDevicePointer().\n"
              "Use ImageDeviceOwned or ImageDeviceAlias. Without CUDA in the build,\n"
              "constructing one raises NotImplementedError.",
    .tp_base = &py_image_base_type,
    .tp_methods = image_device_methods,
};

static PyTypeObject image_device_owned_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.ImageDeviceOwned",
    IMAGE_TYPE_COMMON,
    .tp_doc = "ImageDeviceOwned(params) | ImageDeviceOwned(params, filename) | "
              "ImageDeviceOwned(filename)\n\n"
              "A device image that owns its CUDA memory: allocate() before use, or read a\n"
              "NIfTI file (through the host).",
    .tp_base = &py_image_device_type,
    .tp_new = image_new,
    .tp_methods = image_owned_methods,
};

static PyTypeObject image_device_alias_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.ImageDeviceAlias",
    IMAGE_TYPE_COMMON,
    .tp_doc = "ImageDeviceAlias(params)\n--\n\n"
              "A device image over CUDA memory someone else owns: setDevicePointer(ptr) or\n"
              "bind(tensor) (DLPack) before use.",
    .tp_base = &py_image_device_type,
    .tp_new = image_new,
    .tp_methods = image_device_alias_methods,
};

int py_image_init(PyObject *m)
{
  struct {
    PyTypeObject *type;
    const char *name;
  } types[] = {{&py_image_params_type, "ImageParams"},
               {&py_image_base_type, "ImageBase"},
               {&py_image_type, "Image"},
               {&image_owned_type, "ImageOwned"},
               {&image_alias_type, "ImageAlias"},
               {&py_image_device_type, "ImageDevice"},
               {&image_device_owned_type, "ImageDeviceOwned"},
               {&image_device_alias_type, "ImageDeviceAlias"}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; ++i) {
    if (PyType_Ready(types[i].type) != 0) return -1;
    if (PyModule_AddObjectRef(m, types[i].name, (PyObject *)types[i].type) != 0) return -1;
  }
  return 0;
}
