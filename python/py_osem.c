/* petrel Python module: OSEM reconstruction (YRT-PET's OSEM object) over pet_osem_run and
 * the one OSEM loop (pet_osem.h; the GPU backend when useGPU).
 *
 *   osem = petrel.OSEM(scanner)            # or petrel.createOSEM(scanner, useGPU=False)
 *   osem.setProjector("DD"); osem.num_MLEM_iterations = 3; osem.num_OSEM_subsets = 4
 *   osem.setDataInput(histogram_or_listmode)
 *   osem.setMultiplicativeCorrection(m); osem.setAdditiveCorrection(a)   # float32, per bin
 *   osem.reconstruct(out_image)
 *
 * The object holds references to everything it was given (data, correction arrays, images),
 * and pins them while a reconstruction runs without the GIL; setters are refused meanwhile. */
#include "py_common.h" /* first: Python.h must precede the system headers */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_gpu.h"
#include "pet_histogram.h"
#include "pet_listmode.h"
#include "pet_osem.h"
#include "pet_scanner.h"

typedef struct osem_object {
  PyObject_HEAD
  PyObject *scanner;           /* the Scanner */
  pet_histo_layout *layout;    /* the scanner's bin layout (owned) */
  int32_t iterations, subsets;
  pet_projector_params proj;
  float psf_fwhm_mm;
  int use_gpu;
  int device;
  long long vram_budget;       /* bytes, 0 = 80% of the free VRAM */
  PyObject *data;              /* Histogram3D or ListModeLUT, or NULL */
  py_keeper keep_mult, keep_add;
  float *mult, *add;           /* per bin, in the kept buffers; NULL = 1 / 0 */
  PyObject *sens;              /* tuple of images, or NULL (computed by the run) */
  bool sens_full;              /* sens is one image A^T m over all subsets (setSensitivityImage) */
  PyObject *initial;           /* image, or NULL (a uniform 1) */
  PyObject *img_params;        /* ImageParams, or NULL */
  int busy;                    /* a reconstruction / sensitivity runs without the GIL */
} osem_object;

static PyTypeObject osem_type;

static int osem_not_busy(osem_object *self, const char *what)
{
  if (!self->busy) return 0;
  PyErr_Format(PyExc_RuntimeError,
               "%s: this OSEM object is running a reconstruction in another thread", what);
  return -1;
}

static PyObject *osem_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"scanner", "useGPU", NULL};
  PyObject *scanner;
  int use_gpu = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|p:OSEM", kwlist, &py_scanner_type, &scanner,
                                   &use_gpu))
    return NULL;
  const pet_scanner *s = ((py_scanner_object *)scanner)->s;
  pet_histo_layout *L = NULL;
  if (py_check(pet_histo_layout_create(&L, s)) != 0) return NULL;
  osem_object *self = (osem_object *)type->tp_alloc(type, 0);
  if (self == NULL) {
    pet_histo_layout_destroy(&L);
    return NULL;
  }
  self->scanner = Py_NewRef(scanner);
  self->layout = L;
  pet_osem_opts d = pet_osem_opts_default();
  self->iterations = d.iterations;
  self->subsets = d.subsets;
  self->proj = d.proj;
  self->proj.crystal_size_trans = s->params.crystal_size_trans;
  self->proj.crystal_size_z = s->params.crystal_size_z;
  self->use_gpu = use_gpu;
  return (PyObject *)self;
}

static void osem_dealloc(osem_object *self)
{
  py_keeper_release(&self->keep_mult);
  py_keeper_release(&self->keep_add);
  Py_XDECREF(self->data);
  Py_XDECREF(self->sens);
  Py_XDECREF(self->initial);
  Py_XDECREF(self->img_params);
  Py_XDECREF(self->scanner);
  pet_histo_layout_destroy(&self->layout);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *osem_repr(osem_object *self)
{
  return PyUnicode_FromFormat("<petrel.OSEM %s, %d iteration(s) x %d subset(s), %s%s>",
                              py_projector_kind_name(&self->proj), (int)self->iterations,
                              (int)self->subsets, self->use_gpu ? "GPU" : "CPU",
                              self->data == NULL ? ", no data" : "");
}

/* ---- setters ------------------------------------------------------------------------------- */

static PyObject *osem_set_projector(osem_object *self, PyObject *arg)
{
  if (osem_not_busy(self, "setProjector") != 0) return NULL;
  const char *name = PyUnicode_AsUTF8(arg);
  if (name == NULL) return NULL;
  pet_projector_params p = self->proj;
  if (py_check(pet_projector_params_set_name(&p, name)) != 0) return NULL;
  self->proj = p;
  Py_RETURN_NONE;
}

static PyObject *osem_set_projector_params(osem_object *self, PyObject *arg)
{
  if (osem_not_busy(self, "setProjectorParams") != 0) return NULL;
  if (!PyObject_TypeCheck(arg, &py_proj_params_type)) {
    PyErr_Format(PyExc_TypeError, "setProjectorParams: expected a ProjectorParams, got '%.100s'",
                 Py_TYPE(arg)->tp_name);
    return NULL;
  }
  if (((py_proj_params_object *)arg)->scanner != self->scanner)
    return py_raise_status(PET_ERROR(PET_ERR_ARG, "setProjectorParams: the ProjectorParams belong "
                                     "to another Scanner"));
  self->proj = ((py_proj_params_object *)arg)->p;
  Py_RETURN_NONE;
}

static int set_count(osem_object *self, PyObject *v, int32_t *dst, const char *what)
{
  if (v == NULL) {
    PyErr_Format(PyExc_AttributeError, "%s cannot be deleted", what);
    return -1;
  }
  if (osem_not_busy(self, what) != 0) return -1;
  long n = PyLong_AsLong(v);
  if (n == -1 && PyErr_Occurred()) return -1;
  if (n < 1 || n > 1000000) {
    PyErr_Format(PyExc_ValueError, "%s must be >= 1, got %ld", what, n);
    return -1;
  }
  *dst = (int32_t)n;
  return 0;
}

static PyObject *osem_set_num_iterations(osem_object *self, PyObject *v)
{
  if (set_count(self, v, &self->iterations, "setNumIterations") != 0) return NULL;
  Py_RETURN_NONE;
}

static PyObject *osem_set_num_subsets(osem_object *self, PyObject *v)
{
  if (set_count(self, v, &self->subsets, "setNumSubsets") != 0) return NULL;
  Py_RETURN_NONE;
}

static PyObject *osem_set_data_input(osem_object *self, PyObject *data)
{
  if (osem_not_busy(self, "setDataInput") != 0) return NULL;
  if (!PyObject_TypeCheck(data, &py_histogram_type) && !PyObject_TypeCheck(data, &py_listmode_type)) {
    PyErr_Format(PyExc_TypeError, "setDataInput: expected a Histogram3D or a ListModeLUT, got '%.100s'",
                 Py_TYPE(data)->tp_name);
    return NULL;
  }
  if (((py_projdata_object *)data)->scanner != self->scanner)
    return py_raise_status(PET_ERROR(PET_ERR_ARG, "setDataInput: the data belong to another Scanner "
                                     "than the OSEM object"));
  Py_XSETREF(self->data, Py_NewRef(data));
  Py_RETURN_NONE;
}

/* A per-bin correction: float32, C-contiguous, num_bins values as a 1-D array or in the
 * histogram's shape (numZBin, numPhi, numR) (a Histogram3D works too). None clears it. */
static PyObject *set_correction(osem_object *self, PyObject *arr, py_keeper *k, float **dst,
                                const char *what)
{
  if (osem_not_busy(self, what) != 0) return NULL;
  if (arr == Py_None) {
    py_keeper_release(k);
    *dst = NULL;
    Py_RETURN_NONE;
  }
  const pet_histo_layout *L = self->layout;
  int ndim = 1;
  if (PyObject_CheckBuffer(arr)) {
    Py_buffer v;
    if (PyObject_GetBuffer(arr, &v, PyBUF_FULL_RO) == 0) {
      ndim = v.ndim == 3 ? 3 : 1;
      PyBuffer_Release(&v);
    } else {
      PyErr_Clear(); /* py_keeper_bind_buffer_ro restates the expectation */
    }
  }
  int64_t shape1 = L->num_bins;
  int64_t shape3[3] = {L->num_zbin, L->num_phi, L->num_r};
  py_keeper nk;
  memset(&nk, 0, sizeof nk);
  void *data = NULL;
  if (py_keeper_bind_buffer_ro(&nk, arr, ndim, ndim == 3 ? shape3 : &shape1,
                               ndim == 3 ? "[numZBin, numPhi, numR]" : "[num_bins]", PY_ELEM_F32,
                               what, &data) != 0)
    return NULL;
  py_keeper_release(k);
  *k = nk;
  *dst = data;
  Py_RETURN_NONE;
}

static PyObject *osem_set_mult(osem_object *self, PyObject *arr)
{
  return set_correction(self, arr, &self->keep_mult, &self->mult, "setMultiplicativeCorrection");
}

static PyObject *osem_set_add(osem_object *self, PyObject *arr)
{
  return set_correction(self, arr, &self->keep_add, &self->add, "setAdditiveCorrection");
}

static int check_host_image(PyObject *img, const char *what)
{
  if (!PyObject_TypeCheck(img, &py_image_type)) {
    PyErr_Format(PyExc_TypeError, "%s: expected a host Image (ImageOwned/ImageAlias), got '%.100s'",
                 what, Py_TYPE(img)->tp_name);
    return -1;
  }
  return 0;
}

static PyObject *osem_set_sens(osem_object *self, PyObject *img)
{
  if (osem_not_busy(self, "setSensitivityImage") != 0) return NULL;
  if (img == Py_None) {
    Py_CLEAR(self->sens);
    self->sens_full = false;
    Py_RETURN_NONE;
  }
  if (check_host_image(img, "setSensitivityImage") != 0) return NULL;
  PyObject *t = PyTuple_Pack(1, img);
  if (t == NULL) return NULL;
  Py_XSETREF(self->sens, t);
  self->sens_full = true;
  Py_RETURN_NONE;
}

static PyObject *osem_set_sens_images(osem_object *self, PyObject *seq_obj)
{
  if (osem_not_busy(self, "setSensitivityImages") != 0) return NULL;
  if (seq_obj == Py_None) {
    Py_CLEAR(self->sens);
    self->sens_full = false;
    Py_RETURN_NONE;
  }
  PyObject *t = PySequence_Tuple(seq_obj);
  if (t == NULL) return NULL;
  if (PyTuple_GET_SIZE(t) == 0) {
    Py_DECREF(t);
    PyErr_SetString(PyExc_ValueError, "setSensitivityImages: no images given");
    return NULL;
  }
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t); ++i)
    if (check_host_image(PyTuple_GET_ITEM(t, i), "setSensitivityImages") != 0) {
      Py_DECREF(t);
      return NULL;
    }
  Py_XSETREF(self->sens, t);
  self->sens_full = false;
  Py_RETURN_NONE;
}

static PyObject *osem_get_sens_images(osem_object *self, PyObject *unused)
{
  if (self->sens == NULL) return PyList_New(0);
  return PySequence_List(self->sens);
}

static PyObject *osem_set_initial(osem_object *self, PyObject *img)
{
  if (osem_not_busy(self, "setInitialEstimate") != 0) return NULL;
  if (img != Py_None && py_image_get(img, "setInitialEstimate") == NULL) return NULL;
  if (img == Py_None)
    Py_CLEAR(self->initial);
  else
    Py_XSETREF(self->initial, Py_NewRef(img));
  Py_RETURN_NONE;
}

static PyObject *osem_set_image_params(osem_object *self, PyObject *p)
{
  if (osem_not_busy(self, "setImageParams") != 0) return NULL;
  if (!PyObject_TypeCheck(p, &py_image_params_type)) {
    PyErr_Format(PyExc_TypeError, "setImageParams: expected an ImageParams, got '%.100s'",
                 Py_TYPE(p)->tp_name);
    return NULL;
  }
  Py_XSETREF(self->img_params, Py_NewRef(p));
  Py_RETURN_NONE;
}

/* ---- running ------------------------------------------------------------------------------ */

/* Polled between subsets without the GIL: Ctrl-C stops the run (KeyboardInterrupt). */
static bool osem_should_stop(void *ctx)
{
  (void)ctx;
  PyGILState_STATE g = PyGILState_Ensure();
  int r = PyErr_CheckSignals();
  PyGILState_Release(g);
  return r != 0;
}

static pet_osem_opts osem_opts(const osem_object *self)
{
  pet_osem_opts o = pet_osem_opts_default();
  o.iterations = self->iterations;
  o.subsets = self->subsets;
  o.proj = self->proj;
  o.psf_fwhm_mm = self->psf_fwhm_mm;
  o.should_stop = osem_should_stop;
  return o;
}

/* Corrections must be finite and >= 0 (as petrel recon requires of its files). */
static pet_status check_bins(const float *v, int64_t n, const char *what)
{
  if (v == NULL) return PET_OK;
  for (int64_t i = 0; i < n; ++i)
    PET_CHECK(isfinite(v[i]) && v[i] >= 0.0f, PET_ERR_ARG,
              "%s: bin %lld holds %g (must be finite and >= 0)", what, (long long)i, (double)v[i]);
  return PET_OK;
}

typedef struct run_args {
  pet_osem_data d;
  pet_osem_opts o;
  pet_image **sens;       /* nsens images (borrowed or made here), or NULL */
  int32_t nsens;
  bool sens_made;         /* sens[] images are ours (scaled copies of a full sensitivity) */
  const pet_image *full;  /* the full sensitivity to scale, or NULL */
  const pet_image *initial;
  pet_image *x;
} run_args;

static pet_status run_reconstruct(run_args *a)
{
  pet_status st = PET_OK;
  const int64_t nb = a->d.layout->num_bins;
  PET_TRY(check_bins(a->d.mult, nb, "setMultiplicativeCorrection"));
  PET_TRY(check_bins(a->d.add, nb, "setAdditiveCorrection"));
  if (a->d.listmode) PET_TRY(pet_listmode_check(a->d.listmode, a->d.scanner));
  if (a->full != NULL) {
    PET_TRY(pet_image_require(a->full, PET_HOST));
    PET_CHECK(pet_image_params_equal(&a->full->params, &a->x->params), PET_ERR_ARG,
              "reconstruct: the sensitivity image's grid differs from the output image's");
    const float scale = a->d.listmode ? 1.0f : 1.0f / (float)a->nsens;
    const int64_t nv = pet_image_num_voxels(a->full);
    for (int32_t s = 0; s < a->nsens; ++s) {
      PET_TRY(pet_image_create_owned(&a->sens[s], a->x->params, PET_HOST));
      for (int64_t v = 0; v < nv; ++v) a->sens[s]->data[v] = a->full->data[v] * scale;
    }
  }
  if (a->initial != NULL)
    PET_TRY(pet_image_copy(a->x, a->initial));
  else
    PET_TRY(pet_image_fill(a->x, 1.0f));
  st = pet_osem_run(&a->d, &a->o, a->sens, a->x);
  return st;
}

/* Pins (or unpins, delta -1) what a run reads without the GIL. */
static void osem_pin(osem_object *self, PyObject *out, Py_ssize_t delta)
{
  ((py_projdata_object *)self->data)->pins += delta;
  ((py_image_object *)out)->pins += delta;
  if (self->initial) ((py_image_object *)self->initial)->pins += delta;
  if (self->sens)
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(self->sens); ++i)
      ((py_image_object *)PyTuple_GET_ITEM(self->sens, i))->pins += delta;
}

static PyObject *osem_reconstruct(osem_object *self, PyObject *out)
{
  if (osem_not_busy(self, "reconstruct") != 0) return NULL;
  pet_image *x = py_image_get(out, "reconstruct");
  if (x == NULL) return NULL;
  if (self->data == NULL)
    return py_raise_status(PET_ERROR(PET_ERR_STATE, "reconstruct: no data: call "
                                     "setDataInput(histogram_or_listmode) first"));
  if (!self->use_gpu && x->space != PET_HOST)
    return py_raise_status(PET_ERROR(PET_ERR_ARG, "reconstruct: a CPU reconstruction needs a host "
                                     "output image (or set useGPU = True)"));
  if (py_check(pet_image_require(x, x->space)) != 0) return NULL;
  if (self->use_gpu && !pet_gpu_compiled())
    return py_raise_status(PET_ERROR(PET_ERR_UNSUPPORTED, "reconstruct (useGPU): this petrel build has no "
                                     "CUDA support (rebuild with -DPET_ENABLE_CUDA=ON)"));
  const bool lm = PyObject_TypeCheck(self->data, &py_listmode_type);
  run_args a;
  memset(&a, 0, sizeof a);
  a.d.scanner = ((py_scanner_object *)self->scanner)->s;
  a.d.layout = lm ? self->layout : ((py_histogram_object *)self->data)->h->layout;
  a.d.histogram = lm ? NULL : ((py_histogram_object *)self->data)->h;
  a.d.listmode = lm ? ((py_listmode_object *)self->data)->lm : NULL;
  a.d.mult = self->mult;
  a.d.add = self->add;
  a.d.lm_count = -1;
  a.o = osem_opts(self);
  a.o.gpu = self->use_gpu != 0;
  a.o.gpu_device = self->device;
  a.o.vram_budget_bytes = self->vram_budget;
  a.x = x;
  a.initial = self->initial ? ((py_image_object *)self->initial)->img : NULL;
  a.nsens = lm ? 1 : self->subsets;
  if (self->sens != NULL) {
    const Py_ssize_t n = PyTuple_GET_SIZE(self->sens);
    if (!self->sens_full && n != a.nsens)
      return py_raise_status(PET_ERROR(PET_ERR_ARG,
                                       "reconstruct: %zd sensitivity image(s) given, %d needed (%s): "
                                       "call generateSensitivityImages() again, or "
                                       "setSensitivityImage(full_sensitivity)",
                                       n, (int)a.nsens,
                                       lm ? "one for list-mode" : "one per histogram subset"));
    a.sens = calloc((size_t)a.nsens, sizeof *a.sens);
    if (a.sens == NULL) return PyErr_NoMemory();
    if (self->sens_full) {
      a.full = ((py_image_object *)PyTuple_GET_ITEM(self->sens, 0))->img;
      a.sens_made = true;
    } else {
      for (int32_t s = 0; s < a.nsens; ++s)
        a.sens[s] = ((py_image_object *)PyTuple_GET_ITEM(self->sens, s))->img;
    }
  }
  PyObject *keep_out = Py_NewRef(out);
  PyObject *keep_self = Py_NewRef((PyObject *)self);
  pet_status st;
  self->busy = 1;
  osem_pin(self, out, 1);
  Py_BEGIN_ALLOW_THREADS
  st = run_reconstruct(&a);
  Py_END_ALLOW_THREADS
  osem_pin(self, out, -1);
  self->busy = 0;
  if (a.sens_made)
    for (int32_t s = 0; s < a.nsens; ++s) pet_image_destroy(&a.sens[s]);
  free(a.sens);
  Py_DECREF(keep_self);
  if (st == PET_ERR_INTERRUPTED && PyErr_Occurred()) {
    Py_DECREF(keep_out);
    pet_error_clear();
    return NULL; /* the KeyboardInterrupt (or a signal handler's exception) */
  }
  if (st != PET_OK) {
    Py_DECREF(keep_out);
    return py_raise_status(st);
  }
  return keep_out;
}

typedef struct sens_args {
  pet_osem_data d;
  pet_osem_opts o;
  pet_image **sens;
  int32_t nsens;
} sens_args;

static pet_status run_sensitivity(sens_args *a)
{
  PET_TRY(check_bins(a->d.mult, a->d.layout->num_bins, "setMultiplicativeCorrection"));
  return pet_osem_sensitivity(&a->d, &a->o, a->sens, a->nsens);
}

static PyObject *osem_generate_sens(osem_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"params", NULL};
  PyObject *params = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:generateSensitivityImages", kwlist, &params))
    return NULL;
  if (osem_not_busy(self, "generateSensitivityImages") != 0) return NULL;
  if (params == Py_None) params = self->img_params;
  if (params == NULL || !PyObject_TypeCheck(params, &py_image_params_type))
    return py_raise_status(PET_ERROR(PET_ERR_STATE,
                                     "generateSensitivityImages: no image grid: pass an ImageParams "
                                     "or call setImageParams first"));
  const bool lm = self->data != NULL && PyObject_TypeCheck(self->data, &py_listmode_type);
  const pet_image_params ip = ((py_image_params_object *)params)->p;
  sens_args a;
  memset(&a, 0, sizeof a);
  pet_status st = PET_OK;
  a.d.scanner = ((py_scanner_object *)self->scanner)->s;
  a.d.layout = self->layout;
  a.d.mult = self->mult;
  a.d.lm_count = -1;
  a.o = osem_opts(self);
  a.nsens = lm ? 1 : self->subsets;
  /* a histogram's sensitivity needs only the layout and the factors, not the counts */
  if (lm) a.d.listmode = ((py_listmode_object *)self->data)->lm;
  PyObject *list = PyList_New(a.nsens);
  a.sens = calloc((size_t)a.nsens, sizeof *a.sens);
  if (list == NULL || a.sens == NULL) {
    Py_XDECREF(list);
    free(a.sens);
    return PyErr_NoMemory();
  }
  /* ImageOwned objects own the results; the C run fills them */
  for (int32_t s = 0; s < a.nsens; ++s) {
    PyObject *img = py_image_owned_new(&ip);
    if (img == NULL) {
      Py_DECREF(list); /* the NULL slots left are skipped */
      free(a.sens);
      return NULL;
    }
    PyList_SET_ITEM(list, s, img);
    a.sens[s] = ((py_image_object *)img)->img;
  }
  if (lm) ++((py_projdata_object *)self->data)->pins;
  self->busy = 1;
  Py_BEGIN_ALLOW_THREADS
  st = run_sensitivity(&a);
  Py_END_ALLOW_THREADS
  self->busy = 0;
  if (lm) --((py_projdata_object *)self->data)->pins;
  free(a.sens);
  if (st == PET_ERR_INTERRUPTED && PyErr_Occurred()) {
    Py_DECREF(list);
    return NULL;
  }
  if (st != PET_OK) {
    Py_DECREF(list);
    return py_raise_status(st);
  }
  PyObject *t = PyList_AsTuple(list);
  if (t == NULL) {
    Py_DECREF(list);
    return NULL;
  }
  Py_XSETREF(self->sens, t);
  self->sens_full = false;
  return list;
}

/* ---- attributes ----------------------------------------------------------------------------- */

static PyObject *get_iterations(osem_object *self, void *c) { return PyLong_FromLong(self->iterations); }
static int set_iterations(osem_object *self, PyObject *v, void *c)
{
  return set_count(self, v, &self->iterations, "num_MLEM_iterations");
}
static PyObject *get_subsets(osem_object *self, void *c) { return PyLong_FromLong(self->subsets); }
static int set_subsets(osem_object *self, PyObject *v, void *c)
{
  return set_count(self, v, &self->subsets, "num_OSEM_subsets");
}

static int get_float_arg(osem_object *self, PyObject *v, const char *what, double lo, double *out)
{
  if (v == NULL) {
    PyErr_Format(PyExc_AttributeError, "%s cannot be deleted", what);
    return -1;
  }
  if (osem_not_busy(self, what) != 0) return -1;
  double d = PyFloat_AsDouble(v);
  if (d == -1.0 && PyErr_Occurred()) return -1;
  if (!(d >= lo) || !isfinite(d)) {
    /* PyErr_Format has no %g (Python 3.12 raises SystemError for it) */
    char msg[160];
    snprintf(msg, sizeof msg, "%s must be finite and >= %g, got %g", what, lo, d);
    PyErr_SetString(PyExc_ValueError, msg);
    return -1;
  }
  *out = d;
  return 0;
}

static PyObject *get_psf(osem_object *self, void *c) { return PyFloat_FromDouble(self->psf_fwhm_mm); }
static int set_psf(osem_object *self, PyObject *v, void *c)
{
  double d;
  if (get_float_arg(self, v, "psfFWHM", 0.0, &d) != 0) return -1;
  self->psf_fwhm_mm = (float)d;
  return 0;
}

static PyObject *get_tof(osem_object *self, void *c)
{
  return PyFloat_FromDouble(self->proj.tof ? (double)self->proj.tof_fwhm_ps : 0.0);
}
static int set_tof(osem_object *self, PyObject *v, void *c)
{
  double d;
  if (get_float_arg(self, v, "tofWidth_ps", 0.0, &d) != 0) return -1;
  self->proj.tof = d > 0.0;
  self->proj.tof_fwhm_ps = (float)d;
  return 0;
}

static PyObject *get_tof_nstd(osem_object *self, void *c) { return PyFloat_FromDouble(self->proj.tof_n_sigmas); }
static int set_tof_nstd(osem_object *self, PyObject *v, void *c)
{
  double d;
  if (get_float_arg(self, v, "tofNumStd", 1e-3, &d) != 0) return -1;
  self->proj.tof_n_sigmas = (float)d;
  return 0;
}

static int get_int_arg(osem_object *self, PyObject *v, const char *what, long lo, long *out)
{
  if (v == NULL) {
    PyErr_Format(PyExc_AttributeError, "%s cannot be deleted", what);
    return -1;
  }
  if (osem_not_busy(self, what) != 0) return -1;
  long n = PyLong_AsLong(v);
  if (n == -1 && PyErr_Occurred()) return -1;
  if (n < lo || n > 1 << 20) {
    PyErr_Format(PyExc_ValueError, "%s must be >= %ld, got %ld", what, lo, n);
    return -1;
  }
  *out = n;
  return 0;
}

static PyObject *get_num_rays(osem_object *self, void *c) { return PyLong_FromLong(self->proj.num_rays); }
static int set_num_rays(osem_object *self, PyObject *v, void *c)
{
  long n;
  if (get_int_arg(self, v, "numRays", 1, &n) != 0) return -1;
  self->proj.num_rays = (int32_t)n;
  return 0;
}

static PyObject *get_threads(osem_object *self, void *c) { return PyLong_FromLong(self->proj.num_threads); }
static int set_threads(osem_object *self, PyObject *v, void *c)
{
  long n;
  if (get_int_arg(self, v, "numThreads", 0, &n) != 0) return -1;
  self->proj.num_threads = (int32_t)n;
  return 0;
}

static PyObject *get_device(osem_object *self, void *c) { return PyLong_FromLong(self->device); }
static int set_device(osem_object *self, PyObject *v, void *c)
{
  long n;
  if (get_int_arg(self, v, "device", 0, &n) != 0) return -1;
  self->device = (int)n;
  return 0;
}

static PyObject *get_budget(osem_object *self, void *c) { return PyLong_FromLongLong(self->vram_budget); }
static int set_budget(osem_object *self, PyObject *v, void *c)
{
  if (v == NULL) {
    PyErr_SetString(PyExc_AttributeError, "vramBudget cannot be deleted");
    return -1;
  }
  if (osem_not_busy(self, "vramBudget") != 0) return -1;
  long long n = PyLong_AsLongLong(v);
  if (n == -1 && PyErr_Occurred()) return -1;
  if (n < 0) {
    PyErr_Format(PyExc_ValueError, "vramBudget must be >= 0 bytes (0: 80%% of the free VRAM), got %lld", n);
    return -1;
  }
  self->vram_budget = n;
  return 0;
}

static PyObject *get_use_gpu(osem_object *self, void *c) { return PyBool_FromLong(self->use_gpu); }
static int set_use_gpu(osem_object *self, PyObject *v, void *c)
{
  if (v == NULL) {
    PyErr_SetString(PyExc_AttributeError, "useGPU cannot be deleted");
    return -1;
  }
  if (osem_not_busy(self, "useGPU") != 0) return -1;
  int b = PyObject_IsTrue(v);
  if (b < 0) return -1;
  self->use_gpu = b;
  return 0;
}

static PyObject *get_projector(osem_object *self, void *c)
{
  return PyUnicode_FromString(py_projector_kind_name(&self->proj));
}
static int set_projector_attr(osem_object *self, PyObject *v, void *c)
{
  if (v == NULL) {
    PyErr_SetString(PyExc_AttributeError, "projector cannot be deleted");
    return -1;
  }
  PyObject *r = osem_set_projector(self, v);
  if (r == NULL) return -1;
  Py_DECREF(r);
  return 0;
}

static PyObject *get_obj(PyObject *o) { return o ? Py_NewRef(o) : Py_NewRef(Py_None); }
static PyObject *get_data(osem_object *self, void *c) { return get_obj(self->data); }
static PyObject *get_img_params(osem_object *self, void *c) { return get_obj(self->img_params); }
static PyObject *get_scanner(osem_object *self, void *c) { return get_obj(self->scanner); }

static PyGetSetDef osem_getset[] = {
    {"num_MLEM_iterations", (getter)get_iterations, (setter)set_iterations,
     "Number of iterations (>= 1; default 2).", NULL},
    {"num_OSEM_subsets", (getter)get_subsets, (setter)set_subsets,
     "Number of subsets (>= 1, at most the histogram's angles; default 4).", NULL},
    {"psfFWHM", (getter)get_psf, (setter)set_psf,
     "Image-space Gaussian PSF in the model, FWHM in mm (0: none).", NULL},
    {"useGPU", (getter)get_use_gpu, (setter)set_use_gpu,
     "Reconstruct with the GPU backend (CUDA) of pet_osem_run.", NULL},
    {"device", (getter)get_device, (setter)set_device, "CUDA device for useGPU (default 0).", NULL},
    {"vramBudget", (getter)get_budget, (setter)set_budget,
     "Bytes of VRAM the GPU run's projection batches may take (0: 80% of the free VRAM).", NULL},
    {"projector", (getter)get_projector, (setter)set_projector_attr,
     "\"S\", \"MRS\" or \"DD\" (see setProjector).", NULL},
    {"numRays", (getter)get_num_rays, (setter)set_num_rays, "Rays per LOR (multi-ray Siddon).", NULL},
    {"tofWidth_ps", (getter)get_tof, (setter)set_tof,
     "TOF FWHM in ps; > 0 turns TOF on (list-mode with TOF only). Default 0.", NULL},
    {"tofNumStd", (getter)get_tof_nstd, (setter)set_tof_nstd,
     "TOF kernel truncation in standard deviations.", NULL},
    {"numThreads", (getter)get_threads, (setter)set_threads, "Host threads (0: OpenMP default).", NULL},
    {"imageParams", (getter)get_img_params, NULL, "The ImageParams of setImageParams, or None.", NULL},
    {"dataInput", (getter)get_data, NULL, "The data of setDataInput, or None.", NULL},
    {"scanner", (getter)get_scanner, NULL, "The Scanner.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef osem_methods[] = {
    {"setProjector", (PyCFunction)osem_set_projector, METH_O,
     "setProjector($self, name, /)\n--\n\n\"S\" (Siddon), \"DD\" (distance-driven) or \"MRS\" "
     "(multi-ray Siddon, numRays 4 unless set > 1).\nValueError otherwise."},
    {"setProjectorParams", (PyCFunction)osem_set_projector_params, METH_O,
     "setProjectorParams($self, params, /)\n--\n\nTakes projector, numRays, TOF and threads from a "
     "ProjectorParams of the same scanner."},
    {"setNumIterations", (PyCFunction)osem_set_num_iterations, METH_O,
     "setNumIterations($self, n, /)\n--\n\nSame as num_MLEM_iterations = n."},
    {"setNumSubsets", (PyCFunction)osem_set_num_subsets, METH_O,
     "setNumSubsets($self, n, /)\n--\n\nSame as num_OSEM_subsets = n."},
    {"setDataInput", (PyCFunction)osem_set_data_input, METH_O,
     "setDataInput($self, data, /)\n--\n\nThe measurement: a Histogram3D (counts per bin) or a "
     "ListModeLUT of the OSEM's scanner; held."},
    {"setMultiplicativeCorrection", (PyCFunction)osem_set_mult, METH_O,
     "setMultiplicativeCorrection($self, array, /)\n--\n\nPer-bin factors m (normalisation x "
     "attenuation): float32, C-contiguous, num_bins values (1-D, or shaped (numZBin, numPhi, "
     "numR); a Histogram3D works). Aliased and held, not copied; None clears (m = 1). Used for "
     "the sensitivity too."},
    {"setAdditiveCorrection", (PyCFunction)osem_set_add, METH_O,
     "setAdditiveCorrection($self, array, /)\n--\n\nPer-bin additive term a (randoms + scatter, "
     "in counts): as setMultiplicativeCorrection; None clears (a = 0). The model is m A x + a."},
    {"setSensitivityImage", (PyCFunction)osem_set_sens, METH_O,
     "setSensitivityImage($self, image, /)\n--\n\nThe full sensitivity A^T m (host image; a "
     "histogram subset uses 1/num_OSEM_subsets of it, as petrel recon does). None: computed "
     "by reconstruct."},
    {"setSensitivityImages", (PyCFunction)osem_set_sens_images, METH_O,
     "setSensitivityImages($self, images, /)\n--\n\nPer-subset sensitivities A_s^T m (one per "
     "histogram subset; one image for list-mode), as generateSensitivityImages makes them."},
    {"getSensitivityImages", (PyCFunction)osem_get_sens_images, METH_NOARGS,
     "getSensitivityImages($self, /)\n--\n\nReturns list: The sensitivity images set or generated."},
    {"generateSensitivityImages", PY_METH(osem_generate_sens), METH_VARARGS | METH_KEYWORDS,
     "generateSensitivityImages($self, /, params=None)\n--\n\nComputes (pet_osem_sensitivity) and "
     "keeps the sensitivity images on the grid params (default: setImageParams): one per "
     "subset for a histogram (or no data), one for list-mode. Returns them as a list of "
     "ImageOwned. Releases the GIL."},
    {"setInitialEstimate", (PyCFunction)osem_set_initial, METH_O,
     "setInitialEstimate($self, image, /)\n--\n\nStarting image (copied into the output at "
     "reconstruct; same grid). None: a uniform 1."},
    {"setImageParams", (PyCFunction)osem_set_image_params, METH_O,
     "setImageParams($self, params, /)\n--\n\nThe grid for generateSensitivityImages."},
    {"reconstruct", (PyCFunction)osem_reconstruct, METH_O,
     "reconstruct($self, out_image, /)\n--\n\nRuns OSEM (pet_osem_run, on the GPU with "
     "useGPU) into out_image (an allocated/bound host image; with useGPU a device image works "
     "too), starting from the initial estimate (or 1). Returns out_image. Releases the GIL; "
     "Ctrl-C stops it between subsets (KeyboardInterrupt).\nRuntimeError without data, "
     "ValueError for inconsistent inputs (grids, subsets, corrections that are negative or not "
     "finite), NotImplementedError for useGPU without CUDA in the build."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject osem_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.OSEM",
    .tp_basicsize = sizeof(osem_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "OSEM(scanner, useGPU=False)\n--\n\n"
              "OSEM reconstruction (YRT-PET's OSEM): x <- x / S_s * A_s^T(m y / (m A_s x + a)).\n"
              "setProjector, num_MLEM_iterations, num_OSEM_subsets, setDataInput,\n"
              "setMultiplicativeCorrection / setAdditiveCorrection (per-bin float32 arrays),\n"
              "setSensitivityImage(s) / generateSensitivityImages, setInitialEstimate, psfFWHM,\n"
              "useGPU, then reconstruct(out_image). The same computation as petrel recon.",
    .tp_new = osem_new,
    .tp_dealloc = (destructor)osem_dealloc,
    .tp_repr = (reprfunc)osem_repr,
    .tp_methods = osem_methods,
    .tp_getset = osem_getset,
};

static PyObject *create_osem(PyObject *mod, PyObject *args, PyObject *kwds)
{
  return PyObject_Call((PyObject *)&osem_type, args, kwds);
}

static PyMethodDef create_osem_def = {
    "createOSEM", PY_METH(create_osem), METH_VARARGS | METH_KEYWORDS,
    "createOSEM(scanner, useGPU=False)\n--\n\nReturns OSEM: YRT-PET's factory, same as "
    "OSEM(scanner, useGPU)."};

int py_osem_init(PyObject *m)
{
  if (PyType_Ready(&osem_type) != 0) return -1;
  if (PyModule_AddObjectRef(m, "OSEM", (PyObject *)&osem_type) != 0) return -1;
  PyObject *name = PyModule_GetNameObject(m);
  if (name == NULL) return -1;
  PyObject *f = PyCFunction_NewEx(&create_osem_def, m, name);
  Py_DECREF(name);
  if (f == NULL) return -1;
  int rc = PyModule_AddObjectRef(m, "createOSEM", f);
  Py_DECREF(f);
  return rc;
}
