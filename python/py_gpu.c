/* petrel Python module: the GPU projection operators and the device projection list
 * (YRT-PET's OperatorProjectorDevice and ProjectionListDevice).
 *
 *   OperatorProjectorDevice ─┬─ OperatorProjectorSiddon_GPU   (numRays > 1: multi-ray Siddon)
 *                            └─ OperatorProjectorDD_GPU       distance-driven
 *   ProjectionListDevice ─┬─ ProjectionListDeviceOwned   allocate() the values on the device
 *                         └─ ProjectionListDeviceAlias   setProjValuesDevicePointer(ptr) or
 *                                                        bind(CUDA DLPack tensor)
 *
 * A ProjectionListDevice holds the LORs of one (subset, batch) of a histogram or list-mode on
 * the device (prepareBatchLORs) and one value per LOR. applyA(image, list) writes A image into
 * the values, applyAH(list, image) adds A^T values into the image. Everything over
 * gpu/pet_gpu.h; every call that touches the GPU releases the GIL. Without CUDA in the build
 * every constructor raises NotImplementedError with the C library's message. */
#include "py_common.h" /* first: Python.h must precede the system headers */

#include <stdio.h>
#include <string.h>

#include "pet_gpu.h"
#include "pet_histogram.h"
#include "pet_listmode.h"
#include "pet_scanner.h"

/* ---- ProjectionListDevice ------------------------------------------------------------------ */

typedef struct projlist_object {
  PyObject_HEAD
  pet_projlist_device *pl; /* never NULL after construction */
  PyObject *scanner;       /* the Scanner whose pet_scanner pl borrows */
  PyObject *data;          /* the Histogram3D / ListModeLUT pl borrows (pinned for list-mode) */
  bool owned;              /* values: Owned (allocate) or Alias (bind) */
  bool has_tof;
  int32_t num_subsets;
  py_keeper keep;          /* Alias bound through DLPack: the consumed tensor */
  int64_t bound_len;       /* floats of the bound tensor; -1 for a raw pointer (unknown) */
  int device_id;
  Py_ssize_t pins;         /* exported DLPack tensors of the values */
  int busy;                /* a GIL-free operation on this list is running */
} projlist_object;

static PyTypeObject projlist_type;
static PyTypeObject projlist_owned_type;
static PyTypeObject projlist_alias_type;

static bool projlist_data_is_listmode(const projlist_object *self)
{
  return PyObject_TypeCheck(self->data, &py_listmode_type);
}

/* Claims the list for one GIL-free operation (RuntimeError when another thread holds it). */
static int projlist_claim(projlist_object *self, const char *what)
{
  if (self->busy) {
    PyErr_Format(PyExc_RuntimeError,
                 "%s: this ProjectionListDevice is in use by an operation running in another "
                 "thread", what);
    return -1;
  }
  self->busy = 1;
  return 0;
}

static PyObject *projlist_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"scanner", "data", "props", "memory_budget", "num_subsets", NULL};
  PyObject *scanner, *data, *props = Py_None;
  long long budget = 0;
  int num_subsets = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O|OLi", kwlist, &py_scanner_type, &scanner,
                                   &data, &props, &budget, &num_subsets))
    return NULL;
  const bool owned = PyType_IsSubtype(type, &projlist_owned_type);
  if (!owned && !PyType_IsSubtype(type, &projlist_alias_type)) {
    PyErr_SetString(PyExc_TypeError,
                    "ProjectionListDevice is abstract: use ProjectionListDeviceOwned or "
                    "ProjectionListDeviceAlias");
    return NULL;
  }
  const bool is_histo = PyObject_TypeCheck(data, &py_histogram_type);
  const bool is_lm = PyObject_TypeCheck(data, &py_listmode_type);
  if (!is_histo && !is_lm) {
    PyErr_Format(PyExc_TypeError, "%s: data must be a Histogram3D or a ListModeLUT, got '%.100s'",
                 type->tp_name, Py_TYPE(data)->tp_name);
    return NULL;
  }
  if (((py_projdata_object *)data)->scanner != scanner)
    return py_raise_status(PET_ERROR(PET_ERR_ARG,
                                     "%s: the projection data belong to another Scanner", type->tp_name));
  /* props: what getProjectionPropertyTypes gave ("LOR", "DetOrient"[, "TOF"]); TOF decides */
  bool tof = false;
  if (props != Py_None) {
    PyObject *seq = PySequence_Fast(props, "props must be a sequence of property names "
                                           "(from getProjectionPropertyTypes)");
    if (seq == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); ++i) {
      const char *name = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));
      if (name == NULL) {
        Py_DECREF(seq);
        return NULL;
      }
      if (!strcmp(name, "TOF")) {
        tof = true;
      } else if (strcmp(name, "LOR") != 0 && strcmp(name, "DetOrient") != 0) {
        Py_DECREF(seq);
        return py_raise_status(PET_ERROR(PET_ERR_ARG,
                                         "%s: unknown projection property '%s' (expected \"LOR\", "
                                         "\"DetOrient\" or \"TOF\")",
                                         type->tp_name, name));
      }
    }
    Py_DECREF(seq);
  }
  if (budget < 0)
    return py_raise_status(PET_ERROR(PET_ERR_ARG, "%s: memory_budget must be >= 0 bytes (0: 80%% "
                                     "of the free VRAM), got %lld", type->tp_name, budget));
  const pet_scanner *s = ((py_scanner_object *)scanner)->s;
  const pet_histogram *h = is_histo ? ((py_histogram_object *)data)->h : NULL;
  const pet_listmode *lm = is_lm ? ((py_listmode_object *)data)->lm : NULL;
  pet_projlist_device *pl = NULL;
  pet_status st;
  ++((py_projdata_object *)data)->pins;
  Py_BEGIN_ALLOW_THREADS
  st = pet_projlist_device_create(&pl, s, h, lm, tof ? 1 : 0, (int64_t)budget, num_subsets,
                                  owned ? PET_OWNED : PET_ALIAS);
  Py_END_ALLOW_THREADS
  --((py_projdata_object *)data)->pins;
  if (st != PET_OK) return py_raise_status(st);
  projlist_object *self = (projlist_object *)type->tp_alloc(type, 0);
  if (self == NULL) {
    pet_projlist_device_destroy(&pl);
    return NULL;
  }
  self->pl = pl;
  self->scanner = Py_NewRef(scanner);
  self->data = Py_NewRef(data);
  /* pl borrows the pet_listmode itself, which allocate()/bind() would replace: pin it for our
   * lifetime. A histogram's layout (all pl reads of it) survives a rebind of its bins. */
  if (is_lm) ++((py_projdata_object *)data)->pins;
  self->owned = owned;
  self->has_tof = tof;
  self->num_subsets = num_subsets;
  self->bound_len = -1;
  return (PyObject *)self;
}

static void projlist_dealloc(projlist_object *self)
{
  pet_projlist_device_destroy(&self->pl);
  py_keeper_release(&self->keep);
  if (self->data != NULL && projlist_data_is_listmode(self)) --((py_projdata_object *)self->data)->pins;
  Py_XDECREF(self->data);
  Py_XDECREF(self->scanner);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *projlist_repr(projlist_object *self)
{
  return PyUnicode_FromFormat("<%s: %s, %d subset(s), batch capacity %lld LORs, loaded %lld, %s>",
                              Py_TYPE(self)->tp_name,
                              projlist_data_is_listmode(self) ? "list-mode" : "histogram",
                              (int)self->num_subsets,
                              (long long)pet_projlist_device_batch_capacity(self->pl),
                              (long long)pet_projlist_device_loaded_batch_size(self->pl),
                              pet_projlist_device_values(self->pl) == NULL
                                  ? (self->owned ? "values not allocated" : "values not bound")
                                  : (self->owned ? "values allocated" : "values bound"));
}

static PyObject *projlist_prepare(projlist_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"subset", "batch", NULL};
  int subset = 0;
  long long batch = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "iL:prepareBatchLORs", kwlist, &subset, &batch))
    return NULL;
  if (projlist_claim(self, "prepareBatchLORs") != 0) return NULL;
  pet_status st;
  Py_BEGIN_ALLOW_THREADS
  st = pet_projlist_device_prepare_batch(self->pl, subset, (int64_t)batch);
  Py_END_ALLOW_THREADS
  self->busy = 0;
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *projlist_loaded(projlist_object *self, PyObject *unused)
{
  return PyLong_FromLongLong((long long)pet_projlist_device_loaded_batch_size(self->pl));
}

static PyObject *projlist_capacity(projlist_object *self, PyObject *unused)
{
  return PyLong_FromLongLong((long long)pet_projlist_device_batch_capacity(self->pl));
}

static PyObject *projlist_num_batches(projlist_object *self, PyObject *arg)
{
  long s = PyLong_AsLong(arg);
  if (s == -1 && PyErr_Occurred()) return NULL;
  if (s < 0 || s >= self->num_subsets)
    return py_raise_status(PET_ERROR(PET_ERR_ARG, "getNumBatches: subset %ld outside [0, %d)", s,
                                     (int)self->num_subsets));
  return PyLong_FromLongLong((long long)pet_projlist_device_num_batches(self->pl, (int32_t)s));
}

static PyObject *projlist_num_subsets(projlist_object *self, PyObject *unused)
{
  return PyLong_FromLong(self->num_subsets);
}

static PyObject *projlist_has_tof(projlist_object *self, PyObject *unused)
{
  return PyBool_FromLong(self->has_tof);
}

static PyObject *projlist_get_data(projlist_object *self, PyObject *unused)
{
  return Py_NewRef(self->data);
}

/* The loaded batch's values, usable now: a batch is loaded and the values exist (and, for a
 * bound tensor, hold the batch). Raises RuntimeError / ValueError otherwise. */
static float *projlist_values_for_use(projlist_object *self, const char *what)
{
  const int64_t n = pet_projlist_device_loaded_batch_size(self->pl);
  float *v = pet_projlist_device_values(self->pl);
  if (n == 0) {
    py_raise_status(PET_ERROR(PET_ERR_STATE,
                              "%s: no batch is loaded: call prepareBatchLORs(subset, batch) first",
                              what));
    return NULL;
  }
  if (v == NULL) {
    py_raise_status(PET_ERROR(PET_ERR_STATE, "%s: the projection values are used before %s", what,
                              self->owned ? "allocate()"
                                          : "setProjValuesDevicePointer(ptr) or bind(tensor)"));
    return NULL;
  }
  if (self->bound_len >= 0 && self->bound_len < n) {
    py_raise_status(PET_ERROR(PET_ERR_ARG,
                              "%s: the bound tensor holds %lld values, the loaded batch has %lld "
                              "LORs: bind a tensor of getLoadedBatchSize() floats",
                              what, (long long)self->bound_len, (long long)n));
    return NULL;
  }
  return v;
}

static PyObject *projlist_get_pointer(projlist_object *self, PyObject *unused)
{
  float *v = pet_projlist_device_values(self->pl);
  if (v == NULL)
    return py_raise_status(PET_ERROR(PET_ERR_STATE, "getProjValuesDevicePointer: no values before %s",
                                     self->owned ? "allocate()" : "setProjValuesDevicePointer/bind"));
  return PyLong_FromUnsignedLongLong((unsigned long long)(uintptr_t)v);
}

static PyObject *projlist_dlpack(projlist_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"stream", "max_version", "dl_device", "copy", NULL};
  PyObject *stream = Py_None, *maxv = Py_None, *dldev = Py_None, *copy = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$OOOO:__dlpack__", kwlist, &stream, &maxv,
                                   &dldev, &copy))
    return NULL;
  float *v = projlist_values_for_use(self, "__dlpack__");
  if (v == NULL) return NULL;
  int64_t n = pet_projlist_device_loaded_batch_size(self->pl);
  py_dl_device d = {PY_DL_CUDA, self->device_id};
  return py_dlpack_export((PyObject *)self, &self->pins, v, d, 1, &n, PY_ELEM_F32);
}

static PyObject *projlist_dlpack_device(projlist_object *self, PyObject *unused)
{
  return Py_BuildValue("(ii)", (int)PY_DL_CUDA, self->device_id);
}

/* Host copies of the loaded values: for checks and small problems without torch. */
static PyObject *projlist_get_values(projlist_object *self, PyObject *unused)
{
  float *v = projlist_values_for_use(self, "getProjValues");
  if (v == NULL) return NULL;
  const int64_t n = pet_projlist_device_loaded_batch_size(self->pl);
  PyObject *np = PyImport_ImportModule("numpy");
  if (np == NULL) return NULL;
  PyObject *arr = PyObject_CallMethod(np, "empty", "(L)s", (long long)n, "float32");
  Py_DECREF(np);
  if (arr == NULL) return NULL;
  Py_buffer view;
  if (PyObject_GetBuffer(arr, &view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) != 0) {
    Py_DECREF(arr);
    return NULL;
  }
  if (projlist_claim(self, "getProjValues") != 0) {
    PyBuffer_Release(&view);
    Py_DECREF(arr);
    return NULL;
  }
  pet_status st;
  Py_BEGIN_ALLOW_THREADS
  st = pet_gpu_memcpy(view.buf, v, (size_t)n * sizeof(float), 1);
  Py_END_ALLOW_THREADS
  self->busy = 0;
  PyBuffer_Release(&view);
  if (st != PET_OK) {
    Py_DECREF(arr);
    return py_raise_status(st);
  }
  return arr;
}

static PyObject *projlist_set_values(projlist_object *self, PyObject *arr)
{
  float *v = projlist_values_for_use(self, "setProjValues");
  if (v == NULL) return NULL;
  int64_t n = pet_projlist_device_loaded_batch_size(self->pl);
  py_keeper k;
  memset(&k, 0, sizeof k);
  void *src = NULL;
  if (py_keeper_bind_buffer_ro(&k, arr, 1, &n, "[getLoadedBatchSize()]", PY_ELEM_F32,
                               "setProjValues", &src) != 0)
    return NULL;
  if (projlist_claim(self, "setProjValues") != 0) {
    py_keeper_release(&k);
    return NULL;
  }
  pet_status st;
  Py_BEGIN_ALLOW_THREADS
  st = pet_gpu_memcpy(v, src, (size_t)n * sizeof(float), 0);
  Py_END_ALLOW_THREADS
  self->busy = 0;
  py_keeper_release(&k);
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *projlist_clear(projlist_object *self, PyObject *args)
{
  double value = 0.0;
  if (!PyArg_ParseTuple(args, "|d:clearProjections", &value)) return NULL;
  float *v = projlist_values_for_use(self, "clearProjections");
  if (v == NULL) return NULL;
  const int64_t n = pet_projlist_device_loaded_batch_size(self->pl);
  if (projlist_claim(self, "clearProjections") != 0) return NULL;
  pet_status st;
  Py_BEGIN_ALLOW_THREADS
  st = pet_gpu_fill_f32(v, n, (float)value);
  Py_END_ALLOW_THREADS
  self->busy = 0;
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *projlist_allocate(projlist_object *self, PyObject *unused)
{
  if (projlist_claim(self, "allocate") != 0) return NULL;
  pet_status st;
  Py_BEGIN_ALLOW_THREADS
  st = pet_projlist_device_allocate_values(self->pl);
  Py_END_ALLOW_THREADS
  self->busy = 0;
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *projlist_set_pointer(projlist_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"pointer", "device_id", NULL};
  PyObject *ptr_obj;
  int dev = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|i:setProjValuesDevicePointer", kwlist, &ptr_obj,
                                   &dev))
    return NULL;
  unsigned long long ptr = PyLong_AsUnsignedLongLong(ptr_obj);
  if (ptr == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
  if (py_check_unpinned(self->pins, "setProjValuesDevicePointer") != 0) return NULL;
  if (self->busy) {
    projlist_claim(self, "setProjValuesDevicePointer"); /* raises */
    return NULL;
  }
  void *p = (void *)(uintptr_t)ptr;
  if (p != NULL && !pet_gpu_is_device_ptr(p)) {
    PyErr_Format(PyExc_ValueError,
                 "setProjValuesDevicePointer: 0x%llx is not CUDA device memory (pass "
                 "tensor.data_ptr() of a CUDA tensor)", ptr);
    return NULL;
  }
  if (py_check(pet_projlist_device_bind_values(self->pl, (float *)p)) != 0) return NULL;
  py_keeper_release(&self->keep);
  self->bound_len = -1;
  self->device_id = dev;
  Py_RETURN_NONE;
}

static PyObject *projlist_bind(projlist_object *self, PyObject *tensor)
{
  if (py_check_unpinned(self->pins, "ProjectionListDeviceAlias.bind") != 0) return NULL;
  if (self->busy) {
    projlist_claim(self, "ProjectionListDeviceAlias.bind"); /* raises */
    return NULL;
  }
  int64_t n = pet_projlist_device_loaded_batch_size(self->pl);
  if (n == 0)
    return py_raise_status(PET_ERROR(PET_ERR_STATE,
                                     "ProjectionListDeviceAlias.bind: no batch is loaded, so the "
                                     "tensor's length is unknown: call prepareBatchLORs first"));
  py_keeper k;
  memset(&k, 0, sizeof k);
  void *data = NULL;
  int dev = 0;
  if (py_keeper_bind_dlpack(&k, tensor, true, 1, &n, "[getLoadedBatchSize()]", PY_ELEM_F32,
                            "ProjectionListDeviceAlias.bind", &data, &dev) != 0)
    return NULL;
  pet_status st = pet_projlist_device_bind_values(self->pl, (float *)data);
  if (st != PET_OK) {
    py_keeper_release(&k);
    return py_raise_status(st);
  }
  py_keeper_release(&self->keep);
  self->keep = k;
  self->bound_len = n;
  self->device_id = dev;
  Py_RETURN_NONE;
}

static PyMethodDef projlist_methods[] = {
    {"prepareBatchLORs", PY_METH(projlist_prepare), METH_VARARGS | METH_KEYWORDS,
     "prepareBatchLORs($self, /, subset, batch)\n--\n\nBuilds the LORs of batch `batch` of OSEM "
     "subset `subset` on the device (the projection values keep their memory). Releases the "
     "GIL.\nValueError when subset or batch is out of range (see getNumBatches)."},
    {"getLoadedBatchSize", (PyCFunction)projlist_loaded, METH_NOARGS,
     "getLoadedBatchSize($self, /)\n--\n\nReturns int: LORs in the loaded batch (0 before "
     "prepareBatchLORs)."},
    {"getBatchCapacity", (PyCFunction)projlist_capacity, METH_NOARGS,
     "getBatchCapacity($self, /)\n--\n\nReturns int: LORs per batch, from the memory budget."},
    {"getNumBatches", (PyCFunction)projlist_num_batches, METH_O,
     "getNumBatches($self, subset, /)\n--\n\nReturns int: Number of batches of `subset`."},
    {"getNumSubsets", (PyCFunction)projlist_num_subsets, METH_NOARGS,
     "getNumSubsets($self, /)\n--\n\nReturns int: The number of OSEM subsets given at construction."},
    {"hasTOF", (PyCFunction)projlist_has_tof, METH_NOARGS,
     "hasTOF($self, /)\n--\n\nReturns bool: True when the LORs carry TOF (\"TOF\" in props)."},
    {"getReference", (PyCFunction)projlist_get_data, METH_NOARGS,
     "getReference($self, /)\n--\n\nReturns the Histogram3D or ListModeLUT the LORs come from."},
    {"getProjValuesDevicePointer", (PyCFunction)projlist_get_pointer, METH_NOARGS,
     "getProjValuesDevicePointer($self, /)\n--\n\nReturns int: Device address of the values.\n"
     "RuntimeError before allocate()/bind."},
    {"getProjValues", (PyCFunction)projlist_get_values, METH_NOARGS,
     "getProjValues($self, /)\n--\n\nReturns numpy.ndarray: A host copy (float32, "
     "[getLoadedBatchSize()]) of the loaded batch's values. Releases the GIL."},
    {"setProjValues", (PyCFunction)projlist_set_values, METH_O,
     "setProjValues($self, array, /)\n--\n\nCopies a host float32 array of getLoadedBatchSize() "
     "values into the device values. Releases the GIL."},
    {"clearProjections", (PyCFunction)projlist_clear, METH_VARARGS,
     "clearProjections($self, value=0.0, /)\n--\n\nSets the loaded batch's values to value."},
    {"__dlpack__", PY_METH(projlist_dlpack), METH_VARARGS | METH_KEYWORDS,
     "__dlpack__($self, /, *, stream=None, max_version=None, dl_device=None, copy=None)\n--\n\n"
     "Returns a PyCapsule: DLPack export (CUDA, float32, [getLoadedBatchSize()]) of the loaded "
     "batch's values, aliasing them (torch.from_dlpack(list)). The tensor keeps this list "
     "alive; petrel's calls are synchronous.\nRuntimeError before prepareBatchLORs or before "
     "the values exist."},
    {"__dlpack_device__", (PyCFunction)projlist_dlpack_device, METH_NOARGS,
     "__dlpack_device__($self, /)\n--\n\nReturns tuple[int, int]: (2, device id): CUDA."},
    {NULL, NULL, 0, NULL}};

static PyMethodDef projlist_owned_methods[] = {
    {"allocate", (PyCFunction)projlist_allocate, METH_NOARGS,
     "allocate($self, /)\n--\n\nAllocates zeroed device values for getBatchCapacity() LORs "
     "(a no-op when allocated). Releases the GIL."},
    {NULL, NULL, 0, NULL}};

static PyMethodDef projlist_alias_methods[] = {
    {"setProjValuesDevicePointer", PY_METH(projlist_set_pointer), METH_VARARGS | METH_KEYWORDS,
     "setProjValuesDevicePointer($self, pointer, device_id=0)\n--\n\nUses the device memory at "
     "pointer (e.g. torch_tensor.data_ptr(): float32, at least getLoadedBatchSize() of them) as "
     "the values. As in YRT-PET, the caller keeps that memory alive and large enough; prefer "
     "bind(tensor), which holds it and checks its length.\nValueError when pointer is not CUDA "
     "device memory; BufferError while the values are exported."},
    {"bind", (PyCFunction)projlist_bind, METH_O,
     "bind($self, tensor, /)\n--\n\nUses a CUDA DLPack tensor (torch, cupy, ...) of "
     "getLoadedBatchSize() float32 values as the values, kept alive until rebound or "
     "destroyed. Call after prepareBatchLORs.\nValueError naming the expectation when it does "
     "not fit; RuntimeError before prepareBatchLORs."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject projlist_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.ProjectionListDevice",
    .tp_basicsize = sizeof(projlist_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The LORs of one (subset, batch) of a histogram or list-mode, built on the GPU,\n"
              "and one projection value per LOR (YRT-PET's ProjectionListDevice). Use\n"
              "ProjectionListDeviceOwned or ProjectionListDeviceAlias.",
    .tp_dealloc = (destructor)projlist_dealloc,
    .tp_repr = (reprfunc)projlist_repr,
    .tp_methods = projlist_methods,
};

static PyTypeObject projlist_owned_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.ProjectionListDeviceOwned",
    .tp_basicsize = sizeof(projlist_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "ProjectionListDeviceOwned(scanner, data, props=None, memory_budget=0, "
              "num_subsets=1)\n--\n\n"
              "Device projection list owning its values: allocate() them, then read them\n"
              "through __dlpack__ (torch.from_dlpack), getProjValues() or the device pointer.\n"
              "data: a Histogram3D or ListModeLUT of `scanner` (kept alive; only its bin layout\n"
              "or events are used); props: getProjectionPropertyTypes(data) (\"TOF\" among them\n"
              "makes TOF LORs); memory_budget: bytes of VRAM a batch may take (0: 80% of the\n"
              "free VRAM). NotImplementedError without CUDA in the build, RuntimeError without\n"
              "a GPU.",
    .tp_base = &projlist_type,
    .tp_new = projlist_new,
    .tp_dealloc = (destructor)projlist_dealloc,
    .tp_methods = projlist_owned_methods,
};

static PyTypeObject projlist_alias_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.ProjectionListDeviceAlias",
    .tp_basicsize = sizeof(projlist_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "ProjectionListDeviceAlias(scanner, data, props=None, memory_budget=0, "
              "num_subsets=1)\n--\n\n"
              "Device projection list over values someone else owns: after prepareBatchLORs,\n"
              "setProjValuesDevicePointer(tensor.data_ptr()) (the seed's way) or bind(tensor)\n"
              "(DLPack, held). Arguments as ProjectionListDeviceOwned.",
    .tp_base = &projlist_type,
    .tp_new = projlist_new,
    .tp_dealloc = (destructor)projlist_dealloc,
    .tp_methods = projlist_alias_methods,
};

/* ---- OperatorProjectorDevice ------------------------------------------------------------- */

typedef struct gpu_operator_object {
  PyObject_HEAD
  pet_projector_params p;
  PyObject *scanner;
} gpu_operator_object;

static PyTypeObject gpu_operator_type;
static PyTypeObject gpu_operator_siddon_type;
static PyTypeObject gpu_operator_dd_type;

static PyObject *gpu_operator_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"params", NULL};
  PyObject *params;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!", kwlist, &py_proj_params_type, &params))
    return NULL;
  if (!pet_gpu_compiled()) {
    /* the C library's own message (its GPU stub's) */
    char msg[512];
    pet_status st = pet_gpu_project_fwd(NULL, NULL, NULL, NULL);
    snprintf(msg, sizeof msg, "%s", pet_last_error());
    return py_raise_status(PET_ERROR(st, "%s: %s", type->tp_name, msg));
  }
  pet_projector_params p = ((py_proj_params_object *)params)->p;
  if (PyType_IsSubtype(type, &gpu_operator_dd_type)) p.kind = PET_PROJ_DD;
  if (PyType_IsSubtype(type, &gpu_operator_siddon_type)) p.kind = PET_PROJ_SIDDON;
  if (py_check(pet_projector_params_check(&p)) != 0) return NULL;
  gpu_operator_object *self = (gpu_operator_object *)type->tp_alloc(type, 0);
  if (self == NULL) return NULL;
  self->p = p;
  self->scanner = Py_NewRef(((py_proj_params_object *)params)->scanner);
  return (PyObject *)self;
}

static void gpu_operator_dealloc(gpu_operator_object *self)
{
  Py_XDECREF(self->scanner);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Forward (image -> values) or back (values -> image) over the loaded batch. A host image goes
 * through a temporary device copy (and, for the back projection, back again). */
static pet_status gpu_apply(const pet_projector_params *p, pet_projlist_device *pl,
                            pet_image *img, bool forward)
{
  pet_status st = PET_OK;
  pet_image *tmp = NULL;
  pet_image *dev = img;
  if (img->space == PET_HOST) {
    PET_TRY(pet_image_create_owned(&tmp, img->params, PET_DEVICE));
    PET_TRY_GOTO(st, pet_image_copy(tmp, img), out);
    dev = tmp;
  }
  if (forward) {
    PET_TRY_GOTO(st, pet_projlist_device_fwd(pl, p, dev), out);
  } else {
    PET_TRY_GOTO(st, pet_projlist_device_back(pl, p, dev), out);
    if (tmp != NULL) PET_TRY_GOTO(st, pet_image_copy(img, tmp), out);
  }
out:
  pet_image_destroy(&tmp);
  return st;
}

static PyObject *gpu_operator_apply(gpu_operator_object *self, PyObject *img_obj,
                                    PyObject *list_obj, bool forward)
{
  const char *what = forward ? "applyA" : "applyAH";
  pet_image *img = py_image_get(img_obj, what);
  if (img == NULL) return NULL;
  if (!PyObject_TypeCheck(list_obj, &projlist_type)) {
    PyErr_Format(PyExc_TypeError,
                 "%s: expected a ProjectionListDeviceOwned/Alias (the device projection data), "
                 "got '%.100s'",
                 what, Py_TYPE(list_obj)->tp_name);
    return NULL;
  }
  projlist_object *list = (projlist_object *)list_obj;
  if (list->scanner != self->scanner)
    return py_raise_status(PET_ERROR(PET_ERR_ARG,
                                     "%s: the projection list belongs to another Scanner than the "
                                     "ProjectorParams", what));
  if (projlist_values_for_use(list, what) == NULL) return NULL;
  if (py_check(pet_image_require(img, img->space)) != 0) return NULL;
  if (projlist_claim(list, what) != 0) return NULL;
  py_image_object *image = (py_image_object *)img_obj;
  pet_status st;
  ++image->pins;
  Py_BEGIN_ALLOW_THREADS
  st = gpu_apply(&self->p, list->pl, img, forward);
  Py_END_ALLOW_THREADS
  --image->pins;
  list->busy = 0;
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *gpu_operator_apply_a(gpu_operator_object *self, PyObject *args)
{
  PyObject *img, *list;
  if (!PyArg_ParseTuple(args, "OO:applyA", &img, &list)) return NULL;
  return gpu_operator_apply(self, img, list, true);
}

static PyObject *gpu_operator_apply_ah(gpu_operator_object *self, PyObject *args)
{
  PyObject *img, *list;
  if (!PyArg_ParseTuple(args, "OO:applyAH", &list, &img)) return NULL;
  return gpu_operator_apply(self, img, list, false);
}

static PyObject *gpu_operator_property_types(gpu_operator_object *self, PyObject *data)
{
  if (!PyObject_TypeCheck(data, &py_projdata_type)) {
    PyErr_Format(PyExc_TypeError,
                 "getProjectionPropertyTypes: expected a Histogram3D or ListModeLUT, got '%.100s'",
                 Py_TYPE(data)->tp_name);
    return NULL;
  }
  bool tof = self->p.tof && PyObject_TypeCheck(data, &py_listmode_type) &&
             ((py_listmode_object *)data)->has_tof;
  return tof ? Py_BuildValue("(sss)", "LOR", "DetOrient", "TOF")
             : Py_BuildValue("(ss)", "LOR", "DetOrient");
}

static PyObject *gpu_operator_get_projector(gpu_operator_object *self, void *c)
{
  return PyUnicode_FromString(py_projector_kind_name(&self->p));
}

static PyMethodDef gpu_operator_methods[] = {
    {"applyA", (PyCFunction)gpu_operator_apply_a, METH_VARARGS,
     "applyA($self, image, projlist, /)\n--\n\nForward projection on the GPU: overwrites the "
     "values of projlist's loaded batch with the line integrals of image (a device image, or a "
     "host image copied to the device for the call). Releases the GIL.\nRuntimeError before "
     "prepareBatchLORs or before the values exist (allocate()/bind)."},
    {"applyAH", (PyCFunction)gpu_operator_apply_ah, METH_VARARGS,
     "applyAH($self, projlist, image, /)\n--\n\nBack projection on the GPU of the values of "
     "projlist's loaded batch, accumulated into image (device; a host image goes through a "
     "device copy and back). Releases the GIL."},
    {"getProjectionPropertyTypes", (PyCFunction)gpu_operator_property_types, METH_O,
     "getProjectionPropertyTypes($self, data, /)\n--\n\nWhat the operator reads per LOR of data: "
     "(\"LOR\", \"DetOrient\"[, \"TOF\"]); pass it to ProjectionListDevice*."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef gpu_operator_getset[] = {
    {"projector", (getter)gpu_operator_get_projector, NULL, "\"S\", \"MRS\" or \"DD\".", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject gpu_operator_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.OperatorProjectorDevice",
    .tp_basicsize = sizeof(gpu_operator_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "OperatorProjectorDevice(params)\n--\n\n"
              "GPU projection operator of the projector chosen in params, over a\n"
              "ProjectionListDevice: applyA(image, projlist), applyAH(projlist, image).\n"
              "NotImplementedError without CUDA in the build.",
    .tp_new = gpu_operator_new,
    .tp_dealloc = (destructor)gpu_operator_dealloc,
    .tp_methods = gpu_operator_methods,
    .tp_getset = gpu_operator_getset,
};

static PyTypeObject gpu_operator_siddon_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.OperatorProjectorSiddon_GPU",
    .tp_basicsize = sizeof(gpu_operator_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "OperatorProjectorSiddon_GPU(params)\n--\n\n"
              "Siddon projector (multi-ray when params.numRays > 1) on the GPU.",
    .tp_base = &gpu_operator_type,
    .tp_new = gpu_operator_new,
    .tp_dealloc = (destructor)gpu_operator_dealloc,
};

static PyTypeObject gpu_operator_dd_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.OperatorProjectorDD_GPU",
    .tp_basicsize = sizeof(gpu_operator_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "OperatorProjectorDD_GPU(params)\n--\n\nDistance-driven projector on the GPU.",
    .tp_base = &gpu_operator_type,
    .tp_new = gpu_operator_new,
    .tp_dealloc = (destructor)gpu_operator_dealloc,
};

int py_gpu_init(PyObject *m)
{
  struct {
    PyTypeObject *type;
    const char *name;
  } types[] = {{&projlist_type, "ProjectionListDevice"},
               {&projlist_owned_type, "ProjectionListDeviceOwned"},
               {&projlist_alias_type, "ProjectionListDeviceAlias"},
               {&gpu_operator_type, "OperatorProjectorDevice"},
               {&gpu_operator_siddon_type, "OperatorProjectorSiddon_GPU"},
               {&gpu_operator_dd_type, "OperatorProjectorDD_GPU"}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; ++i) {
    if (PyType_Ready(types[i].type) != 0) return -1;
    if (PyModule_AddObjectRef(m, types[i].name, (PyObject *)types[i].type) != 0) return -1;
  }
  return 0;
}
