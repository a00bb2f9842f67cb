/* petrel Python module: projection data and their bin iterators.
 *
 *   ProjectionData ─┬─ Histogram3D ─┬─ Histogram3DOwned   buffer protocol (numZBin, numPhi, numR)
 *                   │               └─ Histogram3DAlias   binds a float32 array of that shape
 *                   └─ ListModeLUT ─┬─ ListModeLUTOwned   allocate(n) or a .lmDat file
 *                                   └─ ListModeLUTAlias   binds uint32 time/d1/d2 (+ float32 TOF)
 *   BinIter: the bins (events) of one OSEM subset.
 *
 * The C objects borrow the scanner's pet_scanner, so each holds a reference to its Scanner. */
#include "py_common.h" /* first: Python.h must precede the system headers */

#include <stddef.h>
#include <string.h>
#include <structmember.h>

#include "pet_histogram.h"
#include "pet_listmode.h"
#include "pet_yrt_io.h"

static PyTypeObject histogram_owned_type;
static PyTypeObject histogram_alias_type;
static PyTypeObject listmode_owned_type;
static PyTypeObject listmode_alias_type;

static const char histo_dims[] = "[numZBin, numPhi, numR]";
static const char histo_tof_dims[] = "[numZBin, numPhi, numR, numTOFBins]";

static pet_scanner *scanner_of(PyObject *o, const char *what)
{
  if (!PyObject_TypeCheck(o, &py_scanner_type)) {
    PyErr_Format(PyExc_TypeError, "%s: expected a petrel.Scanner, got '%.100s'", what,
                 Py_TYPE(o)->tp_name);
    return NULL;
  }
  return ((py_scanner_object *)o)->s;
}

static void projdata_dealloc(py_projdata_object *self)
{
  if (PyObject_TypeCheck((PyObject *)self, &py_histogram_type)) {
    py_histogram_object *h = (py_histogram_object *)self;
    py_keeper_release(&h->keep);
    pet_histogram_destroy(&h->h);
  } else if (PyObject_TypeCheck((PyObject *)self, &py_listmode_type)) {
    py_listmode_object *l = (py_listmode_object *)self;
    for (int i = 0; i < 4; ++i) py_keeper_release(&l->keep[i]);
    pet_listmode_destroy(&l->lm);
  }
  Py_XDECREF(self->scanner);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ---- BinIter ----------------------------------------------------------------------------- */

static void bin_iter_range(const py_bin_iter_object *it, int64_t *first, int64_t *size)
{
  if (PyObject_TypeCheck(it->data, &py_histogram_type)) {
    const pet_histo_layout *L = ((py_histogram_object *)it->data)->h->layout;
    *first = 0;
    *size = pet_histo_subset_size(L->num_phi, L->num_r, L->num_zbin, it->num_subsets, it->subset);
  } else {
    const pet_listmode *lm = ((py_listmode_object *)it->data)->lm;
    int64_t end = 0;
    pet_listmode_subset_range(lm->num_events, it->num_subsets, it->subset, first, &end);
    *size = end - *first;
  }
}

static Py_ssize_t bin_iter_len(py_bin_iter_object *self)
{
  int64_t first, size;
  bin_iter_range(self, &first, &size);
  return (Py_ssize_t)size;
}

static PyObject *bin_iter_item(py_bin_iter_object *self, Py_ssize_t k)
{
  int64_t first, size;
  bin_iter_range(self, &first, &size);
  if (k < 0 || k >= size) {
    PyErr_Format(PyExc_IndexError, "BinIter: index %zd out of range [0, %lld)", k,
                 (long long)size);
    return NULL;
  }
  if (PyObject_TypeCheck(self->data, &py_histogram_type)) {
    const pet_histo_layout *L = ((py_histogram_object *)self->data)->h->layout;
    return PyLong_FromLongLong((long long)pet_histo_subset_bin(
        L->num_phi, L->num_r, L->num_zbin, self->num_subsets, self->subset, k));
  }
  return PyLong_FromLongLong((long long)(first + k));
}

static PyObject *bin_iter_size(py_bin_iter_object *self, PyObject *unused)
{
  return PyLong_FromSsize_t(bin_iter_len(self));
}

static PyObject *bin_iter_get(py_bin_iter_object *self, PyObject *arg)
{
  Py_ssize_t k = PyLong_AsSsize_t(arg);
  if (k == -1 && PyErr_Occurred()) return NULL;
  return bin_iter_item(self, k);
}

static void bin_iter_dealloc(py_bin_iter_object *self)
{
  Py_XDECREF(self->data);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PySequenceMethods bin_iter_seq = {.sq_length = (lenfunc)bin_iter_len,
                                         .sq_item = (ssizeargfunc)bin_iter_item};

static PyMethodDef bin_iter_methods[] = {
    {"size", (PyCFunction)bin_iter_size, METH_NOARGS,
     "size($self, /)\n--\n\nNumber of bins (events) in the subset."},
    {"get", (PyCFunction)bin_iter_get, METH_O,
     "get($self, k, /)\n--\n\nThe k-th bin (histogram bin index, or list-mode event index)."},
    {NULL, NULL, 0, NULL}};

static PyMemberDef bin_iter_members[] = {
    {"numSubsets", T_INT, offsetof(py_bin_iter_object, num_subsets), READONLY, "Number of subsets."},
    {"subset", T_INT, offsetof(py_bin_iter_object, subset), READONLY, "This subset."},
    {NULL, 0, 0, 0, NULL}};

PyTypeObject py_bin_iter_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.BinIter",
    .tp_basicsize = sizeof(py_bin_iter_object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The bins of one OSEM subset (from getBinIter(num_subsets, subset)). Histograms:\n"
              "subset s takes phi = s, s+S, ... (all r, all z-bins); list-mode: contiguous\n"
              "chunks of events in time order. len(), size(), get(k), indexing.",
    .tp_dealloc = (destructor)bin_iter_dealloc,
    .tp_as_sequence = &bin_iter_seq,
    .tp_methods = bin_iter_methods,
    .tp_members = bin_iter_members,
};

/* ---- ProjectionData ------------------------------------------------------------------------ */

static int64_t projdata_count(py_projdata_object *self)
{
  if (PyObject_TypeCheck((PyObject *)self, &py_histogram_type))
    return pet_histogram_num_bins(((py_histogram_object *)self)->h);
  return ((py_listmode_object *)self)->lm->num_events;
}

static PyObject *projdata_count_py(py_projdata_object *self, PyObject *unused)
{
  return PyLong_FromLongLong((long long)projdata_count(self));
}

static PyObject *projdata_get_scanner(py_projdata_object *self, PyObject *unused)
{
  return Py_NewRef(self->scanner);
}

static PyObject *projdata_get_bin_iter(py_projdata_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"num_subsets", "idx_subset", NULL};
  int num_subsets, subset;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "ii:getBinIter", kwlist, &num_subsets, &subset))
    return NULL;
  if (num_subsets < 1 || subset < 0 || subset >= num_subsets)
    return py_raise_status(PET_ERROR(PET_ERR_ARG,
                                     "getBinIter: need num_subsets >= 1 and 0 <= subset < "
                                     "num_subsets (got %d, %d)",
                                     num_subsets, subset));
  if (PyObject_TypeCheck((PyObject *)self, &py_histogram_type) &&
      num_subsets > ((py_histogram_object *)self)->h->layout->num_phi)
    return py_raise_status(PET_ERROR(PET_ERR_ARG,
                                     "getBinIter: %d subsets exceed the %lld angles (numPhi)",
                                     num_subsets,
                                     (long long)((py_histogram_object *)self)->h->layout->num_phi));
  py_bin_iter_object *it = PyObject_New(py_bin_iter_object, &py_bin_iter_type);
  if (it == NULL) return NULL;
  it->data = Py_NewRef((PyObject *)self);
  it->num_subsets = num_subsets;
  it->subset = subset;
  return (PyObject *)it;
}

static PyMethodDef projdata_methods[] = {
    {"count", (PyCFunction)projdata_count_py, METH_NOARGS,
     "count($self, /)\n--\n\nNumber of bins (histogram) or events (list-mode)."},
    {"getScanner", (PyCFunction)projdata_get_scanner, METH_NOARGS,
     "getScanner($self, /)\n--\n\nThe Scanner these data belong to."},
    {"getBinIter", PY_METH(projdata_get_bin_iter), METH_VARARGS | METH_KEYWORDS,
     "getBinIter($self, /, num_subsets, idx_subset)\n--\n\nA BinIter over subset `idx_subset` "
     "of `num_subsets` OSEM subsets (YRT-PET's keywords).\nValueError for a bad subset."},
    {NULL, NULL, 0, NULL}};

PyTypeObject py_projdata_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.ProjectionData",
    .tp_basicsize = sizeof(py_projdata_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Base of histograms and list-mode data; not instantiable.",
    .tp_dealloc = (destructor)projdata_dealloc,
    .tp_methods = projdata_methods,
};

/* ---- Histogram3D --------------------------------------------------------------------------- */

static void histo_shape(const py_histogram_object *self, int64_t shape[3])
{
  const pet_histo_layout *L = self->h->layout;
  shape[0] = L->num_zbin;
  shape[1] = L->num_phi;
  shape[2] = L->num_r;
}

/* Copies a .his file into h's memory (allocated or bound). */
static pet_status read_his_into(pet_histogram *h, const pet_scanner *s, const char *path)
{
  pet_histogram *tmp = NULL;
  pet_status st = pet_histogram_require(h);
  if (st == PET_OK && h->num_tof_bins > 0)
    st = PET_ERROR(PET_ERR_UNSUPPORTED, "%s: YRT-PET's .his has no TOF bins (this histogram has %d)",
                   path, (int)h->num_tof_bins);
  if (st == PET_OK) st = pet_histogram_read_yrt(&tmp, s, path);
  if (st == PET_OK)
    memcpy(h->data, tmp->data, (size_t)pet_histogram_num_bins(h) * sizeof(float));
  pet_histogram_destroy(&tmp);
  return st;
}

/* The buffer's dimensions: (numZBin, numPhi, numR), and numTOFBins last for a TOF histogram. */
static void histo_set_view(py_histogram_object *self)
{
  int64_t shape[3];
  histo_shape(self, shape);
  for (int i = 0; i < 3; ++i) self->shape[i] = (Py_ssize_t)shape[i];
  self->ndim = self->h->num_tof_bins > 0 ? 4 : 3;
  self->shape[3] = self->h->num_tof_bins > 0 ? self->h->num_tof_bins : 1;
  self->strides[self->ndim - 1] = sizeof(float);
  for (int i = self->ndim - 2; i >= 0; --i) self->strides[i] = self->strides[i + 1] * self->shape[i + 1];
}

static PyObject *histogram_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"scanner", "filename", "num_tof_bins", "tof_bin_width_ps", NULL};
  static char *kwlist_alias[] = {"scanner", "num_tof_bins", "tof_bin_width_ps", NULL};
  PyObject *scanner, *fname = NULL;
  int num_tof = 0;
  float tof_w = 0.0f;
  bool owned = PyType_IsSubtype(type, &histogram_owned_type);
  int ok = owned ? PyArg_ParseTupleAndKeywords(args, kwds, "O|O&$if", kwlist, &scanner,
                                               py_path_converter, &fname, &num_tof, &tof_w)
                 : PyArg_ParseTupleAndKeywords(args, kwds, "O|$if", kwlist_alias, &scanner, &num_tof,
                                               &tof_w);
  if (!ok) return NULL;
  pet_scanner *s = scanner_of(scanner, type->tp_name);
  pet_histogram *h = NULL;
  pet_status st = PET_OK;
  if (s != NULL) {
    st = pet_histogram_create(&h, s, owned ? PET_OWNED : PET_ALIAS, PET_HOST);
    if (st == PET_OK) st = pet_histogram_set_tof_bins(h, num_tof, tof_w);
    if (st == PET_OK && fname != NULL) {
      const char *path = PyBytes_AS_STRING(fname);
      Py_BEGIN_ALLOW_THREADS
      st = pet_histogram_allocate(h);
      if (st == PET_OK) st = read_his_into(h, s, path);
      Py_END_ALLOW_THREADS
    }
  }
  Py_XDECREF(fname);
  if (s == NULL) return NULL;
  if (st != PET_OK) {
    pet_histogram_destroy(&h);
    return py_raise_status(st);
  }
  py_histogram_object *self = (py_histogram_object *)type->tp_alloc(type, 0);
  if (self == NULL) {
    pet_histogram_destroy(&h);
    return NULL;
  }
  self->base.scanner = Py_NewRef(scanner);
  self->h = h;
  histo_set_view(self);
  return (PyObject *)self;
}

static int histogram_getbuffer(py_histogram_object *self, Py_buffer *view, int flags)
{
  if (py_check(pet_histogram_require(self->h)) != 0) {
    view->obj = NULL;
    return -1;
  }
  py_fill_buffer_nd(view, (PyObject *)self, self->h->data, self->ndim, self->shape, self->strides, flags,
                  &self->base.pins);
  return 0;
}

static void histogram_releasebuffer(py_histogram_object *self, Py_buffer *view)
{
  --self->base.pins;
}

static PyBufferProcs histogram_buffer = {(getbufferproc)histogram_getbuffer,
                                         (releasebufferproc)histogram_releasebuffer};

static PyObject *histogram_clear(py_histogram_object *self, PyObject *args)
{
  float v = 0.0f;
  if (!PyArg_ParseTuple(args, "|f:clearProjections", &v)) return NULL;
  pet_status st;
  ++self->base.pins;
  Py_BEGIN_ALLOW_THREADS
  st = pet_histogram_fill(self->h, v);
  Py_END_ALLOW_THREADS
  --self->base.pins;
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *histogram_write(py_histogram_object *self, PyObject *arg)
{
  PyObject *fname = NULL;
  if (!py_path_converter(arg, &fname)) return NULL;
  const char *path = PyBytes_AS_STRING(fname);
  pet_status st;
  ++self->base.pins;
  Py_BEGIN_ALLOW_THREADS
  st = pet_histogram_write_yrt(self->h, path);
  Py_END_ALLOW_THREADS
  --self->base.pins;
  Py_DECREF(fname);
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *histogram_read(py_histogram_object *self, PyObject *arg)
{
  PyObject *fname = NULL;
  if (!py_path_converter(arg, &fname)) return NULL;
  const char *path = PyBytes_AS_STRING(fname);
  const pet_scanner *s = ((py_scanner_object *)self->base.scanner)->s;
  pet_status st;
  ++self->base.pins;
  Py_BEGIN_ALLOW_THREADS
  st = read_his_into(self->h, s, path);
  Py_END_ALLOW_THREADS
  --self->base.pins;
  Py_DECREF(fname);
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *histogram_get_dim(py_histogram_object *self, void *which)
{
  int64_t shape[3];
  histo_shape(self, shape);
  return PyLong_FromLongLong((long long)shape[(intptr_t)which]);
}

/* ---- bin <-> coordinates <-> detector pairs (YRT-PET's Histogram3D helpers) --------------- */

static const pet_histo_layout *histo_layout(py_histogram_object *self)
{
  return self->h->layout;
}

static int check_coords(const pet_histo_layout *L, long long r, long long phi, long long z_bin,
                        const char *what)
{
  if (r < 0 || r >= L->num_r || phi < 0 || phi >= L->num_phi || z_bin < 0 || z_bin >= L->num_zbin) {
    py_raise_status(PET_ERROR(PET_ERR_ARG,
                              "%s: (r, phi, z_bin) = (%lld, %lld, %lld) is outside the histogram "
                              "(numR, numPhi, numZBin) = (%lld, %lld, %lld)",
                              what, r, phi, z_bin, (long long)L->num_r, (long long)L->num_phi,
                              (long long)L->num_zbin));
    return -1;
  }
  return 0;
}

static int check_bin(const pet_histo_layout *L, long long bin, const char *what)
{
  if (bin < 0 || bin >= L->num_bins) {
    py_raise_status(PET_ERROR(PET_ERR_ARG, "%s: bin_id %lld is outside [0, %lld)", what, bin,
                              (long long)L->num_bins));
    return -1;
  }
  return 0;
}

/* The detector pair of a bin. (phi, r) that the minimum angle difference excludes have the
 * in-ring pair (0, 0) in YRT-PET's table, so they give (z1 * detsPerRing, z2 * detsPerRing). */
static PyObject *dets_of_bin(const pet_histo_layout *L, int64_t bin)
{
  int32_t d1 = 0, d2 = 0;
  bool valid = false;
  if (py_check(pet_histo_bin_to_dets(L, bin, &d1, &d2, &valid)) != 0) return NULL;
  if (!valid) {
    const int64_t z_bin = bin / (L->num_phi * L->num_r);
    d1 = L->zbin_rings[2 * z_bin] * L->dets_per_ring;
    d2 = L->zbin_rings[2 * z_bin + 1] * L->dets_per_ring;
  }
  return Py_BuildValue("(ii)", (int)d1, (int)d2);
}

static PyObject *histogram_bin_from_coords(py_histogram_object *self, PyObject *args,
                                           PyObject *kwds)
{
  static char *kwlist[] = {"r", "phi", "z_bin", NULL};
  long long r, phi, z;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "LLL:getBinIdFromCoords", kwlist, &r, &phi, &z))
    return NULL;
  const pet_histo_layout *L = histo_layout(self);
  if (check_coords(L, r, phi, z, "getBinIdFromCoords") != 0) return NULL;
  return PyLong_FromLongLong((z * L->num_phi + phi) * L->num_r + r);
}

static PyObject *histogram_coords_from_bin(py_histogram_object *self, PyObject *args,
                                           PyObject *kwds)
{
  static char *kwlist[] = {"bin_id", NULL};
  long long bin;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "L:getCoordsFromBinId", kwlist, &bin)) return NULL;
  const pet_histo_layout *L = histo_layout(self);
  if (check_bin(L, bin, "getCoordsFromBinId") != 0) return NULL;
  const long long pr = L->num_phi * L->num_r;
  return Py_BuildValue("(LLL)", (bin % pr) % L->num_r, (bin % pr) / L->num_r, bin / pr);
}

static PyObject *histogram_dets_from_coords(py_histogram_object *self, PyObject *args,
                                            PyObject *kwds)
{
  static char *kwlist[] = {"r", "phi", "z_bin", NULL};
  long long r, phi, z;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "LLL:getDetPairFromCoords", kwlist, &r, &phi, &z))
    return NULL;
  const pet_histo_layout *L = histo_layout(self);
  if (check_coords(L, r, phi, z, "getDetPairFromCoords") != 0) return NULL;
  return dets_of_bin(L, (z * L->num_phi + phi) * L->num_r + r);
}

static PyObject *histogram_dets_from_bin(py_histogram_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"bin_id", NULL};
  long long bin;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "L:getDetPairFromBinId", kwlist, &bin)) return NULL;
  const pet_histo_layout *L = histo_layout(self);
  if (check_bin(L, bin, "getDetPairFromBinId") != 0) return NULL;
  return dets_of_bin(L, bin);
}

static int bin_of_dets(py_histogram_object *self, PyObject *args, PyObject *kwds,
                       const char *fmt, int64_t *bin)
{
  static char *kwlist[] = {"d1", "d2", NULL};
  long long d1, d2;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &d1, &d2)) return -1;
  if (d1 < 0 || d2 < 0 || d1 > INT32_MAX || d2 > INT32_MAX) {
    py_raise_status(PET_ERROR(PET_ERR_ARG, "detector pair (%lld, %lld) out of range", d1, d2));
    return -1;
  }
  return py_check(pet_histo_dets_to_bin(histo_layout(self), (int32_t)d1, (int32_t)d2, bin));
}

static PyObject *histogram_bin_from_dets(py_histogram_object *self, PyObject *args, PyObject *kwds)
{
  int64_t bin = 0;
  if (bin_of_dets(self, args, kwds, "LL:getBinIdFromDetPair", &bin) != 0) return NULL;
  return PyLong_FromLongLong((long long)bin);
}

static PyObject *histogram_coords_from_dets(py_histogram_object *self, PyObject *args,
                                            PyObject *kwds)
{
  int64_t bin = 0;
  if (bin_of_dets(self, args, kwds, "LL:getCoordsFromDetPair", &bin) != 0) return NULL;
  const pet_histo_layout *L = histo_layout(self);
  const int64_t pr = L->num_phi * L->num_r;
  return Py_BuildValue("(LLL)", (long long)((bin % pr) % L->num_r),
                       (long long)((bin % pr) / L->num_r), (long long)(bin / pr));
}

static PyObject *histogram_z1z2(py_histogram_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"z_bin", NULL};
  long long z;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "L:getZ1Z2", kwlist, &z)) return NULL;
  const pet_histo_layout *L = histo_layout(self);
  if (z < 0 || z >= L->num_zbin)
    return py_raise_status(PET_ERROR(PET_ERR_ARG, "getZ1Z2: z_bin %lld is outside [0, %lld)", z,
                                     (long long)L->num_zbin));
  return Py_BuildValue("(ii)", (int)L->zbin_rings[2 * z], (int)L->zbin_rings[2 * z + 1]);
}

static PyObject *histogram_get_shape(py_histogram_object *self, PyObject *unused)
{
  int64_t shape[3];
  histo_shape(self, shape);
  return Py_BuildValue("(LLL)", (long long)shape[0], (long long)shape[1], (long long)shape[2]);
}

static PyObject *histogram_get_size(py_histogram_object *self, void *c)
{
  return PyLong_FromLongLong((long long)histo_layout(self)->num_bins);
}

static PyObject *histogram_get_num_tof(py_histogram_object *self, void *c)
{
  return PyLong_FromLong((long)self->h->num_tof_bins);
}

static PyObject *histogram_get_tof_width(py_histogram_object *self, void *c)
{
  return PyFloat_FromDouble((double)self->h->tof_bin_width_ps);
}

static PyObject *histogram_set_tof_bins(py_histogram_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"num_tof_bins", "tof_bin_width_ps", NULL};
  int n = 0;
  float w = 0.0f;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "i|f:setTOFBins", kwlist, &n, &w)) return NULL;
  if (py_check(pet_histogram_set_tof_bins(self->h, n, w)) != 0) return NULL;
  histo_set_view(self);
  Py_RETURN_NONE;
}

static PyObject *histogram_is_memory_valid(py_histogram_object *self, PyObject *unused)
{
  return PyBool_FromLong(self->h->data != NULL);
}

/* One bin's value (read or written by the caller through *v), TOF bin tof_bin of a TOF
 * histogram (0 otherwise); RuntimeError before memory, ValueError outside. */
static float *histogram_bin_ptr(py_histogram_object *self, long long bin, int tof_bin, const char *what)
{
  if (py_check(pet_histogram_require(self->h)) != 0) return NULL;
  if (check_bin(histo_layout(self), bin, what) != 0) return NULL;
  const int T = self->h->num_tof_bins;
  if (tof_bin < 0 || tof_bin >= (T > 0 ? T : 1)) {
    py_raise_status(PET_ERROR(PET_ERR_ARG, "%s: tof_bin %d is outside [0, %d)", what, tof_bin, T > 0 ? T : 1));
    return NULL;
  }
  return self->h->data + (T > 0 ? bin * T + tof_bin : bin);
}

static PyObject *histogram_get_value(py_histogram_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"bin_id", "tof_bin", NULL};
  long long bin;
  int tb = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "L|i:getProjectionValue", kwlist, &bin, &tb)) return NULL;
  float *v = histogram_bin_ptr(self, bin, tb, "getProjectionValue");
  return v ? PyFloat_FromDouble((double)*v) : NULL;
}

static PyObject *histogram_set_value(py_histogram_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"bin_id", "val", "tof_bin", NULL};
  long long bin;
  float val;
  int tb = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "Lf|i:setProjectionValue", kwlist, &bin, &val, &tb))
    return NULL;
  float *v = histogram_bin_ptr(self, bin, tb, "setProjectionValue");
  if (v == NULL) return NULL;
  *v = val;
  Py_RETURN_NONE;
}

static PyObject *histogram_increment(py_histogram_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"bin_id", "inc_val", "tof_bin", NULL};
  long long bin;
  float val;
  int tb = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "Lf|i:incrementProjection", kwlist, &bin, &val, &tb))
    return NULL;
  float *v = histogram_bin_ptr(self, bin, tb, "incrementProjection");
  if (v == NULL) return NULL;
  *v += val;
  Py_RETURN_NONE;
}

static PyMethodDef histogram_methods[] = {
    {"clearProjections", (PyCFunction)histogram_clear, METH_VARARGS,
     "clearProjections($self, value=0.0, /)\n--\n\nSets every bin to value. RuntimeError before "
     "allocate()/bind()."},
    {"writeToFile", (PyCFunction)histogram_write, METH_O,
     "writeToFile($self, filename, /)\n--\n\nWrites a YRT-PET .his file (atomically). Releases "
     "the GIL."},
    {"readFromFile", (PyCFunction)histogram_read, METH_O,
     "readFromFile($self, filename, /)\n--\n\nReads a YRT-PET .his file of this scanner into the "
     "allocated/bound memory. OSError when the file's dims do not match the scanner."},
    {"getShape", (PyCFunction)histogram_get_shape, METH_NOARGS,
     "getShape($self, /)\n--\n\nReturns tuple: (numZBin, numPhi, numR)."},
    {"isMemoryValid", (PyCFunction)histogram_is_memory_valid, METH_NOARGS,
     "isMemoryValid($self, /)\n--\n\nTrue once allocate() or bind() gave the histogram memory."},
    {"getBinIdFromCoords", PY_METH(histogram_bin_from_coords), METH_VARARGS | METH_KEYWORDS,
     "getBinIdFromCoords($self, /, r, phi, z_bin)\n--\n\nReturns int: (z_bin * numPhi + phi) * "
     "numR + r. ValueError outside the histogram."},
    {"getCoordsFromBinId", PY_METH(histogram_coords_from_bin), METH_VARARGS | METH_KEYWORDS,
     "getCoordsFromBinId($self, /, bin_id)\n--\n\nReturns tuple: (r, phi, z_bin) of a bin."},
    {"getDetPairFromCoords", PY_METH(histogram_dets_from_coords), METH_VARARGS | METH_KEYWORDS,
     "getDetPairFromCoords($self, /, r, phi, z_bin)\n--\n\nReturns tuple: (d1, d2), the detector "
     "pair of the bin, as YRT-PET's tables give it ((phi, r) that the minimum angle difference "
     "excludes have the in-ring pair (0, 0)). ValueError outside the histogram."},
    {"getDetPairFromBinId", PY_METH(histogram_dets_from_bin), METH_VARARGS | METH_KEYWORDS,
     "getDetPairFromBinId($self, /, bin_id)\n--\n\nReturns tuple: (d1, d2) of a bin."},
    {"getBinIdFromDetPair", PY_METH(histogram_bin_from_dets), METH_VARARGS | METH_KEYWORDS,
     "getBinIdFromDetPair($self, /, d1, d2)\n--\n\nReturns int: The bin of a detector pair "
     "(either order). ValueError for a pair the histogram has no bin for (same in-ring index, "
     "angle below minAngDiff, ring difference above maxRingDiff, ids out of range)."},
    {"getCoordsFromDetPair", PY_METH(histogram_coords_from_dets), METH_VARARGS | METH_KEYWORDS,
     "getCoordsFromDetPair($self, /, d1, d2)\n--\n\nReturns tuple: (r, phi, z_bin) of a "
     "detector pair (as getBinIdFromDetPair)."},
    {"getZ1Z2", PY_METH(histogram_z1z2), METH_VARARGS | METH_KEYWORDS,
     "getZ1Z2($self, /, z_bin)\n--\n\nReturns tuple: (z1, z2), the rings of a z-bin. ValueError "
     "outside [0, numZBin)."},
    {"getProjectionValue", PY_METH(histogram_get_value), METH_VARARGS | METH_KEYWORDS,
     "getProjectionValue($self, /, bin_id, tof_bin=0)\n--\n\nReturns float: The value of a bin "
     "(of its TOF bin tof_bin in a TOF histogram)."},
    {"setProjectionValue", PY_METH(histogram_set_value), METH_VARARGS | METH_KEYWORDS,
     "setProjectionValue($self, /, bin_id, val, tof_bin=0)\n--\n\nSets the value of a bin."},
    {"incrementProjection", PY_METH(histogram_increment), METH_VARARGS | METH_KEYWORDS,
     "incrementProjection($self, /, bin_id, inc_val, tof_bin=0)\n--\n\nAdds inc_val to a bin."},
    {"setTOFBins", PY_METH(histogram_set_tof_bins), METH_VARARGS | METH_KEYWORDS,
     "setTOFBins($self, /, num_tof_bins, tof_bin_width_ps=0.0)\n--\n\nMakes this a TOF "
     "histogram (TOF the fastest axis; 0 = none) before allocate()/bind(). ValueError for a bad "
     "count or width, RuntimeError once it has memory."},
    {"__array__", PY_METH(py_array_method), METH_VARARGS | METH_KEYWORDS,
     "__array__($self, /, dtype=None, copy=None)\n--\n\nnumpy view (numZBin, numPhi, numR) "
     "float32; RuntimeError before allocate()/bind()."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef histogram_getset[] = {
    {"numZBin", (getter)histogram_get_dim, NULL, "Number of z-bins (ring pairs).", (void *)0},
    {"numPhi", (getter)histogram_get_dim, NULL, "Number of angles.", (void *)1},
    {"numR", (getter)histogram_get_dim, NULL, "Number of radial bins.", (void *)2},
    {"histoSize", (getter)histogram_get_size, NULL, "Number of bins (numZBin * numPhi * numR).",
     NULL},
    {"numTOFBins", (getter)histogram_get_num_tof, NULL,
     "TOF bins per bin (0: no TOF); a TOF histogram's buffer is (numZBin, numPhi, numR, numTOFBins).",
     NULL},
    {"tofBinWidth_ps", (getter)histogram_get_tof_width, NULL, "Width of one TOF bin in ps (0: no TOF).",
     NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyObject *histogram_allocate(py_histogram_object *self, PyObject *unused)
{
  if (py_check(pet_histogram_allocate(self->h)) != 0) return NULL;
  Py_RETURN_NONE;
}

static PyObject *histogram_bind(py_histogram_object *self, PyObject *obj)
{
  int64_t shape4[4];
  void *data = NULL;
  if (py_check_unpinned(self->base.pins, "Histogram3DAlias.bind") != 0) return NULL;
  histo_shape(self, shape4);
  shape4[3] = self->h->num_tof_bins;
  if (py_keeper_bind_buffer(&self->keep, obj, self->ndim, shape4,
                            self->ndim == 4 ? histo_tof_dims : histo_dims, PY_ELEM_F32,
                            "Histogram3DAlias.bind", &data) != 0)
    return NULL;
  if (py_check(pet_histogram_bind(self->h, data)) != 0) return NULL;
  Py_RETURN_NONE;
}

static PyMethodDef histogram_owned_methods[] = {
    {"allocate", (PyCFunction)histogram_allocate, METH_NOARGS,
     "allocate($self, /)\n--\n\nAllocates zeroed bins (no-op when allocated)."},
    {NULL, NULL, 0, NULL}};

static PyMethodDef histogram_alias_methods[] = {
    {"bind", (PyCFunction)histogram_bind, METH_O,
     "bind($self, array, /)\n--\n\nUses array's memory: writable C-contiguous float32 of shape "
     "(numZBin, numPhi, numR); holds a reference to it.\nValueError naming the expectation."},
    {NULL, NULL, 0, NULL}};

PyTypeObject py_histogram_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.Histogram3D",
    .tp_basicsize = sizeof(py_histogram_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "YRT-PET's fully-3D histogram: one float32 per bin, shape (numZBin, numPhi, numR)\n"
              "(r fastest), exported through the buffer protocol. Use Histogram3DOwned or\n"
              "Histogram3DAlias.",
    .tp_base = &py_projdata_type,
    .tp_dealloc = (destructor)projdata_dealloc,
    .tp_as_buffer = &histogram_buffer,
    .tp_methods = histogram_methods,
    .tp_getset = histogram_getset,
};

static PyTypeObject histogram_owned_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.Histogram3DOwned",
    .tp_basicsize = sizeof(py_histogram_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Histogram3DOwned(scanner) | Histogram3DOwned(scanner, filename)\n\n"
              "A histogram owning its bins: allocate() before use, or read a .his file.",
    .tp_base = &py_histogram_type,
    .tp_new = histogram_new,
    .tp_dealloc = (destructor)projdata_dealloc,
    .tp_methods = histogram_owned_methods,
};

static PyTypeObject histogram_alias_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.Histogram3DAlias",
    .tp_basicsize = sizeof(py_histogram_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Histogram3DAlias(scanner)\n--\n\n"
              "A histogram over a numpy array: bind() a float32 (numZBin, numPhi, numR) array.",
    .tp_base = &py_histogram_type,
    .tp_new = histogram_new,
    .tp_dealloc = (destructor)projdata_dealloc,
    .tp_methods = histogram_alias_methods,
};

/* ---- ListModeLUT --------------------------------------------------------------------------- */

static PyObject *listmode_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"scanner", "filename", "flag_tof", NULL};
  static char *kwlist_alias[] = {"scanner", "flag_tof", NULL};
  PyObject *scanner, *fname = NULL;
  int flag_tof = 0;
  bool owned = PyType_IsSubtype(type, &listmode_owned_type);
  int ok = owned ? PyArg_ParseTupleAndKeywords(args, kwds, "O|O&p", kwlist, &scanner,
                                               py_path_converter, &fname, &flag_tof)
                 : PyArg_ParseTupleAndKeywords(args, kwds, "O|p", kwlist_alias, &scanner, &flag_tof);
  if (!ok) return NULL;
  pet_scanner *s = scanner_of(scanner, type->tp_name);
  pet_listmode *lm = NULL;
  pet_status st = PET_OK;
  if (s != NULL) {
    if (fname != NULL) {
      const char *path = PyBytes_AS_STRING(fname);
      Py_BEGIN_ALLOW_THREADS
      st = pet_listmode_read_yrt(&lm, s, path, flag_tof != 0);
      Py_END_ALLOW_THREADS
    } else {
      st = pet_listmode_create(&lm, 0, flag_tof != 0, owned ? PET_OWNED : PET_ALIAS);
    }
  }
  Py_XDECREF(fname);
  if (s == NULL) return NULL;
  if (st != PET_OK) return py_raise_status(st);
  py_listmode_object *self = (py_listmode_object *)type->tp_alloc(type, 0);
  if (self == NULL) {
    pet_listmode_destroy(&lm);
    return NULL;
  }
  self->base.scanner = Py_NewRef(scanner);
  self->lm = lm;
  self->has_tof = flag_tof != 0;
  return (PyObject *)self;
}

static PyObject *listmode_is_tof(py_listmode_object *self, PyObject *unused)
{
  return PyBool_FromLong(self->has_tof);
}

static PyObject *listmode_write(py_listmode_object *self, PyObject *arg)
{
  PyObject *fname = NULL;
  if (!py_path_converter(arg, &fname)) return NULL;
  const char *path = PyBytes_AS_STRING(fname);
  pet_status st;
  ++self->base.pins;
  Py_BEGIN_ALLOW_THREADS
  st = pet_listmode_write_yrt(self->lm, path);
  Py_END_ALLOW_THREADS
  --self->base.pins;
  Py_DECREF(fname);
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *listmode_array(py_listmode_object *self, int which)
{
  if (py_check(pet_listmode_require(self->lm)) != 0) return NULL;
  if (which == 3 && !self->has_tof)
    return py_raise_status(
        PET_ERROR(PET_ERR_STATE, "getTOFArray: this list-mode has no TOF (flag_tof=False)"));
  int64_t n = self->lm->num_events;
  void *data = which == 0   ? (void *)self->lm->time_ms
               : which == 1 ? (void *)self->lm->d1
               : which == 2 ? (void *)self->lm->d2
                            : (void *)self->lm->tof_ps;
  return py_numpy_view((PyObject *)self, &self->base.pins, data, 1, &n,
                       which == 3 ? PY_ELEM_F32 : PY_ELEM_U32, false);
}

static PyObject *listmode_times(py_listmode_object *self, PyObject *u) { return listmode_array(self, 0); }
static PyObject *listmode_d1(py_listmode_object *self, PyObject *u) { return listmode_array(self, 1); }
static PyObject *listmode_d2(py_listmode_object *self, PyObject *u) { return listmode_array(self, 2); }
static PyObject *listmode_tof(py_listmode_object *self, PyObject *u) { return listmode_array(self, 3); }

static PyMethodDef listmode_methods[] = {
    {"isTOF", (PyCFunction)listmode_is_tof, METH_NOARGS,
     "isTOF($self, /)\n--\n\nTrue when events carry a TOF value."},
    {"writeToFile", (PyCFunction)listmode_write, METH_O,
     "writeToFile($self, filename, /)\n--\n\nWrites a YRT-PET .lmDat file (atomically)."},
    {"getTimestampArray", (PyCFunction)listmode_times, METH_NOARGS,
     "getTimestampArray($self, /)\n--\n\nnumpy uint32 view of the event times (ms)."},
    {"getDetector1Array", (PyCFunction)listmode_d1, METH_NOARGS,
     "getDetector1Array($self, /)\n--\n\nnumpy uint32 view of the first detector ids."},
    {"getDetector2Array", (PyCFunction)listmode_d2, METH_NOARGS,
     "getDetector2Array($self, /)\n--\n\nnumpy uint32 view of the second detector ids."},
    {"getTOFArray", (PyCFunction)listmode_tof, METH_NOARGS,
     "getTOFArray($self, /)\n--\n\nnumpy float32 view of t2 - t1 (ps); RuntimeError without TOF."},
    {NULL, NULL, 0, NULL}};

static PyObject *listmode_allocate(py_listmode_object *self, PyObject *arg)
{
  long long n = PyLong_AsLongLong(arg);
  if (n == -1 && PyErr_Occurred()) return NULL;
  if (py_check_unpinned(self->base.pins, "ListModeLUTOwned.allocate") != 0) return NULL;
  pet_listmode *lm = NULL;
  pet_status st = pet_listmode_create_owned(&lm, (int64_t)n, self->has_tof);
  if (st != PET_OK) return py_raise_status(st);
  pet_listmode_destroy(&self->lm);
  self->lm = lm;
  Py_RETURN_NONE;
}

static PyObject *listmode_bind(py_listmode_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"timestamps", "detector_ids1", "detector_ids2", "tof_ps", NULL};
  PyObject *arrs[4] = {NULL, NULL, NULL, NULL};
  static const char *what[4] = {"ListModeLUTAlias.bind(timestamps)",
                                "ListModeLUTAlias.bind(detector_ids1)",
                                "ListModeLUTAlias.bind(detector_ids2)",
                                "ListModeLUTAlias.bind(tof_ps)"};
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|O:bind", kwlist, &arrs[0], &arrs[1], &arrs[2],
                                   &arrs[3]))
    return NULL;
  if (arrs[3] == Py_None) arrs[3] = NULL;
  if ((arrs[3] != NULL) != self->has_tof)
    return py_raise_status(PET_ERROR(PET_ERR_ARG,
                                     "ListModeLUTAlias.bind: %s (flag_tof=%s)",
                                     self->has_tof ? "tof_ps is required" : "tof_ps given",
                                     self->has_tof ? "True" : "False"));
  if (py_check_unpinned(self->base.pins, "ListModeLUTAlias.bind") != 0) return NULL;
  Py_ssize_t len = PyObject_Length(arrs[0]);
  if (len < 0) return NULL;
  int64_t n = len;
  py_keeper keep[4];
  void *data[4] = {NULL, NULL, NULL, NULL};
  memset(keep, 0, sizeof keep);
  pet_listmode *lm = NULL;
  int nk = arrs[3] != NULL ? 4 : 3;
  for (int i = 0; i < nk; ++i) {
    if (py_keeper_bind_buffer(&keep[i], arrs[i], 1, &n, "[num_events]",
                              i == 3 ? PY_ELEM_F32 : PY_ELEM_U32, what[i], &data[i]) != 0)
      goto fail;
  }
  pet_status st = pet_listmode_create(&lm, n, self->has_tof, PET_ALIAS);
  if (st == PET_OK) st = pet_listmode_bind(lm, data[0], data[1], data[2], data[3]);
  if (st == PET_OK) st = pet_listmode_check(lm, ((py_scanner_object *)self->base.scanner)->s);
  if (st != PET_OK) {
    py_raise_status(st);
    goto fail;
  }
  for (int i = 0; i < 4; ++i) {
    py_keeper_release(&self->keep[i]);
    self->keep[i] = keep[i];
  }
  pet_listmode_destroy(&self->lm);
  self->lm = lm;
  Py_RETURN_NONE;
fail:
  for (int i = 0; i < 4; ++i) py_keeper_release(&keep[i]);
  pet_listmode_destroy(&lm);
  return NULL;
}

static PyMethodDef listmode_owned_methods[] = {
    {"allocate", (PyCFunction)listmode_allocate, METH_O,
     "allocate($self, num_events, /)\n--\n\nAllocates num_events zeroed events (replacing any "
     "previous ones). BufferError while views of the current events are alive."},
    {NULL, NULL, 0, NULL}};

static PyMethodDef listmode_alias_methods[] = {
    {"bind", PY_METH(listmode_bind), METH_VARARGS | METH_KEYWORDS,
     "bind($self, /, timestamps, detector_ids1, detector_ids2, tof_ps=None)\n--\n\nUses the "
     "memory of 1-D C-contiguous arrays of equal length: uint32 times (ms) and detector ids, "
     "float32 TOF (ps, required iff flag_tof). Holds references to them.\nValueError naming the "
     "expectation, or a detector id out of range."},
    {NULL, NULL, 0, NULL}};

PyTypeObject py_listmode_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.ListModeLUT",
    .tp_basicsize = sizeof(py_listmode_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "List-mode events (time, detector 1, detector 2[, TOF]) with detector positions\n"
              "from the scanner's LUT. Use ListModeLUTOwned or ListModeLUTAlias.",
    .tp_base = &py_projdata_type,
    .tp_dealloc = (destructor)projdata_dealloc,
    .tp_methods = listmode_methods,
};

static PyTypeObject listmode_owned_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.ListModeLUTOwned",
    .tp_basicsize = sizeof(py_listmode_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "ListModeLUTOwned(scanner, flag_tof=False) | ListModeLUTOwned(scanner, filename,\n"
              "flag_tof=False)\n\nList-mode owning its events: allocate(num_events) before use, "
              "or read a\nYRT-PET .lmDat file (detector ids checked against the scanner).",
    .tp_base = &py_listmode_type,
    .tp_new = listmode_new,
    .tp_dealloc = (destructor)projdata_dealloc,
    .tp_methods = listmode_owned_methods,
};

static PyTypeObject listmode_alias_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.ListModeLUTAlias",
    .tp_basicsize = sizeof(py_listmode_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "ListModeLUTAlias(scanner, flag_tof=False)\n--\n\n"
              "List-mode over numpy arrays: bind(timestamps, detector_ids1, detector_ids2[, tof_ps]).",
    .tp_base = &py_listmode_type,
    .tp_new = listmode_new,
    .tp_dealloc = (destructor)projdata_dealloc,
    .tp_methods = listmode_alias_methods,
};

int py_projdata_init(PyObject *m)
{
  struct {
    PyTypeObject *type;
    const char *name;
  } types[] = {{&py_bin_iter_type, "BinIter"},
               {&py_projdata_type, "ProjectionData"},
               {&py_histogram_type, "Histogram3D"},
               {&histogram_owned_type, "Histogram3DOwned"},
               {&histogram_alias_type, "Histogram3DAlias"},
               {&py_listmode_type, "ListModeLUT"},
               {&listmode_owned_type, "ListModeLUTOwned"},
               {&listmode_alias_type, "ListModeLUTAlias"}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; ++i) {
    if (PyType_Ready(types[i].type) != 0) return -1;
    if (PyModule_AddObjectRef(m, types[i].name, (PyObject *)types[i].type) != 0) return -1;
  }
  return 0;
}
