/* petrel Python module: OSEM reconstruction (YRT-PET's OSEM object) over the one OSEM loop,
 * pet_osem_run (pet_osem.h; the GPU backend when use_gpu).
 *
 *   osem = petrel.createOSEM(scanner, use_gpu=False)     # or petrel.OSEM(scanner)
 *   osem.setProjector("DD"); osem.num_MLEM_iterations = 3; osem.num_OSEM_subsets = 4
 *   osem.setImageParams(params); osem.setDataInput(histogram_or_listmode)
 *   osem.setSensitivityHistogram(norm); osem.setACFHistogram(acf)        # YRT-PET's corrections
 *   osem.setRandomsHistogram(r); osem.setScatterHistogram(sc)
 *   osem.setMultiplicativeCorrection(m); osem.setAdditiveCorrection(a)   # or per-bin arrays
 *   image = osem.reconstruct()          # or reconstruct("out.nii.gz"), reconstruct(out_image)
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
#include "pet_image.h"
#include "pet_listmode.h"
#include "pet_osem.h"
#include "pet_prior.h"
#include "pet_project_batch.h"
#include "pet_scanner.h"
#include "pet_fov.h"

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
  PyObject *img_params;        /* ImageParams (a copy), or NULL */
  int busy;                    /* a reconstruction / sensitivity runs without the GIL */
  float hard_threshold;        /* generated sensitivity voxels <= this are set to 0 */
  float initial_value;         /* uniform initial image without setInitialEstimate */
  bool lm_enabled;             /* list-mode reconstruction (setDataInput / setListModeEnabled) */
  /* YRT-PET's corrections (Histogram3D of this scanner, or images), combined at run time with
   * the per-bin arrays into m = mult * sens * acf * exp(-A mu) * scale and a = add + randoms
   * + scatter */
  PyObject *his[6];            /* CORR_SENS .. CORR_SCATTER, or NULL */
  PyObject *att[3];            /* attenuation images (1/mm): ATT_ALL, ATT_INVIVO, ATT_HW */
  float global_scale;
  bool invert_sens;
  /* regularised reconstruction (setAlgorithm, setPrior, setRelaxation; pet_prior.h) */
  pet_osem_algorithm algorithm;
  pet_prior_params prior;
  float relaxation, relaxation_eta;
} osem_object;

enum { CORR_SENS, CORR_ACF, CORR_ACF_INVIVO, CORR_ACF_HW, CORR_RANDOMS, CORR_SCATTER, CORR_N };
enum { ATT_ALL, ATT_INVIVO, ATT_HW, ATT_N };

/* YRT-PET's OSEM defaults (OSEM.hpp: DEFAULT_NUM_ITERATIONS, DEFAULT_HARD_THRESHOLD,
 * INITIAL_VALUE_MLEM; one subset) */
#define YRT_DEFAULT_ITERATIONS 10
#define YRT_DEFAULT_SUBSETS 1
#define YRT_DEFAULT_HARD_THRESHOLD 1.0f
#define YRT_INITIAL_VALUE 0.125f

static PyTypeObject osem_type;

static int osem_not_busy(osem_object *self, const char *what)
{
  if (!self->busy) return 0;
  PyErr_Format(PyExc_RuntimeError,
               "%s: this OSEM object is running a reconstruction in another thread", what);
  return -1;
}

/* RuntimeError naming what is missing unless a GPU reconstruction can run here. */
static int check_gpu_available(const char *what)
{
  if (!pet_gpu_compiled()) {
    PyErr_Format(PyExc_RuntimeError,
                 "%s: no GPU: this petrel build has no CUDA support (rebuild with "
                 "-DPET_ENABLE_CUDA=ON), use_gpu=False reconstructs on the CPU",
                 what);
    return -1;
  }
  if (pet_gpu_device_count() == 0) {
    PyErr_Format(PyExc_RuntimeError,
                 "%s: no GPU: no CUDA device is visible to this process (check "
                 "CUDA_VISIBLE_DEVICES and the driver); use_gpu=False reconstructs on the CPU",
                 what);
    return -1;
  }
  return 0;
}

static PyObject *osem_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"scanner", "use_gpu", "is_low_rank", "useGPU", NULL};
  PyObject *scanner;
  int use_gpu = 0, low_rank = 0, use_gpu_old = -1;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|pp$p:OSEM", kwlist, &py_scanner_type, &scanner,
                                   &use_gpu, &low_rank, &use_gpu_old))
    return NULL;
  if (low_rank)
    return py_raise_status(PET_ERROR(PET_ERR_UNSUPPORTED, "createOSEM(is_low_rank=True): petrel has "
                                     "no low-rank (LR) dynamic reconstruction"));
  if (use_gpu_old >= 0) use_gpu = use_gpu || use_gpu_old;
  if (use_gpu && check_gpu_available("createOSEM(use_gpu=True)") != 0) return NULL;
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
  self->iterations = YRT_DEFAULT_ITERATIONS;
  self->subsets = YRT_DEFAULT_SUBSETS;
  self->hard_threshold = YRT_DEFAULT_HARD_THRESHOLD;
  self->initial_value = YRT_INITIAL_VALUE;
  self->global_scale = 1.0f;
  self->proj = d.proj;
  self->proj.crystal_size_trans = s->params.crystal_size_trans;
  self->proj.crystal_size_z = s->params.crystal_size_z;
  pet_projector_params_set_fov(&self->proj, &s->params); /* the scanner's FOV cylinder, as petrel recon */
  self->use_gpu = use_gpu;
  self->algorithm = d.algorithm;
  self->prior = d.prior;
  self->relaxation = d.relaxation;
  self->relaxation_eta = d.relaxation_eta;
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
  for (int i = 0; i < CORR_N; ++i) Py_XDECREF(self->his[i]);
  for (int i = 0; i < ATT_N; ++i) Py_XDECREF(self->att[i]);
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
  self->lm_enabled = PyObject_TypeCheck(data, &py_listmode_type);
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

static int32_t expected_sens(const osem_object *self)
{
  return self->lm_enabled ? 1 : self->subsets;
}

/* YRT-PET takes the image grid from the sensitivity images when none was set, and refuses
 * sensitivity images of another grid. */
static int sens_grid(osem_object *self, PyObject *img, const char *what)
{
  const pet_image_params *g = &((py_image_object *)img)->img->params;
  if (self->img_params == NULL) {
    PyObject *copy = py_image_params_new(g);
    if (copy == NULL) return -1;
    self->img_params = copy;
    return 0;
  }
  const pet_image_params *want = &((py_image_params_object *)self->img_params)->p;
  if (!pet_image_params_equal(g, want)) {
    py_raise_status(PET_ERROR(PET_ERR_ARG,
                              "%s: the sensitivity image is %dx%dx%d voxels over %gx%gx%g mm, the "
                              "ImageParams of setImageParams are %dx%dx%d over %gx%gx%g mm",
                              what, g->nx, g->ny, g->nz, (double)g->length_x, (double)g->length_y,
                              (double)g->length_z, want->nx, want->ny, want->nz,
                              (double)want->length_x, (double)want->length_y,
                              (double)want->length_z));
    return -1;
  }
  return 0;
}

/* setSensitivityImage(sens_image, subset=None): without subset, the full sensitivity A^T m
 * (petrel: a histogram subset uses 1/num_OSEM_subsets of it; with one subset or list-mode this
 * is YRT-PET's meaning too); with subset, YRT-PET's per-subset image A_s^T m. */
static PyObject *osem_set_sens(osem_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"sens_image", "subset", NULL};
  PyObject *img = NULL, *subset_obj = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:setSensitivityImage", kwlist, &img,
                                   &subset_obj))
    return NULL;
  if (osem_not_busy(self, "setSensitivityImage") != 0) return NULL;
  if (img == Py_None) {
    Py_CLEAR(self->sens);
    self->sens_full = false;
    Py_RETURN_NONE;
  }
  if (check_host_image(img, "setSensitivityImage") != 0) return NULL;
  if (subset_obj == Py_None) {
    if (sens_grid(self, img, "setSensitivityImage") != 0) return NULL;
    PyObject *t = PyTuple_Pack(1, img);
    if (t == NULL) return NULL;
    Py_XSETREF(self->sens, t);
    self->sens_full = true;
    Py_RETURN_NONE;
  }
  long k = PyLong_AsLong(subset_obj);
  if (k == -1 && PyErr_Occurred()) return NULL;
  const int32_t n = expected_sens(self);
  if (k < 0 || k >= n)
    return py_raise_status(PET_ERROR(PET_ERR_ARG,
                                     "setSensitivityImage: subset %ld does not exist: %d "
                                     "sensitivity image(s) expected (%s)",
                                     k, (int)n,
                                     self->lm_enabled ? "one for list-mode"
                                                      : "one per OSEM subset"));
  if (sens_grid(self, img, "setSensitivityImage") != 0) return NULL;
  PyObject *t = PyTuple_New(n);
  if (t == NULL) return NULL;
  const bool keep = self->sens != NULL && !self->sens_full && PyTuple_GET_SIZE(self->sens) == n;
  for (int32_t i = 0; i < n; ++i) {
    PyObject *v = i == k ? img : keep ? PyTuple_GET_ITEM(self->sens, i) : Py_None;
    PyTuple_SET_ITEM(t, i, Py_NewRef(v));
  }
  Py_XSETREF(self->sens, t);
  self->sens_full = false;
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
    if (check_host_image(PyTuple_GET_ITEM(t, i), "setSensitivityImages") != 0 ||
        sens_grid(self, PyTuple_GET_ITEM(t, i), "setSensitivityImages") != 0) {
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
  PyObject *copy = py_image_params_new(&((py_image_params_object *)p)->p);
  if (copy == NULL) return NULL;
  Py_XSETREF(self->img_params, copy);
  Py_RETURN_NONE;
}

/* ---- YRT-PET's correction inputs -------------------------------------------------------- */

static const char *const corr_names[CORR_N] = {
    "setSensitivityHistogram", "setACFHistogram",     "setInVivoACFHistogram",
    "setHardwareACFHistogram", "setRandomsHistogram", "setScatterHistogram"};
static const char *const att_names[ATT_N] = {"setAttenuationImage", "setInVivoAttenuationImage",
                                             "setHardwareAttenuationImage"};

static PyObject *set_his(osem_object *self, PyObject *his, int which)
{
  const char *what = corr_names[which];
  if (osem_not_busy(self, what) != 0) return NULL;
  if (his == Py_None) {
    Py_CLEAR(self->his[which]);
    Py_RETURN_NONE;
  }
  if (!PyObject_TypeCheck(his, &py_histogram_type)) {
    PyErr_Format(PyExc_TypeError,
                 "%s: expected a Histogram3D (petrel's only Histogram), got '%.100s'", what,
                 Py_TYPE(his)->tp_name);
    return NULL;
  }
  if (((py_projdata_object *)his)->scanner != self->scanner)
    return py_raise_status(
        PET_ERROR(PET_ERR_ARG, "%s: the histogram belongs to another Scanner than the OSEM object",
                  what));
  Py_XSETREF(self->his[which], Py_NewRef(his));
  Py_RETURN_NONE;
}

static PyObject *osem_set_sens_his(osem_object *self, PyObject *h) { return set_his(self, h, CORR_SENS); }
static PyObject *osem_set_acf(osem_object *self, PyObject *h) { return set_his(self, h, CORR_ACF); }
static PyObject *osem_set_acf_invivo(osem_object *self, PyObject *h)
{
  return set_his(self, h, CORR_ACF_INVIVO);
}
static PyObject *osem_set_acf_hw(osem_object *self, PyObject *h) { return set_his(self, h, CORR_ACF_HW); }
static PyObject *osem_set_randoms(osem_object *self, PyObject *h) { return set_his(self, h, CORR_RANDOMS); }
static PyObject *osem_set_scatter(osem_object *self, PyObject *h) { return set_his(self, h, CORR_SCATTER); }

static PyObject *osem_get_sens_his(osem_object *self, PyObject *unused)
{
  return Py_NewRef(self->his[CORR_SENS] ? self->his[CORR_SENS] : Py_None);
}

static PyObject *set_att(osem_object *self, PyObject *img, int which)
{
  const char *what = att_names[which];
  if (osem_not_busy(self, what) != 0) return NULL;
  if (img == Py_None) {
    Py_CLEAR(self->att[which]);
    Py_RETURN_NONE;
  }
  if (check_host_image(img, what) != 0) return NULL;
  Py_XSETREF(self->att[which], Py_NewRef(img));
  Py_RETURN_NONE;
}

static PyObject *osem_set_att(osem_object *self, PyObject *i) { return set_att(self, i, ATT_ALL); }
static PyObject *osem_set_att_invivo(osem_object *self, PyObject *i) { return set_att(self, i, ATT_INVIVO); }
static PyObject *osem_set_att_hw(osem_object *self, PyObject *i) { return set_att(self, i, ATT_HW); }

static PyObject *osem_set_global_scale(osem_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"global_scale", NULL};
  double v;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "d:setGlobalScalingFactor", kwlist, &v)) return NULL;
  if (osem_not_busy(self, "setGlobalScalingFactor") != 0) return NULL;
  if (!isfinite(v) || v <= 0.0) {
    char msg[160];
    snprintf(msg, sizeof msg, "setGlobalScalingFactor: global_scale must be finite and > 0, got %g", v);
    PyErr_SetString(PyExc_ValueError, msg);
    return NULL;
  }
  self->global_scale = (float)v;
  Py_RETURN_NONE;
}

static PyObject *osem_set_invert_sens(osem_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"invert", NULL};
  int invert = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p:setInvertSensitivity", kwlist, &invert))
    return NULL;
  if (osem_not_busy(self, "setInvertSensitivity") != 0) return NULL;
  self->invert_sens = invert != 0;
  Py_RETURN_NONE;
}

/* What the combination of the corrections reads (borrowed, pinned by the caller). */
typedef struct corr_args {
  const pet_histo_layout *layout;
  const pet_scanner *scanner;
  pet_projector_params proj;
  const float *mult, *add;     /* the per-bin arrays (setMultiplicative/AdditiveCorrection) */
  const float *his[CORR_N];    /* bins of the correction histograms, or NULL */
  const pet_image *att[ATT_N]; /* mu-maps, or NULL */
  float global_scale;
  bool invert_sens;
  bool want_add;               /* the sensitivity needs only m */
  float *m, *a;                /* results (owned by the caller), NULL when not needed */
} corr_args;

static bool corrections_given(const osem_object *self)
{
  for (int i = 0; i < CORR_N; ++i)
    if (self->his[i] != NULL) return true;
  for (int i = 0; i < ATT_N; ++i)
    if (self->att[i] != NULL) return true;
  return self->global_scale != 1.0f;
}

/* m = mult * (sens or 1/sens) * acf * acf_invivo * acf_hw * exp(-A mu...) * global_scale and
 * a = add + randoms + scatter, per bin. Runs without the GIL. */
static pet_status combine_corrections(corr_args *c)
{
  const int64_t n = c->layout->num_bins;
  pet_status st = PET_OK;
  float *proj = NULL;
  c->m = malloc((size_t)n * sizeof(float));
  if (c->want_add) c->a = malloc((size_t)n * sizeof(float));
  PET_CHECK(c->m != NULL && (!c->want_add || c->a != NULL), PET_ERR_NOMEM,
            "OSEM corrections: out of host memory for %lld bins", (long long)n);
  for (int64_t i = 0; i < n; ++i) {
    float m = c->global_scale * (c->mult ? c->mult[i] : 1.0f);
    const float *sens = c->his[CORR_SENS];
    if (sens != NULL) m *= c->invert_sens ? (sens[i] != 0.0f ? 1.0f / sens[i] : 0.0f) : sens[i];
    for (int k = CORR_ACF; k <= CORR_ACF_HW; ++k)
      if (c->his[k] != NULL) m *= c->his[k][i];
    c->m[i] = m;
  }
  if (c->want_add)
    for (int64_t i = 0; i < n; ++i) {
      float a = c->add ? c->add[i] : 0.0f;
      if (c->his[CORR_RANDOMS] != NULL) a += c->his[CORR_RANDOMS][i];
      if (c->his[CORR_SCATTER] != NULL) a += c->his[CORR_SCATTER][i];
      c->a[i] = a;
    }
  const int64_t cap = n < ((int64_t)1 << 20) ? n : ((int64_t)1 << 20);
  for (int k = 0; k < ATT_N; ++k) {
    if (c->att[k] == NULL) continue;
    if (proj == NULL) proj = malloc((size_t)cap * sizeof(float));
    PET_CHECK_GOTO(st, proj != NULL, PET_ERR_NOMEM, out, "%s: out of host memory", att_names[k]);
    for (int64_t k0 = 0; k0 < n; k0 += cap) {
      const int64_t cnt = n - k0 < cap ? n - k0 : cap;
      PET_TRY_GOTO(st, pet_histo_project_fwd_cpu(c->layout, c->scanner, &c->proj, c->att[k], k0,
                                                 cnt, proj),
                   out);
      for (int64_t i = 0; i < cnt; ++i) c->m[k0 + i] *= expf(-proj[i]);
    }
  }
out:
  free(proj);
  return st;
}

/* Fills c for a run (GIL held): checks that every correction has memory and pins it. */
static int corrections_prepare(osem_object *self, corr_args *c, bool want_add)
{
  memset(c, 0, sizeof *c);
  c->layout = self->layout;
  c->scanner = ((py_scanner_object *)self->scanner)->s;
  c->proj = pet_projector_params_default();
  c->proj.crystal_size_trans = self->proj.crystal_size_trans;
  c->proj.crystal_size_z = self->proj.crystal_size_z;
  c->proj.num_threads = self->proj.num_threads;
  c->mult = self->mult;
  c->add = self->add;
  c->global_scale = self->global_scale;
  c->invert_sens = self->invert_sens;
  c->want_add = want_add;
  for (int i = 0; i < CORR_N; ++i) {
    if (self->his[i] == NULL) continue;
    const pet_histogram *h = ((py_histogram_object *)self->his[i])->h;
    if (pet_histogram_require(h) != PET_OK) {
      char why[256];
      snprintf(why, sizeof why, "%s", pet_last_error());
      py_raise_status(PET_ERROR(PET_ERR_STATE, "%s: %s", corr_names[i], why));
      return -1;
    }
    c->his[i] = h->data;
  }
  for (int i = 0; i < ATT_N; ++i) {
    if (self->att[i] == NULL) continue;
    const pet_image *img = ((py_image_object *)self->att[i])->img;
    if (pet_image_require(img, PET_HOST) != PET_OK) {
      char why[256];
      snprintf(why, sizeof why, "%s", pet_last_error());
      py_raise_status(PET_ERROR(PET_ERR_STATE, "%s: %s", att_names[i], why));
      return -1;
    }
    c->att[i] = img;
  }
  return 0;
}

static void corrections_pin(osem_object *self, Py_ssize_t delta)
{
  for (int i = 0; i < CORR_N; ++i)
    if (self->his[i]) ((py_projdata_object *)self->his[i])->pins += delta;
  for (int i = 0; i < ATT_N; ++i)
    if (self->att[i]) ((py_image_object *)self->att[i])->pins += delta;
}

static void corrections_free(corr_args *c)
{
  free(c->m);
  free(c->a);
  c->m = c->a = NULL;
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
  o.algorithm = self->algorithm;
  o.prior = self->prior;
  o.relaxation = self->relaxation;
  o.relaxation_eta = self->relaxation_eta;
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
  float initial_value;    /* without an initial image */
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
    for (int32_t s = 0; s < a->nsens; ++s)
      PET_TRY(pet_image_create_owned(&a->sens[s], a->x->params, PET_HOST));
    PET_TRY(pet_osem_split_sensitivity(a->full, a->sens, a->nsens));
  }
  if (a->initial != NULL)
    PET_TRY(pet_image_copy(a->x, a->initial));
  else
    PET_TRY(pet_image_fill(a->x, a->initial_value));
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

/* Runs the reconstruction into out (a petrel image); returns a new reference to it. */
static PyObject *osem_run(osem_object *self, PyObject *out)
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
  if (a.d.histogram && a.d.histogram->num_tof_bins > 0) {
    /* a TOF histogram: project through its TOF bins (addTOF's FWHM) */
    a.o.proj.num_tof_bins = a.d.histogram->num_tof_bins;
    a.o.proj.tof_bin_width_ps = a.d.histogram->tof_bin_width_ps;
    a.o.proj.tof = 0;
  }
  a.initial_value = self->initial_value;
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
    for (Py_ssize_t i = 0; i < n; ++i)
      if (PyTuple_GET_ITEM(self->sens, i) == Py_None)
        return py_raise_status(PET_ERROR(PET_ERR_STATE,
                                         "reconstruct: the sensitivity image of subset %zd is not "
                                         "set (setSensitivityImage(image, subset=%zd))",
                                         i, i));
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
  corr_args corr;
  const bool combine = corrections_given(self);
  if (combine && corrections_prepare(self, &corr, true) != 0) {
    free(a.sens);
    return NULL;
  }
  PyObject *keep_out = Py_NewRef(out);
  PyObject *keep_self = Py_NewRef((PyObject *)self);
  pet_status st = PET_OK;
  self->busy = 1;
  osem_pin(self, out, 1);
  if (combine) corrections_pin(self, 1);
  Py_BEGIN_ALLOW_THREADS
  if (combine) {
    st = combine_corrections(&corr);
    a.d.mult = corr.m;
    a.d.add = corr.a;
  }
  if (st == PET_OK) st = run_reconstruct(&a);
  Py_END_ALLOW_THREADS
  if (combine) {
    corrections_pin(self, -1);
    corrections_free(&corr);
  }
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

static bool is_path(PyObject *o)
{
  return PyUnicode_Check(o) || PyBytes_Check(o) || PyObject_HasAttrString(o, "__fspath__");
}

/* The output grid: setImageParams, else the sensitivity images' (as YRT-PET does). */
static const pet_image_params *output_grid(const osem_object *self)
{
  if (self->img_params != NULL) return &((py_image_params_object *)self->img_params)->p;
  if (self->sens != NULL)
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(self->sens); ++i)
      if (PyTuple_GET_ITEM(self->sens, i) != Py_None)
        return &((py_image_object *)PyTuple_GET_ITEM(self->sens, i))->img->params;
  return NULL;
}

/* reconstruct(out_fname=None): YRT-PET's form returns a new ImageOwned on the grid of
 * setImageParams (and writes it to out_fname when given); petrel's reconstruct(out_image)
 * reconstructs into an existing image, which must be on that grid. */
static PyObject *osem_reconstruct(osem_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"out_fname", NULL};
  PyObject *arg = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:reconstruct", kwlist, &arg)) return NULL;
  if (osem_not_busy(self, "reconstruct") != 0) return NULL;
  const pet_image_params *grid = output_grid(self);
  const bool to_file = arg != Py_None && is_path(arg) &&
                       !(PyUnicode_Check(arg) && PyUnicode_GetLength(arg) == 0);
  if (arg == Py_None || is_path(arg)) {
    if (grid == NULL)
      return py_raise_status(PET_ERROR(PET_ERR_STATE,
                                       "reconstruct: no image grid: call setImageParams(params) "
                                       "(or setSensitivityImage) first, or pass an output image"));
    PyObject *out = py_image_owned_new(grid);
    if (out == NULL) return NULL;
    PyObject *r = osem_run(self, out);
    Py_DECREF(out);
    if (r != NULL && to_file) {
      PyObject *w = PyObject_CallMethod(r, "writeToFile", "O", arg);
      if (w == NULL) Py_CLEAR(r);
      Py_XDECREF(w);
    }
    return r;
  }
  pet_image *x = py_image_get(arg, "reconstruct");
  if (x == NULL) return NULL;
  if (self->img_params != NULL && !pet_image_params_equal(grid, &x->params))
    return py_raise_status(PET_ERROR(PET_ERR_ARG,
                                     "reconstruct: the output image is %dx%dx%d voxels over "
                                     "%gx%gx%g mm centred at (%g, %g, %g), but setImageParams "
                                     "gave %dx%dx%d over %gx%gx%g mm centred at (%g, %g, %g)",
                                     x->params.nx, x->params.ny, x->params.nz,
                                     (double)x->params.length_x, (double)x->params.length_y,
                                     (double)x->params.length_z, (double)x->params.off_x,
                                     (double)x->params.off_y, (double)x->params.off_z, grid->nx,
                                     grid->ny, grid->nz, (double)grid->length_x,
                                     (double)grid->length_y, (double)grid->length_z,
                                     (double)grid->off_x, (double)grid->off_y,
                                     (double)grid->off_z));
  return osem_run(self, arg);
}

typedef struct sens_args {
  pet_osem_data d;
  pet_osem_opts o;
  pet_image **sens;
  int32_t nsens;
  float hard_threshold;
  corr_args corr;
  bool combine;
} sens_args;

static pet_status run_sensitivity(sens_args *a)
{
  if (a->combine) {
    PET_TRY(combine_corrections(&a->corr));
    a->d.mult = a->corr.m;
  }
  PET_TRY(check_bins(a->d.mult, a->d.layout->num_bins, "setMultiplicativeCorrection"));
  PET_TRY(pet_osem_sensitivity(&a->d, &a->o, a->sens, a->nsens));
  /* YRT-PET's hardThreshold: sensitivity voxels at or below it are left out (0) */
  for (int32_t s = 0; s < a->nsens; ++s) {
    float *v = a->sens[s]->data;
    const int64_t nv = pet_image_num_voxels(a->sens[s]);
    for (int64_t i = 0; i < nv; ++i)
      if (v[i] <= a->hard_threshold) v[i] = 0.0f;
  }
  return PET_OK;
}

/* YRT-PET's file names of per-subset sensitivity images: "<stem>_subset<k><ext>", k padded to
 * the digits of num_subsets - 1; ext is ".nii.gz", ".nii" or the last extension. */
static PyObject *subset_file_name(const char *path, int32_t k, int32_t n)
{
  if (n == 1) return PyUnicode_FromString(path);
  int digits = 1;
  for (int32_t m = n - 1; m >= 10; m /= 10) ++digits;
  const size_t len = strlen(path);
  const char *slash = strrchr(path, '/');
  const char *ext = NULL;
  if (len >= 7 && strcmp(path + len - 7, ".nii.gz") == 0) ext = path + len - 7;
  if (ext == NULL) {
    const char *dot = strrchr(path, '.');
    ext = (dot != NULL && (slash == NULL || dot > slash)) ? dot : path + len;
  }
  char num[16], padded[32];
  int nd = snprintf(num, sizeof num, "%d", (int)k);
  int zeros = digits > nd ? digits - nd : 0;
  memset(padded, '0', (size_t)zeros);
  memcpy(padded + zeros, num, (size_t)nd + 1);
  const size_t cap = len + sizeof padded + 8;
  char *buf = PyMem_Malloc(cap);
  if (buf == NULL) return PyErr_NoMemory();
  snprintf(buf, cap, "%.*s_subset%s%s", (int)(ext - path), path, padded, ext);
  PyObject *r = PyUnicode_DecodeFSDefault(buf);
  PyMem_Free(buf);
  return r;
}

static PyObject *osem_generate_sens(osem_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"out_fname", "saveToMemory", "params", NULL};
  PyObject *out_fname = Py_None, *params = Py_None, *fname = NULL;
  int save_to_memory = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OpO:generateSensitivityImages", kwlist,
                                   &out_fname, &save_to_memory, &params))
    return NULL;
  if (osem_not_busy(self, "generateSensitivityImages") != 0) return NULL;
  /* petrel's earlier form generateSensitivityImages(params) */
  if (out_fname != Py_None && PyObject_TypeCheck(out_fname, &py_image_params_type)) {
    params = out_fname;
    out_fname = Py_None;
  }
  if (out_fname != Py_None) {
    if (!py_path_converter(out_fname, &fname)) return NULL;
    if (PyBytes_GET_SIZE(fname) == 0) Py_CLEAR(fname);
  }
  if (params == Py_None) params = self->img_params;
  if (params == NULL || !PyObject_TypeCheck(params, &py_image_params_type)) {
    Py_XDECREF(fname);
    return py_raise_status(PET_ERROR(PET_ERR_STATE,
                                     "generateSensitivityImages: no image grid: pass an ImageParams "
                                     "or call setImageParams first"));
  }
  const bool lm = self->lm_enabled;
  const bool lm_data = self->data != NULL && PyObject_TypeCheck(self->data, &py_listmode_type);
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
  a.hard_threshold = self->hard_threshold;
  /* a histogram's sensitivity needs only the layout and the factors, not the counts */
  if (lm_data) a.d.listmode = ((py_listmode_object *)self->data)->lm;
  if (lm && !lm_data) a.o.subsets = 1; /* list-mode enabled before its data: one image */
  a.combine = corrections_given(self);
  if (a.combine && corrections_prepare(self, &a.corr, false) != 0) {
    Py_XDECREF(fname);
    return NULL;
  }
  PyObject *list = PyList_New(a.nsens);
  a.sens = calloc((size_t)a.nsens, sizeof *a.sens);
  if (list == NULL || a.sens == NULL) {
    Py_XDECREF(list);
    Py_XDECREF(fname);
    free(a.sens);
    return PyErr_NoMemory();
  }
  /* ImageOwned objects own the results; the C run fills them */
  for (int32_t s = 0; s < a.nsens; ++s) {
    PyObject *img = py_image_owned_new(&ip);
    if (img == NULL) {
      Py_DECREF(list); /* the NULL slots left are skipped */
      Py_XDECREF(fname);
      free(a.sens);
      return NULL;
    }
    PyList_SET_ITEM(list, s, img);
    a.sens[s] = ((py_image_object *)img)->img;
  }
  if (lm_data) ++((py_projdata_object *)self->data)->pins;
  if (a.combine) corrections_pin(self, 1);
  self->busy = 1;
  Py_BEGIN_ALLOW_THREADS
  st = run_sensitivity(&a);
  Py_END_ALLOW_THREADS
  self->busy = 0;
  if (a.combine) {
    corrections_pin(self, -1);
    corrections_free(&a.corr);
  }
  if (lm_data) --((py_projdata_object *)self->data)->pins;
  free(a.sens);
  if (st == PET_ERR_INTERRUPTED && PyErr_Occurred()) {
    Py_DECREF(list);
    Py_XDECREF(fname);
    return NULL;
  }
  if (st != PET_OK) {
    Py_DECREF(list);
    Py_XDECREF(fname);
    return py_raise_status(st);
  }
  if (fname != NULL) {
    for (int32_t s = 0; s < a.nsens; ++s) {
      PyObject *name = subset_file_name(PyBytes_AS_STRING(fname), s, a.nsens);
      PyObject *w = name ? PyObject_CallMethod(PyList_GET_ITEM(list, s), "writeToFile", "O", name)
                         : NULL;
      Py_XDECREF(name);
      if (w == NULL) {
        Py_DECREF(list);
        Py_DECREF(fname);
        return NULL;
      }
      Py_DECREF(w);
    }
    Py_DECREF(fname);
  }
  PyObject *t = PyList_AsTuple(list);
  if (t == NULL) {
    Py_DECREF(list);
    return NULL;
  }
  Py_XSETREF(self->sens, t);
  self->sens_full = false;
  if (!save_to_memory) {
    Py_DECREF(list);
    return PyList_New(0);
  }
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
  if (b && check_gpu_available("useGPU = True") != 0) return -1;
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

static PyObject *get_hard_threshold(osem_object *self, void *c)
{
  return PyFloat_FromDouble((double)self->hard_threshold);
}
static int set_hard_threshold(osem_object *self, PyObject *v, void *c)
{
  double d;
  if (get_float_arg(self, v, "hardThreshold", -1e30, &d) != 0) return -1;
  self->hard_threshold = (float)d;
  return 0;
}

static PyObject *get_initial_value(osem_object *self, void *c)
{
  return PyFloat_FromDouble((double)self->initial_value);
}
static int set_initial_value(osem_object *self, PyObject *v, void *c)
{
  double d;
  if (get_float_arg(self, v, "initialValue", 0.0, &d) != 0) return -1;
  if (d <= 0.0) {
    PyErr_SetString(PyExc_ValueError, "initialValue must be > 0 (OSEM cannot leave 0)");
    return -1;
  }
  self->initial_value = (float)d;
  return 0;
}

static PyObject *get_initial(osem_object *self, void *c)
{
  return Py_NewRef(self->initial ? self->initial : Py_None);
}
static int set_initial_attr(osem_object *self, PyObject *v, void *c)
{
  if (v == NULL) v = Py_None;
  PyObject *r = osem_set_initial(self, v);
  if (r == NULL) return -1;
  Py_DECREF(r);
  return 0;
}

static PyObject *get_mask(osem_object *self, void *c) { Py_RETURN_NONE; }
static int set_mask(osem_object *self, PyObject *v, void *c)
{
  if (v == NULL || v == Py_None) return 0;
  py_raise_status(PET_ERROR(PET_ERR_UNSUPPORTED,
                            "maskImage: petrel has no reconstruction mask (voxels outside the "
                            "scanner's field of view get sensitivity 0 and stay 0)"));
  return -1;
}

static PyObject *osem_set_num_rays(osem_object *self, PyObject *v)
{
  if (set_num_rays(self, v, NULL) != 0) return NULL;
  Py_RETURN_NONE;
}

static PyObject *osem_get_num_rays(osem_object *self, PyObject *unused)
{
  return PyLong_FromLong(self->proj.num_rays);
}

static PyObject *osem_add_tof(osem_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"tof_width_ps", "tof_num_std", NULL};
  PyObject *w = NULL, *n = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:addTOF", kwlist, &w, &n)) return NULL;
  if (set_tof(self, w, NULL) != 0 || set_tof_nstd(self, n, NULL) != 0) return NULL;
  Py_RETURN_NONE;
}

static PyObject *osem_set_lm_enabled(osem_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"enabled", NULL};
  int enabled = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "p:setListModeEnabled", kwlist, &enabled)) return NULL;
  if (osem_not_busy(self, "setListModeEnabled") != 0) return NULL;
  self->lm_enabled = enabled != 0;
  Py_RETURN_NONE;
}

static PyObject *osem_is_lm_enabled(osem_object *self, PyObject *unused)
{
  return PyBool_FromLong(self->lm_enabled);
}

static PyObject *osem_expected_sens(osem_object *self, PyObject *unused)
{
  return PyLong_FromLong(expected_sens(self));
}

static PyObject *osem_get_data(osem_object *self, PyObject *unused)
{
  return Py_NewRef(self->data ? self->data : Py_None);
}

static PyObject *osem_get_image_params(osem_object *self, PyObject *unused)
{
  return Py_NewRef(self->img_params ? self->img_params : Py_None);
}

static PyObject *osem_get_projector_params(osem_object *self, PyObject *unused)
{
  PyObject *pp = PyObject_CallOneArg((PyObject *)&py_proj_params_type, self->scanner);
  if (pp != NULL) ((py_proj_params_object *)pp)->p = self->proj;
  return pp;
}

static PyObject *osem_summary(osem_object *self, PyObject *unused)
{
  char alg[192]; /* PyUnicode_FromFormat has no %g */
  snprintf(alg, sizeof alg, "%s (prior %s, beta %g, gamma %g, epsilon %g; relaxation %g, eta %g)",
           pet_osem_algorithm_name(self->algorithm), pet_prior_kind_name(self->prior.kind), (double)self->prior.beta,
           (double)self->prior.gamma, (double)self->prior.epsilon, (double)self->relaxation,
           (double)self->relaxation_eta);
  PyObject *text = PyUnicode_FromFormat(
      "Number of iterations: %d\nNumber of subsets: %d\nUses List-Mode data as input: %s\n"
      "Projector: %s (%d ray(s))\nBackend: %s\nAlgorithm: %s\n",
      (int)self->iterations, (int)self->subsets, self->lm_enabled ? "yes" : "no",
      py_projector_kind_name(&self->proj), (int)self->proj.num_rays, self->use_gpu ? "GPU" : "CPU", alg);
  if (text == NULL) return NULL;
  int rc = PyFile_WriteObject(text, PySys_GetObject("stdout"), Py_PRINT_RAW);
  Py_DECREF(text);
  if (rc != 0) return NULL;
  Py_RETURN_NONE;
}

/* ---- regularised reconstruction ---- */

static PyObject *osem_set_algorithm(osem_object *self, PyObject *name)
{
  if (osem_not_busy(self, "setAlgorithm") != 0) return NULL;
  const char *s = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
  if (s == NULL) {
    if (!PyErr_Occurred())
      PyErr_Format(PyExc_TypeError, "setAlgorithm: expected 'osem', 'osl' or 'bsrem', got '%.100s'",
                   Py_TYPE(name)->tp_name);
    return NULL;
  }
  pet_osem_algorithm a;
  if (py_check(pet_osem_algorithm_parse(s, &a)) != 0) return NULL;
  self->algorithm = a;
  Py_RETURN_NONE;
}

static PyObject *osem_set_prior(osem_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"name", "beta", "gamma", "epsilon", NULL};
  const char *name = NULL;
  pet_prior_params p = pet_prior_params_default();
  double beta = 0.0, gamma = p.gamma, eps = p.epsilon;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|ddd:setPrior", kwlist, &name, &beta, &gamma, &eps)) return NULL;
  if (osem_not_busy(self, "setPrior") != 0) return NULL;
  if (py_check(pet_prior_kind_parse(name, &p.kind)) != 0) return NULL;
  p.beta = (float)beta;
  p.gamma = (float)gamma;
  p.epsilon = (float)eps;
  if (py_check(pet_prior_params_check(&p)) != 0) return NULL;
  self->prior = p;
  Py_RETURN_NONE;
}

static PyObject *osem_set_relaxation(osem_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"relaxation", "eta", NULL};
  double r = 1.0, eta = self->relaxation_eta;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "d|d:setRelaxation", kwlist, &r, &eta)) return NULL;
  if (osem_not_busy(self, "setRelaxation") != 0) return NULL;
  if (!(isfinite(r) && r > 0.0) || !(isfinite(eta) && eta >= 0.0))
    return py_raise_status(PET_ERROR(PET_ERR_CONFIG,
                                     "setRelaxation: relaxation must be finite and > 0 and eta finite and >= 0 "
                                     "(got %g, %g)",
                                     r, eta));
  self->relaxation = (float)r;
  self->relaxation_eta = (float)eta;
  Py_RETURN_NONE;
}

static PyObject *osem_penalty(osem_object *self, PyObject *img)
{
  pet_image *x = py_image_get(img, "penalty");
  if (x == NULL) return NULL;
  double u = 0.0;
  if (py_check(pet_prior_value(&self->prior, x, &u)) != 0) return NULL;
  return PyFloat_FromDouble(u);
}

static PyObject *osem_penalty_gradient(osem_object *self, PyObject *img)
{
  pet_image *x = py_image_get(img, "penaltyGradient");
  if (x == NULL) return NULL;
  if (py_check(pet_image_require(x, PET_HOST)) != 0) return NULL;
  PyObject *out = py_image_owned_new(&x->params);
  if (out == NULL) return NULL;
  if (py_check(pet_prior_gradient(&self->prior, x, ((py_image_object *)out)->img)) != 0) {
    Py_DECREF(out);
    return NULL;
  }
  return out;
}

/* Read-only views of the regularisation settings (closure: which one). */
static PyObject *get_regularisation(osem_object *self, void *which)
{
  switch ((int)(intptr_t)which) {
  case 0: return PyUnicode_FromString(pet_osem_algorithm_name(self->algorithm));
  case 1: return PyUnicode_FromString(pet_prior_kind_name(self->prior.kind));
  case 2: return PyFloat_FromDouble(self->prior.beta);
  case 3: return PyFloat_FromDouble(self->prior.gamma);
  case 4: return PyFloat_FromDouble(self->prior.epsilon);
  case 5: return PyFloat_FromDouble(self->relaxation);
  default: return PyFloat_FromDouble(self->relaxation_eta);
  }
}

static PyObject *osem_add_gauss_psf(osem_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"fwhm_x", "fwhm_y", "fwhm_z", NULL};
  double fx, fy, fz;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "ddd:addUniformGaussianImagePSFFromFWHM", kwlist,
                                   &fx, &fy, &fz))
    return NULL;
  if (fx != fy || fy != fz)
    return py_raise_status(PET_ERROR(PET_ERR_UNSUPPORTED,
                                     "addUniformGaussianImagePSFFromFWHM: petrel's image-space PSF "
                                     "is isotropic (psfFWHM); an anisotropic Gaussian (%g, %g, "
                                     "%g mm) is not supported",
                                     fx, fy, fz));
  PyObject *v = PyFloat_FromDouble(fx);
  if (v == NULL) return NULL;
  int rc = set_psf(self, v, NULL);
  Py_DECREF(v);
  if (rc != 0) return NULL;
  Py_RETURN_NONE;
}

/* Names of YRT-PET's OSEM that petrel has no feature for: they raise NotImplementedError
 * naming the feature. */
static PyObject *unsupported(const char *name, const char *feature)
{
  return py_raise_status(PET_ERROR(PET_ERR_UNSUPPORTED, "%s: petrel has no %s", name, feature));
}
#define OSEM_UNSUPPORTED(fn, feature)                                                            \
  static PyObject *osem_##fn(osem_object *self, PyObject *args, PyObject *kwds)                  \
  {                                                                                              \
    return unsupported(#fn, feature);                                                            \
  }
OSEM_UNSUPPORTED(addProjPSF, "projection-space PSF (use the image-space psfFWHM)")
OSEM_UNSUPPORTED(addImagePSF, "file-based (CSV) or spatially variant image-space PSF (use "
                              "psfFWHM / addUniformGaussianImagePSFFromFWHM)")
OSEM_UNSUPPORTED(setSaveIterRanges, "saving of intermediate iterations (RangeList)")
OSEM_UNSUPPORTED(setMaskImage, "reconstruction mask")
OSEM_UNSUPPORTED(setHBasis, "low-rank (LR) dynamic reconstruction")
OSEM_UNSUPPORTED(getHBasis, "low-rank (LR) dynamic reconstruction")
OSEM_UNSUPPORTED(setHBasisFromNumpy, "low-rank (LR) dynamic reconstruction")
OSEM_UNSUPPORTED(getHBasisNumpy, "low-rank (LR) dynamic reconstruction")
OSEM_UNSUPPORTED(setUpdateH, "low-rank (LR) dynamic reconstruction")
OSEM_UNSUPPORTED(getUpdateH, "low-rank (LR) dynamic reconstruction")
OSEM_UNSUPPORTED(setProjectorUpdaterType, "projector updaters (dynamic / low-rank reconstruction)")
OSEM_UNSUPPORTED(getProjectorUpdaterType, "projector updaters (dynamic / low-rank reconstruction)")

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
     "Reconstruct with the GPU backend (CUDA) of pet_osem_run (createOSEM's use_gpu). "
     "Setting True without a GPU raises RuntimeError.", NULL},
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
    {"hardThreshold", (getter)get_hard_threshold, (setter)set_hard_threshold,
     "Voxels of the sensitivity images generateSensitivityImages makes that are <= this are set "
     "to 0 (left out of the reconstruction). YRT-PET's default 1.0.", NULL},
    {"initialValue", (getter)get_initial_value, (setter)set_initial_value,
     "Value of the uniform initial image when no initial estimate is set (> 0; default 0.125, "
     "YRT-PET's INITIAL_VALUE_MLEM). A petrel name.", NULL},
    {"initialEstimate", (getter)get_initial, (setter)set_initial_attr,
     "The initial image (same as setInitialEstimate), or None for a uniform initialValue.", NULL},
    {"projectorType", (getter)get_projector, (setter)set_projector_attr,
     "YRT-PET's projector choice: \"S\" (OperatorProjector.SIDDON), \"DD\" "
     "(OperatorProjector.DD) or \"MRS\"; same as projector.", NULL},
    {"maskImage", (getter)get_mask, (setter)set_mask,
     "Always None: setting an image raises NotImplementedError (petrel has no reconstruction "
     "mask).", NULL},
    {"dataInput", (getter)get_data, NULL, "The data of setDataInput, or None.", NULL},
    {"scanner", (getter)get_scanner, NULL, "The Scanner.", NULL},
    {"algorithm", (getter)get_regularisation, NULL, "'osem', 'osl' or 'bsrem' (setAlgorithm).", (void *)0},
    {"prior", (getter)get_regularisation, NULL, "'none', 'rdp' or 'quadratic' (setPrior).", (void *)1},
    {"beta", (getter)get_regularisation, NULL, "The prior's penalisation factor (setPrior).", (void *)2},
    {"gamma", (getter)get_regularisation, NULL, "The RDP's edge preservation (setPrior).", (void *)3},
    {"epsilon", (getter)get_regularisation, NULL, "The RDP's epsilon (setPrior).", (void *)4},
    {"relaxation", (getter)get_regularisation, NULL, "BSREM's relaxation (setRelaxation).", (void *)5},
    {"relaxationEta", (getter)get_regularisation, NULL, "BSREM's relaxation decay (setRelaxation).", (void *)6},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef osem_methods[] = {
    {"setAlgorithm", (PyCFunction)osem_set_algorithm, METH_O,
     "setAlgorithm($self, name, /)\n--\n\n'osem' (default), 'osl' (one-step-late MAP-OSEM, Green 1990) or "
     "'bsrem' (De Pierro & Yamagishi 2001): the last two maximise the log-likelihood minus the prior."},
    {"setPrior", PY_METH(osem_set_prior), METH_VARARGS | METH_KEYWORDS,
     "setPrior($self, name, beta=0.0, gamma=2.0, epsilon=1e-7)\n--\n\nThe penalty: 'none', 'rdp' (relative "
     "difference, STIR's definition) or 'quadratic', with its penalisation factor beta (STIR's "
     "'penalisation factor'); gamma and epsilon are the RDP's."},
    {"setRelaxation", PY_METH(osem_set_relaxation), METH_VARARGS | METH_KEYWORDS,
     "setRelaxation($self, relaxation, eta=0.1)\n--\n\nBSREM's step in iteration k: relaxation / (1 + eta k)."},
    {"penalty", (PyCFunction)osem_penalty, METH_O,
     "penalty($self, image, /)\n--\n\nThe prior's value U(image) (a host image), in double."},
    {"penaltyGradient", (PyCFunction)osem_penalty_gradient, METH_O,
     "penaltyGradient($self, image, /)\n--\n\nA new ImageOwned: dU/dx of the prior at the host image."},
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
    {"setSensitivityImage", PY_METH(osem_set_sens), METH_VARARGS | METH_KEYWORDS,
     "setSensitivityImage($self, /, sens_image, subset=None)\n--\n\nWith subset (YRT-PET): the "
     "sensitivity A_s^T m of that subset (0 for list-mode). Without: the full sensitivity A^T m "
     "(a histogram subset uses 1/num_OSEM_subsets of it, as petrel recon does; with one subset "
     "or list-mode the same as subset=0). Sets the image grid when setImageParams was not "
     "called; ValueError for an image of another grid. None: computed by reconstruct."},
    {"setSensitivityImages", (PyCFunction)osem_set_sens_images, METH_O,
     "setSensitivityImages($self, images, /)\n--\n\nPer-subset sensitivities A_s^T m (one per "
     "histogram subset; one image for list-mode), as generateSensitivityImages makes them."},
    {"getSensitivityImages", (PyCFunction)osem_get_sens_images, METH_NOARGS,
     "getSensitivityImages($self, /)\n--\n\nReturns list: The sensitivity images set or generated."},
    {"generateSensitivityImages", PY_METH(osem_generate_sens), METH_VARARGS | METH_KEYWORDS,
     "generateSensitivityImages($self, /, out_fname='', saveToMemory=True, params=None)\n--\n\n"
     "Computes (pet_osem_sensitivity) and keeps the sensitivity images on the grid of "
     "setImageParams (or params): one per subset for a histogram (or no data), one for "
     "list-mode; voxels <= hardThreshold are set to 0. With out_fname, also writes them "
     "(\"<stem>_subset<k><ext>\" when there are several). Returns them as a list of ImageOwned "
     "(an empty list with saveToMemory=False). Releases the GIL."},
    {"setInitialEstimate", (PyCFunction)osem_set_initial, METH_O,
     "setInitialEstimate($self, image, /)\n--\n\nStarting image (copied into the output at "
     "reconstruct; same grid). None: a uniform 1."},
    {"setImageParams", (PyCFunction)osem_set_image_params, METH_O,
     "setImageParams($self, params, /)\n--\n\nThe grid for generateSensitivityImages."},
    {"reconstruct", PY_METH(osem_reconstruct), METH_VARARGS | METH_KEYWORDS,
     "reconstruct($self, /, out_fname=None)\n--\n\nRuns OSEM (pet_osem_run, on the GPU with "
     "use_gpu) from the initial estimate (or a uniform initialValue). As YRT-PET: without "
     "an argument returns a new ImageOwned on the grid of setImageParams (or of the sensitivity "
     "images); with a file name also writes it there (NIfTI). With an image (an "
     "allocated/bound host image; with use_gpu a device image too) reconstructs into it and "
     "returns it; ValueError when its grid differs from setImageParams'. Releases the GIL; "
     "Ctrl-C stops it between subsets (KeyboardInterrupt).\nRuntimeError without data or "
     "grid, ValueError for inconsistent inputs (grids, subsets, corrections that are negative "
     "or not finite)."},
    {"setSensitivityHistogram", (PyCFunction)osem_set_sens_his, METH_O,
     "setSensitivityHistogram($self, sens_his, /)\n--\n\nPer-bin sensitivity (normalisation) "
     "factors, a Histogram3D of this scanner (held): multiplied into m. None clears."},
    {"getSensitivityHistogram", (PyCFunction)osem_get_sens_his, METH_NOARGS,
     "getSensitivityHistogram($self, /)\n--\n\nThe histogram of setSensitivityHistogram, or None."},
    {"setInvertSensitivity", PY_METH(osem_set_invert_sens), METH_VARARGS | METH_KEYWORDS,
     "setInvertSensitivity($self, /, invert=True)\n--\n\nUse 1 / sensitivity histogram (0 "
     "stays 0)."},
    {"setGlobalScalingFactor", PY_METH(osem_set_global_scale), METH_VARARGS | METH_KEYWORDS,
     "setGlobalScalingFactor($self, /, global_scale)\n--\n\nMultiplies m by global_scale (> 0)."},
    {"setACFHistogram", (PyCFunction)osem_set_acf, METH_O,
     "setACFHistogram($self, acf_his, /)\n--\n\nPer-bin attenuation factors (exp(-integral of mu), "
     "in (0, 1]), a Histogram3D: multiplied into m. None clears."},
    {"setInVivoACFHistogram", (PyCFunction)osem_set_acf_invivo, METH_O,
     "setInVivoACFHistogram($self, acf_invivo_his, /)\n--\n\nAs setACFHistogram (the factors "
     "multiply)."},
    {"setHardwareACFHistogram", (PyCFunction)osem_set_acf_hw, METH_O,
     "setHardwareACFHistogram($self, acf_hardware_his, /)\n--\n\nAs setACFHistogram (the "
     "factors multiply)."},
    {"setAttenuationImage", (PyCFunction)osem_set_att, METH_O,
     "setAttenuationImage($self, att_image, /)\n--\n\nA mu-map (host image, 1/mm): m *= "
     "exp(-A mu), A the Siddon projector (as petrel recon's attenuation_image). None clears."},
    {"setInVivoAttenuationImage", (PyCFunction)osem_set_att_invivo, METH_O,
     "setInVivoAttenuationImage($self, att_invivo, /)\n--\n\nAs setAttenuationImage (the "
     "factors multiply)."},
    {"setHardwareAttenuationImage", (PyCFunction)osem_set_att_hw, METH_O,
     "setHardwareAttenuationImage($self, att_hardware, /)\n--\n\nAs setAttenuationImage."},
    {"setRandomsHistogram", (PyCFunction)osem_set_randoms, METH_O,
     "setRandomsHistogram($self, randoms_his, /)\n--\n\nPer-bin randoms estimate in counts, a "
     "Histogram3D: added to a. None clears."},
    {"setScatterHistogram", (PyCFunction)osem_set_scatter, METH_O,
     "setScatterHistogram($self, scatter_his, /)\n--\n\nPer-bin scatter estimate in counts: "
     "added to a. None clears."},
    {"setNumRays", (PyCFunction)osem_set_num_rays, METH_O,
     "setNumRays($self, num_rays, /)\n--\n\nRays per LOR (same as numRays = num_rays)."},
    {"getNumRays", (PyCFunction)osem_get_num_rays, METH_NOARGS,
     "getNumRays($self, /)\n--\n\nReturns int: numRays."},
    {"addTOF", PY_METH(osem_add_tof), METH_VARARGS | METH_KEYWORDS,
     "addTOF($self, /, tof_width_ps, tof_num_std)\n--\n\nTurns TOF on: tofWidth_ps = "
     "tof_width_ps (FWHM), tofNumStd = tof_num_std (list-mode with TOF only)."},
    {"setListModeEnabled", PY_METH(osem_set_lm_enabled), METH_VARARGS | METH_KEYWORDS,
     "setListModeEnabled($self, /, enabled)\n--\n\nWhether the data will be list-mode (one "
     "sensitivity image); setDataInput sets it from the data."},
    {"isListModeEnabled", (PyCFunction)osem_is_lm_enabled, METH_NOARGS,
     "isListModeEnabled($self, /)\n--\n\nTrue for a list-mode reconstruction."},
    {"getExpectedSensImagesAmount", (PyCFunction)osem_expected_sens, METH_NOARGS,
     "getExpectedSensImagesAmount($self, /)\n--\n\nReturns int: 1 for list-mode, else "
     "num_OSEM_subsets."},
    {"getDataInput", (PyCFunction)osem_get_data, METH_NOARGS,
     "getDataInput($self, /)\n--\n\nThe data of setDataInput, or None."},
    {"getImageParams", (PyCFunction)osem_get_image_params, METH_NOARGS,
     "getImageParams($self, /)\n--\n\nThe ImageParams of setImageParams, or None."},
    {"getProjectorParams", (PyCFunction)osem_get_projector_params, METH_NOARGS,
     "getProjectorParams($self, /)\n--\n\nReturns ProjectorParams: A copy of the projector "
     "settings."},
    {"summary", (PyCFunction)osem_summary, METH_NOARGS,
     "summary($self, /)\n--\n\nPrints the iterations, subsets, data kind, projector and backend."},
    {"addUniformGaussianImagePSFFromFWHM", PY_METH(osem_add_gauss_psf), METH_VARARGS | METH_KEYWORDS,
     "addUniformGaussianImagePSFFromFWHM($self, /, fwhm_x, fwhm_y, fwhm_z)\n--\n\nImage-space "
     "Gaussian PSF (mm): psfFWHM = fwhm when the three are equal; NotImplementedError otherwise "
     "(petrel's PSF is isotropic)."},
#define OSEM_UNSUPPORTED_DEF(fn, sig)                                                            \
  {#fn, PY_METH(osem_##fn), METH_VARARGS | METH_KEYWORDS,                                        \
   #fn "($self, /, *args, **kwargs)\n--\n\nRaises NotImplementedError: " sig}
    OSEM_UNSUPPORTED_DEF(addProjPSF, "petrel has no projection-space PSF."),
    OSEM_UNSUPPORTED_DEF(addImagePSF, "petrel has no file-based image-space PSF (use psfFWHM)."),
    OSEM_UNSUPPORTED_DEF(setSaveIterRanges, "petrel does not save intermediate iterations."),
    OSEM_UNSUPPORTED_DEF(setMaskImage, "petrel has no reconstruction mask."),
    OSEM_UNSUPPORTED_DEF(setHBasis, "no low-rank reconstruction in petrel."),
    OSEM_UNSUPPORTED_DEF(getHBasis, "no low-rank reconstruction in petrel."),
    OSEM_UNSUPPORTED_DEF(setHBasisFromNumpy, "no low-rank reconstruction in petrel."),
    OSEM_UNSUPPORTED_DEF(getHBasisNumpy, "no low-rank reconstruction in petrel."),
    OSEM_UNSUPPORTED_DEF(setUpdateH, "no low-rank reconstruction in petrel."),
    OSEM_UNSUPPORTED_DEF(getUpdateH, "no low-rank reconstruction in petrel."),
    OSEM_UNSUPPORTED_DEF(setProjectorUpdaterType, "no projector updaters in petrel."),
    OSEM_UNSUPPORTED_DEF(getProjectorUpdaterType, "no projector updaters in petrel."),
    {NULL, NULL, 0, NULL}};

static PyTypeObject osem_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.OSEM",
    .tp_basicsize = sizeof(osem_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "OSEM(scanner, use_gpu=False, is_low_rank=False)\n--\n\n"
              "OSEM reconstruction (YRT-PET's OSEM): x <- x / S_s * A_s^T(m y / (m A_s x + a)).\n"
              "setProjector, num_MLEM_iterations, num_OSEM_subsets, setDataInput,\n"
              "setMultiplicativeCorrection / setAdditiveCorrection (per-bin float32 arrays),\n"
              "setSensitivityImage(s) / generateSensitivityImages, setInitialEstimate, psfFWHM,\n"
              "use_gpu, then reconstruct() (a new image) or reconstruct(out_image). YRT-PET's\n"
              "defaults: 10 iterations, 1 subset, hardThreshold 1, initial value 0.125.\n"
              "use_gpu=True without a GPU raises RuntimeError. The same computation as\n"
              "petrel recon.",
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
    "createOSEM(scanner, use_gpu=False, is_low_rank=False)\n--\n\nReturns OSEM: YRT-PET's "
    "factory, same as "
    "OSEM(scanner, use_gpu) (the older keyword useGPU is accepted too). RuntimeError naming "
    "what is missing when use_gpu=True and this build or machine has no GPU."};

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
