/* petrel Python module: errors, paths, Alias memory keepers and DLPack. */
#include "py_common.h"

#include <stdio.h>
#include <string.h>

PyObject *py_raise_status(pet_status st)
{
  PyObject *exc;
  switch (st) {
  case PET_ERR_ARG:
  case PET_ERR_CONFIG: exc = PyExc_ValueError; break;
  case PET_ERR_IO: exc = PyExc_OSError; break;
  case PET_ERR_NOMEM: exc = PyExc_MemoryError; break;
  case PET_ERR_UNSUPPORTED: exc = PyExc_NotImplementedError; break;
  case PET_ERR_INTERRUPTED: exc = PyExc_KeyboardInterrupt; break;
  default: exc = PyExc_RuntimeError; break;
  }
  const char *msg = pet_last_error();
  if (msg == NULL || msg[0] == '\0') msg = pet_status_name(st);
  PyErr_SetString(exc, msg);
  pet_error_clear();
  return NULL;
}

int py_check(pet_status st)
{
  if (st == PET_OK) return 0;
  py_raise_status(st);
  return -1;
}

int py_path_converter(PyObject *o, void *out) { return PyUnicode_FSConverter(o, out); }

static const char *elem_name(py_elem e) { return e == PY_ELEM_F32 ? "float32" : "uint32"; }

/* "(50, 100, 100)" */
static void format_shape(char *buf, size_t len, int ndim, const int64_t *shape)
{
  size_t used = (size_t)snprintf(buf, len, "(");
  for (int i = 0; i < ndim && used < len; ++i)
    used += (size_t)snprintf(buf + used, len - used, i ? ", %lld" : "%lld", (long long)shape[i]);
  if (used < len) snprintf(buf + used, len - used, ndim == 1 ? ",)" : ")");
}

/* Struct-module format of one element: native or explicit little-endian only. */
static bool format_matches(const char *fmt, Py_ssize_t itemsize, py_elem e)
{
  if (itemsize != 4) return false;
  if (fmt == NULL) return false;
  if (fmt[0] == '@' || fmt[0] == '=' || fmt[0] == '<') ++fmt;
  if (fmt[1] != '\0') return false;
  return e == PY_ELEM_F32 ? fmt[0] == 'f' : (fmt[0] == 'I' || (fmt[0] == 'L' && sizeof(long) == 4));
}

static PyObject *expect_error(PyObject *exc, const char *what, py_elem e, int ndim,
                              const int64_t *shape, const char *dims, const char *got)
{
  char sh[160];
  format_shape(sh, sizeof sh, ndim, shape);
  PyErr_Format(exc, "%s: expected a writable C-contiguous %s array of shape %s %s; got %s", what,
               elem_name(e), sh, dims, got);
  return NULL;
}

void py_keeper_release(py_keeper *k)
{
  if (k->has_view) {
    PyBuffer_Release(&k->view);
    k->has_view = false;
  }
  if (k->dl != NULL) {
    py_dl_managed_tensor *mt = k->dl;
    k->dl = NULL;
    if (mt->deleter != NULL) mt->deleter(mt);
  }
}

static int bind_buffer(py_keeper *k, PyObject *obj, int ndim, const int64_t *shape,
                       const char *dims, py_elem elem, const char *what, void **data,
                       bool readonly_ok)
{
  Py_buffer v;
  char got[256];
  if (!PyObject_CheckBuffer(obj)) {
    snprintf(got, sizeof got, "a '%.100s' object, which does not export a buffer",
             Py_TYPE(obj)->tp_name);
    expect_error(PyExc_TypeError, what, elem, ndim, shape, dims, got);
    return -1;
  }
  if (PyObject_GetBuffer(obj, &v, PyBUF_FULL_RO) != 0) {
    /* e.g. numpy refuses a strided request for some exotic arrays: restate the expectation */
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *s = value ? PyObject_Str(value) : NULL;
    snprintf(got, sizeof got, "an object whose buffer cannot be read (%.150s)",
             s ? PyUnicode_AsUTF8(s) : "?");
    PyErr_Clear();
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    expect_error(PyExc_ValueError, what, elem, ndim, shape, dims, got);
    return -1;
  }
  got[0] = '\0';
  if (!format_matches(v.format, v.itemsize, elem)) {
    snprintf(got, sizeof got, "elements of format '%.20s' and itemsize %zd",
             v.format ? v.format : "B", v.itemsize);
  } else if (v.ndim != ndim) {
    snprintf(got, sizeof got, "%d dimensions", v.ndim);
  } else {
    bool same = true;
    int64_t vs[8] = {0};
    for (int i = 0; i < ndim && i < 8; ++i) {
      vs[i] = (int64_t)v.shape[i];
      same = same && vs[i] == shape[i];
    }
    if (!same) {
      char sh[160];
      format_shape(sh, sizeof sh, v.ndim, vs);
      snprintf(got, sizeof got, "shape %s", sh);
    } else if (!PyBuffer_IsContiguous(&v, 'C')) {
      snprintf(got, sizeof got, "a non-C-contiguous array (use numpy.ascontiguousarray)");
    } else if (v.readonly && !readonly_ok) {
      snprintf(got, sizeof got, "a read-only buffer");
    }
  }
  if (got[0] != '\0') {
    PyBuffer_Release(&v);
    expect_error(PyExc_ValueError, what, elem, ndim, shape, dims, got);
    return -1;
  }
  py_keeper_release(k);
  k->view = v;
  k->has_view = true;
  *data = v.buf;
  return 0;
}

int py_keeper_bind_buffer(py_keeper *k, PyObject *obj, int ndim, const int64_t *shape,
                          const char *dims, py_elem elem, const char *what, void **data)
{
  return bind_buffer(k, obj, ndim, shape, dims, elem, what, data, false);
}

int py_keeper_bind_buffer_ro(py_keeper *k, PyObject *obj, int ndim, const int64_t *shape,
                             const char *dims, py_elem elem, const char *what, void **data)
{
  return bind_buffer(k, obj, ndim, shape, dims, elem, what, data, true);
}

static const char *dl_device_name(int32_t t)
{
  switch (t) {
  case PY_DL_CPU: return "CPU";
  case PY_DL_CUDA: return "CUDA";
  case PY_DL_CUDA_HOST: return "CUDA pinned host";
  case PY_DL_CUDA_MANAGED: return "CUDA managed";
  default: return "another device type";
  }
}

int py_keeper_bind_dlpack(py_keeper *k, PyObject *obj, bool want_device, int ndim,
                          const int64_t *shape, const char *dims, py_elem elem, const char *what,
                          void **data, int *device_id)
{
  char got[256];
  PyObject *dev = NULL, *cap = NULL;
  int dev_type = 0, dev_id = 0;

  if (!PyObject_HasAttrString(obj, "__dlpack__") ||
      !PyObject_HasAttrString(obj, "__dlpack_device__")) {
    snprintf(got, sizeof got, "a '%.100s' object, which does not support DLPack (__dlpack__)",
             Py_TYPE(obj)->tp_name);
    expect_error(PyExc_TypeError, what, elem, ndim, shape, dims, got);
    return -1;
  }
  dev = PyObject_CallMethod(obj, "__dlpack_device__", NULL);
  if (dev == NULL) return -1;
  if (!PyArg_ParseTuple(dev, "ii", &dev_type, &dev_id)) {
    Py_DECREF(dev);
    return -1;
  }
  Py_DECREF(dev);
  bool ok_dev = want_device ? (dev_type == PY_DL_CUDA || dev_type == PY_DL_CUDA_MANAGED)
                            : dev_type == PY_DL_CPU;
  if (!ok_dev) {
    snprintf(got, sizeof got, "a tensor in %s memory (DLPack device type %d); %s memory expected",
             dl_device_name(dev_type), dev_type, want_device ? "CUDA device" : "host (CPU)");
    expect_error(PyExc_ValueError, what, elem, ndim, shape, dims, got);
    return -1;
  }
  if (want_device) {
    /* stream=1: the legacy default stream, which petrel's synchronous calls order after */
    PyObject *args = PyTuple_New(0);
    PyObject *kw = Py_BuildValue("{s:i}", "stream", 1);
    PyObject *fn = PyObject_GetAttrString(obj, "__dlpack__");
    if (args && kw && fn) cap = PyObject_Call(fn, args, kw);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    Py_XDECREF(fn);
  } else {
    cap = PyObject_CallMethod(obj, "__dlpack__", NULL);
  }
  if (cap == NULL) return -1;
  py_dl_managed_tensor *mt = PyCapsule_GetPointer(cap, "dltensor");
  if (mt == NULL) {
    Py_DECREF(cap);
    return -1;
  }
  const py_dl_tensor *t = &mt->dl_tensor;
  py_dl_dtype want = {(uint8_t)(elem == PY_ELEM_F32 ? PY_DL_FLOAT : PY_DL_UINT), 32, 1};
  got[0] = '\0';
  if (t->dtype.code != want.code || t->dtype.bits != want.bits || t->dtype.lanes != want.lanes) {
    snprintf(got, sizeof got, "DLPack dtype (code %u, bits %u, lanes %u)", t->dtype.code,
             t->dtype.bits, t->dtype.lanes);
  } else if (t->ndim != ndim) {
    snprintf(got, sizeof got, "%d dimensions", t->ndim);
  } else {
    bool same = true, compact = true;
    int64_t stride = 1;
    for (int i = ndim - 1; i >= 0; --i) {
      same = same && t->shape[i] == shape[i];
      if (t->strides != NULL && t->shape[i] != 1 && t->strides[i] != stride) compact = false;
      stride *= t->shape[i];
    }
    if (!same) {
      char sh[160];
      format_shape(sh, sizeof sh, t->ndim, t->shape);
      snprintf(got, sizeof got, "shape %s", sh);
    } else if (!compact) {
      snprintf(got, sizeof got, "a non-C-contiguous tensor (use .contiguous())");
    }
  }
  if (got[0] != '\0') {
    Py_DECREF(cap); /* not consumed: the capsule's destructor lets the producer free it */
    expect_error(PyExc_ValueError, what, elem, ndim, shape, dims, got);
    return -1;
  }
  if (PyCapsule_SetName(cap, "used_dltensor") != 0) {
    Py_DECREF(cap);
    return -1;
  }
  Py_DECREF(cap);
  py_keeper_release(k);
  k->dl = mt;
  *data = (char *)t->data + t->byte_offset;
  *device_id = t->device.device_id;
  return 0;
}

typedef struct export_ctx {
  py_dl_managed_tensor mt;
  int64_t shape[4];
  PyObject *owner;
  Py_ssize_t *pins;
} export_ctx;

static void export_deleter(py_dl_managed_tensor *mt)
{
  export_ctx *c = mt->manager_ctx;
  PyGILState_STATE g = PyGILState_Ensure();
  --*c->pins;
  Py_DECREF(c->owner);
  PyGILState_Release(g);
  PyMem_RawFree(c);
}

/* Runs when the capsule dies: a consumer renamed it "used_dltensor" and owns the tensor;
 * otherwise nobody took it and its memory goes back to the owner here. */
static void export_capsule_destructor(PyObject *cap)
{
  if (PyCapsule_IsValid(cap, "used_dltensor")) return;
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  py_dl_managed_tensor *mt = PyCapsule_GetPointer(cap, "dltensor");
  if (mt != NULL)
    mt->deleter(mt);
  else
    PyErr_WriteUnraisable(cap);
  PyErr_Restore(type, value, tb);
}

PyObject *py_dlpack_export(PyObject *owner, Py_ssize_t *pins, void *data, py_dl_device device,
                           int ndim, const int64_t *shape, py_elem elem)
{
  export_ctx *c = PyMem_RawCalloc(1, sizeof *c);
  if (c == NULL) return PyErr_NoMemory();
  for (int i = 0; i < ndim && i < 4; ++i) c->shape[i] = shape[i];
  c->mt.dl_tensor.data = data;
  c->mt.dl_tensor.device = device;
  c->mt.dl_tensor.ndim = ndim;
  c->mt.dl_tensor.dtype.code = (uint8_t)(elem == PY_ELEM_F32 ? PY_DL_FLOAT : PY_DL_UINT);
  c->mt.dl_tensor.dtype.bits = 32;
  c->mt.dl_tensor.dtype.lanes = 1;
  c->mt.dl_tensor.shape = c->shape;
  c->mt.dl_tensor.strides = NULL;
  c->mt.dl_tensor.byte_offset = 0;
  c->mt.manager_ctx = c;
  c->mt.deleter = export_deleter;
  c->owner = owner;
  c->pins = pins;
  PyObject *cap = PyCapsule_New(&c->mt, "dltensor", export_capsule_destructor);
  if (cap == NULL) {
    PyMem_RawFree(c);
    return NULL;
  }
  Py_INCREF(owner);
  ++*pins;
  return cap;
}

int py_check_unpinned(Py_ssize_t pins, const char *what)
{
  if (pins == 0) return 0;
  PyErr_Format(PyExc_BufferError,
               "%s: the memory is in use (%zd exported buffers, DLPack tensors, views or running "
               "operations); release them (del the numpy/torch views) first",
               what, pins);
  return -1;
}

void py_fill_buffer3(Py_buffer *view, PyObject *obj, void *data, Py_ssize_t *shape,
                     Py_ssize_t *strides, int flags, Py_ssize_t *pins)
{
  py_fill_buffer_nd(view, obj, data, 3, shape, strides, flags, pins);
}

void py_fill_buffer_nd(Py_buffer *view, PyObject *obj, void *data, int ndim, Py_ssize_t *shape,
                       Py_ssize_t *strides, int flags, Py_ssize_t *pins)
{
  Py_ssize_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= shape[i];
  view->buf = data;
  view->obj = Py_NewRef(obj);
  view->len = n * (Py_ssize_t)sizeof(float);
  view->readonly = 0;
  view->itemsize = sizeof(float);
  view->format = (flags & PyBUF_FORMAT) ? "f" : NULL;
  view->ndim = ndim;
  view->shape = (flags & PyBUF_ND) == PyBUF_ND ? shape : NULL;
  view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? strides : NULL;
  view->suboffsets = NULL;
  view->internal = NULL;
  ++*pins;
}

/* numpy tries the buffer protocol first and, when it fails (not allocated), silently falls
 * back to a 0-d object array; __array__ is its last resort, so the error surfaces here. */
PyObject *py_array_method(PyObject *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"dtype", "copy", NULL};
  PyObject *dtype = Py_None, *copy = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:__array__", kwlist, &dtype, &copy))
    return NULL;
  PyObject *mv = PyMemoryView_FromObject(self);
  if (mv == NULL) return NULL;
  PyObject *np = PyImport_ImportModule("numpy");
  PyObject *arr = NULL;
  if (np != NULL) {
    int want_copy = copy == Py_None ? 0 : PyObject_IsTrue(copy);
    if (want_copy >= 0)
      arr = PyObject_CallMethod(np, want_copy ? "array" : "asarray", "OO", mv, dtype);
  }
  Py_XDECREF(np);
  Py_DECREF(mv);
  return arr;
}

/* A buffer exporter over memory owned by another object; numpy arrays sit on top of it. */
typedef struct view_object {
  PyObject_HEAD
  PyObject *owner;
  Py_ssize_t *pins;
  void *data;
  int ndim;
  bool readonly;
  py_elem elem;
  Py_ssize_t shape[4], strides[4];
} view_object;

static int view_getbuffer(view_object *self, Py_buffer *view, int flags)
{
  if (self->readonly && (flags & PyBUF_WRITABLE)) {
    PyErr_SetString(PyExc_BufferError, "read-only petrel view");
    view->obj = NULL;
    return -1;
  }
  Py_ssize_t n = 1;
  for (int i = 0; i < self->ndim; ++i) n *= self->shape[i];
  view->buf = self->data;
  view->obj = (PyObject *)self;
  Py_INCREF(self);
  view->len = n * 4;
  view->readonly = self->readonly;
  view->itemsize = 4;
  view->format = (flags & PyBUF_FORMAT) ? (self->elem == PY_ELEM_F32 ? "f" : "I") : NULL;
  view->ndim = self->ndim;
  view->shape = (flags & PyBUF_ND) == PyBUF_ND ? self->shape : NULL;
  view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? self->strides : NULL;
  view->suboffsets = NULL;
  view->internal = NULL;
  return 0;
}

static void view_dealloc(view_object *self)
{
  --*self->pins;
  Py_DECREF(self->owner);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyBufferProcs view_buffer = {(getbufferproc)view_getbuffer, NULL};

static PyTypeObject view_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel._View",
    .tp_basicsize = sizeof(view_object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Internal: exports memory of a petrel object to numpy, keeping the object alive.",
    .tp_dealloc = (destructor)view_dealloc,
    .tp_as_buffer = &view_buffer,
};

PyObject *py_numpy_view(PyObject *owner, Py_ssize_t *pins, void *data, int ndim,
                        const int64_t *shape, py_elem elem, bool readonly)
{
  view_object *v = PyObject_New(view_object, &view_type);
  if (v == NULL) return NULL;
  v->owner = owner;
  Py_INCREF(owner);
  v->pins = pins;
  ++*pins;
  v->data = data;
  v->ndim = ndim;
  v->readonly = readonly;
  v->elem = elem;
  Py_ssize_t stride = 4;
  for (int i = ndim - 1; i >= 0; --i) {
    v->shape[i] = (Py_ssize_t)shape[i];
    v->strides[i] = stride;
    stride *= v->shape[i];
  }
  PyObject *np = PyImport_ImportModule("numpy");
  PyObject *arr = np ? PyObject_CallMethod(np, "asarray", "O", (PyObject *)v) : NULL;
  Py_XDECREF(np);
  Py_DECREF(v);
  return arr;
}

int py_common_init(PyObject *m) { return PyType_Ready(&view_type); }
