/* petrel Python module: YRT-PET's module-level helpers (createOperatorProjector, forwProject,
 * backProject, histogram3DToListModeLUT, convertToHistogram3D), projector-type constants, and
 * the names of YRT-PET's API that petrel has no feature for: calling them raises
 * NotImplementedError naming the feature, so that a YRT-PET script fails where it needs one. */
#include "py_common.h" /* first: Python.h must precede the system headers */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pet_histogram.h"
#include "pet_listmode.h"

static PyObject *module_ref; /* borrowed: the module outlives its functions */

static PyObject *module_attr(const char *name) { return PyObject_GetAttrString(module_ref, name); }

/* ---- projector helpers ------------------------------------------------------------------- */

/* OperatorProjectorDD or OperatorProjectorSiddon for params (a ProjectorParams). */
static PyObject *make_operator(PyObject *params, PyObject *bin_iter)
{
  const char *kind = py_projector_kind_name(&((py_proj_params_object *)params)->p);
  PyObject *cls = module_attr(strcmp(kind, "DD") == 0 ? "OperatorProjectorDD" : "OperatorProjectorSiddon");
  if (cls == NULL) return NULL;
  PyObject *op = bin_iter == Py_None ? PyObject_CallOneArg(cls, params)
                                     : PyObject_CallFunctionObjArgs(cls, params, bin_iter, NULL);
  Py_DECREF(cls);
  return op;
}

static PyObject *create_operator_projector(PyObject *mod, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"proj_params", "bin_iter", "constraints", NULL};
  PyObject *params = NULL, *bin_iter = Py_None, *constraints = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|OO:createOperatorProjector", kwlist,
                                   &py_proj_params_type, &params, &bin_iter, &constraints))
    return NULL;
  if (constraints != Py_None) {
    Py_ssize_t n = PyObject_Length(constraints);
    if (n < 0) return NULL;
    if (n > 0)
      return py_raise_status(PET_ERROR(PET_ERR_UNSUPPORTED,
                                       "createOperatorProjector: petrel has no bin constraints "
                                       "(constraints must be empty)"));
  }
  return make_operator(params, bin_iter);
}

/* forwProject / backProject in YRT-PET's three forms:
 *   (scanner, img, proj_data, projector_type="S", use_gpu=False)
 *   (scanner, img, proj_data, bin_iter, projector_type="S", use_gpu=False)
 *   (img, proj_data, proj_params, bin_iter, use_gpu=False) */
static PyObject *project(PyObject *args, PyObject *kwds, bool forward)
{
  const char *name = forward ? "forwProject" : "backProject";
  PyObject *scanner = NULL, *img = NULL, *data = NULL, *bin_iter = Py_None, *params = NULL;
  PyObject *ptype = NULL;
  int use_gpu = 0;
  PyObject *op = NULL, *r = NULL;
  const bool scanner_form = PyTuple_GET_SIZE(args) > 0 &&
                            PyObject_TypeCheck(PyTuple_GET_ITEM(args, 0), &py_scanner_type);
  if (scanner_form) {
    static char *kw_scanner[] = {"scanner", "img", "proj_data", "bin_iter", "projector_type",
                                 "use_gpu", NULL};
    PyObject *fourth = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|OOp", kw_scanner, &scanner, &img, &data,
                                     &fourth, &ptype, &use_gpu))
      return NULL;
    /* the 4th positional is the bin iterator or, in the first form, the projector type */
    if (fourth != Py_None && !PyObject_TypeCheck(fourth, &py_bin_iter_type)) {
      if (ptype != NULL) {
        PyErr_Format(PyExc_TypeError, "%s: bin_iter must be a BinIter", name);
        return NULL;
      }
      ptype = fourth;
    } else {
      bin_iter = fourth;
    }
    if (kwds != NULL && PyDict_GetItemString(kwds, "projectorType") != NULL) {
      PyErr_Format(PyExc_TypeError, "%s: use projector_type=", name);
      return NULL;
    }
    params = PyObject_CallOneArg((PyObject *)&py_proj_params_type, scanner);
    if (params == NULL) return NULL;
    if (ptype != NULL && ptype != Py_None) {
      PyObject *s = PyObject_CallMethod(params, "setProjector", "O", ptype);
      if (s == NULL) goto out;
      Py_DECREF(s);
    }
  } else {
    static char *kw_params[] = {"img", "proj_data", "proj_params", "bin_iter", "use_gpu", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO!O|p", kw_params, &img, &data,
                                     &py_proj_params_type, &params, &bin_iter, &use_gpu))
      return NULL;
    Py_INCREF(params);
  }
  if (use_gpu) {
    r = py_raise_status(PET_ERROR(PET_ERR_UNSUPPORTED,
                                  "%s(use_gpu=True): petrel projects on the GPU through "
                                  "OperatorProjectorDD_GPU / OperatorProjectorSiddon_GPU with a "
                                  "ProjectionListDevice",
                                  name));
    goto out;
  }
  op = make_operator(params, bin_iter);
  if (op == NULL) goto out;
  r = forward ? PyObject_CallMethod(op, "applyA", "OO", img, data)
              : PyObject_CallMethod(op, "applyAH", "OO", data, img);
out:
  Py_XDECREF(op);
  Py_XDECREF(params);
  return r;
}

static PyObject *forw_project(PyObject *mod, PyObject *args, PyObject *kwds)
{
  return project(args, kwds, true);
}

static PyObject *back_project(PyObject *mod, PyObject *args, PyObject *kwds)
{
  return project(args, kwds, false);
}

/* ---- histogram <-> list-mode ------------------------------------------------------------- */

typedef struct to_lm_args {
  const pet_histo_layout *L;
  const float *bins;
  int64_t num_events; /* 0: the histogram's sum */
  pet_listmode *lm;   /* result */
} to_lm_args;

/* YRT-PET's histogram3DToListModeLUT: bin b gets lround(h[b] / sum * num_events) events of its
 * detector pair (time 0), in bin order. */
static pet_status histo_to_lm(to_lm_args *a)
{
  const int64_t n = a->L->num_bins;
  double sum = 0.0;
  for (int64_t b = 0; b < n; ++b) sum += a->bins[b];
  PET_CHECK(sum > 0.0, PET_ERR_ARG, "histogram3DToListModeLUT: the histogram sums to %g", sum);
  const double target = a->num_events > 0 ? (double)a->num_events : (double)llround(sum);
  int64_t total = 0;
  for (int64_t b = 0; b < n; ++b) total += (int64_t)llround(a->bins[b] / sum * target);
  PET_TRY(pet_listmode_create_owned(&a->lm, total, false));
  int64_t e = 0;
  for (int64_t b = 0; b < n; ++b) {
    if (a->bins[b] == 0.0f) continue;
    const int64_t k = (int64_t)llround(a->bins[b] / sum * target);
    if (k <= 0) continue;
    int32_t d1 = 0, d2 = 0;
    PET_TRY(pet_histo_bin_to_dets(a->L, b, &d1, &d2, NULL));
    for (int64_t i = 0; i < k; ++i, ++e) {
      a->lm->time_ms[e] = 0;
      a->lm->d1[e] = (uint32_t)d1;
      a->lm->d2[e] = (uint32_t)d2;
    }
  }
  return PET_OK;
}

static PyObject *histogram3d_to_listmode(PyObject *mod, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"histo", "lm_out", "num_events", NULL};
  PyObject *his = NULL, *lm_obj = NULL;
  long long num_events = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!|L:histogram3DToListModeLUT", kwlist,
                                   &py_histogram_type, &his, &py_listmode_type, &lm_obj,
                                   &num_events))
    return NULL;
  py_histogram_object *h = (py_histogram_object *)his;
  py_listmode_object *l = (py_listmode_object *)lm_obj;
  if (l->lm->ownership != PET_OWNED || l->has_tof)
    return py_raise_status(PET_ERROR(PET_ERR_ARG, "histogram3DToListModeLUT: lm_out must be a "
                                     "ListModeLUTOwned without TOF"));
  if (h->base.scanner != l->base.scanner)
    return py_raise_status(PET_ERROR(PET_ERR_ARG, "histogram3DToListModeLUT: the histogram and "
                                     "the list-mode belong to different Scanners"));
  if (num_events < 0)
    return py_raise_status(PET_ERROR(PET_ERR_ARG, "histogram3DToListModeLUT: num_events must "
                                     "be >= 0, got %lld", num_events));
  if (py_check(pet_histogram_require(h->h)) != 0) return NULL;
  if (py_check_unpinned(l->base.pins, "histogram3DToListModeLUT(lm_out)") != 0) return NULL;
  to_lm_args a = {h->h->layout, h->h->data, num_events, NULL};
  pet_status st;
  ++h->base.pins;
  Py_BEGIN_ALLOW_THREADS
  st = histo_to_lm(&a);
  Py_END_ALLOW_THREADS
  --h->base.pins;
  if (st != PET_OK) {
    pet_listmode_destroy(&a.lm);
    return py_raise_status(st);
  }
  pet_listmode_destroy(&l->lm);
  l->lm = a.lm;
  Py_RETURN_NONE;
}

typedef struct to_his_args {
  const pet_histo_layout *L;
  const pet_listmode *lm;
  float *bins;
  int64_t skipped;
} to_his_args;

static pet_status lm_to_histo(to_his_args *a)
{
  for (int64_t e = 0; e < a->lm->num_events; ++e) {
    int64_t bin = 0;
    if (pet_histo_dets_to_bin(a->L, (int32_t)a->lm->d1[e], (int32_t)a->lm->d2[e], &bin) != PET_OK) {
      ++a->skipped; /* a pair the histogram has no bin for */
      continue;
    }
    a->bins[bin] += 1.0f;
  }
  pet_error_clear();
  return PET_OK;
}

/* convertToHistogram3D(listmode_input, histo_out=None, detector_mask=None): adds one count per
 * event to histo_out's bin of its detector pair (events of pairs without a bin are skipped);
 * without histo_out returns a new Histogram3DOwned. A Histogram3D input is copied. */
static PyObject *convert_to_histogram3d(PyObject *mod, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"listmode_input", "histo_out", "detector_mask", NULL};
  PyObject *in = NULL, *out = Py_None, *mask = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OO:convertToHistogram3D", kwlist, &in, &out,
                                   &mask))
    return NULL;
  if (mask != Py_None)
    return py_raise_status(PET_ERROR(PET_ERR_UNSUPPORTED,
                                     "convertToHistogram3D: petrel has no DetectorMask objects "
                                     "(a scanner JSON's detMask is applied by the reconstruction)"));
  if (!PyObject_TypeCheck(in, &py_projdata_type)) {
    PyErr_Format(PyExc_TypeError, "convertToHistogram3D: expected a ListModeLUT or Histogram3D, "
                 "got '%.100s'", Py_TYPE(in)->tp_name);
    return NULL;
  }
  PyObject *scanner = ((py_projdata_object *)in)->scanner;
  PyObject *result = NULL;
  if (out == Py_None) {
    PyObject *cls = module_attr("Histogram3DOwned");
    if (cls == NULL) return NULL;
    result = PyObject_CallOneArg(cls, scanner);
    Py_DECREF(cls);
    if (result == NULL) return NULL;
    PyObject *r = PyObject_CallMethod(result, "allocate", NULL);
    if (r == NULL) {
      Py_DECREF(result);
      return NULL;
    }
    Py_DECREF(r);
    out = result;
  } else if (!PyObject_TypeCheck(out, &py_histogram_type)) {
    PyErr_Format(PyExc_TypeError, "convertToHistogram3D: histo_out must be a Histogram3D, got "
                 "'%.100s'", Py_TYPE(out)->tp_name);
    return NULL;
  } else if (((py_projdata_object *)out)->scanner != scanner) {
    return py_raise_status(PET_ERROR(PET_ERR_ARG, "convertToHistogram3D: the input and histo_out "
                                     "belong to different Scanners"));
  }
  py_histogram_object *h = (py_histogram_object *)out;
  if (py_check(pet_histogram_require(h->h)) != 0) goto fail;
  if (PyObject_TypeCheck(in, &py_histogram_type)) {
    py_histogram_object *src = (py_histogram_object *)in;
    if (py_check(pet_histogram_require(src->h)) != 0) goto fail;
    memmove(h->h->data, src->h->data, (size_t)h->h->layout->num_bins * sizeof(float));
  } else {
    py_listmode_object *l = (py_listmode_object *)in;
    if (py_check(pet_listmode_require(l->lm)) != 0) goto fail;
    to_his_args a = {h->h->layout, l->lm, h->h->data, 0};
    ++l->base.pins;
    ++h->base.pins;
    Py_BEGIN_ALLOW_THREADS
    lm_to_histo(&a);
    Py_END_ALLOW_THREADS
    --l->base.pins;
    --h->base.pins;
  }
  if (result != NULL) return result;
  Py_RETURN_NONE;
fail:
  Py_XDECREF(result);
  return NULL;
}

/* ---- names without a petrel feature ------------------------------------------------------- */

typedef struct unsupported_name {
  const char *name;
  const char *feature;
} unsupported_name;

/* YRT-PET names (pyyrtpet) that petrel has no feature for; the README's Python section lists
 * them. */
static const unsupported_name UNSUPPORTED[] = {
    {"DynamicFraming", "dynamic-framing objects (petrel recon reads a .dyn framing file)"},
    {"LORMotion", "motion correction (LORMotion)"},
    {"timeAverageMoveImage", "motion correction (time-averaged moved images)"},
    {"timeAverageMoveImageDynamic", "motion correction (time-averaged moved images)"},
    {"getFullTimeRange", "motion correction (LORMotion time ranges)"},
    {"fromRotationAndTranslationVectors", "rigid transforms (motion correction)"},
    {"RangeList", "saving of intermediate iterations (RangeList)"},
    {"OperatorPsf", "file-based image-space PSF operators (OSEM.psfFWHM is petrel's PSF)"},
    {"OperatorVarPsf", "spatially variant image-space PSF"},
    {"SparseHistogram", "sparse histograms"},
    {"UniformHistogram", "uniform histograms (the sensitivity needs none in petrel)"},
    {"ListModeLUTDOIOwned", "DOI list-mode (.lmDat with layer bytes)"},
    {"ListModeLUTDOIAlias", "DOI list-mode (.lmDat with layer bytes)"},
    {"convertToListModeLUT", "list-mode conversion between list-mode kinds"},
    {"compareListModes", "list-mode comparison"},
    {"generateTORRandomDOI", "tube-of-response DOI sampling"},
    {"DetectorMask", "detector-mask objects (a scanner JSON's detMask is read)"},
    {"Line3D", "geometry objects (Line3D)"},
    {"TubeOfResponse", "geometry objects (TubeOfResponse)"},
    {"MultiRayGenerator", "geometry objects (MultiRayGenerator; OSEM.numRays is petrel's)"},
    {"BinFilter", "bin filters"},
    {"ScatterEstimator", "scatter estimation (give the scatter with setScatterHistogram)"},
    {"SingleScatterSimulator", "scatter estimation (single scatter simulation)"},
    {"ScatterSpace", "scatter estimation (scatter space)"},
    {"Crystal", "scatter estimation (crystal materials)"},
    {"SRTM", "kinetic modelling (SRTM)"},
    {"PluginRegistry", "YRT-PET plugins (e.g. scanner-specific UHR data formats)"},
};

static PyObject *raise_unsupported(PyObject *self, PyObject *args, PyObject *kwds)
{
  /* self is the (name, feature) tuple the function was made with */
  return py_raise_status(PET_ERROR(PET_ERR_UNSUPPORTED, "%s: petrel has no %s",
                                   PyUnicode_AsUTF8(PyTuple_GET_ITEM(self, 0)),
                                   PyUnicode_AsUTF8(PyTuple_GET_ITEM(self, 1))));
}

#define NUM_UNSUPPORTED (sizeof UNSUPPORTED / sizeof UNSUPPORTED[0])
/* one method definition per name, so that each function has its YRT-PET name and a docstring;
 * filled once at module init (the module cannot be re-initialised: m_size = -1) */
static PyMethodDef unsupported_defs[NUM_UNSUPPORTED];
static char unsupported_docs[NUM_UNSUPPORTED][256];

static PyMethodDef compat_methods[] = {
    {"createOperatorProjector", PY_METH(create_operator_projector), METH_VARARGS | METH_KEYWORDS,
     "createOperatorProjector($module, /, proj_params, bin_iter=None, constraints=None)\n--\n\n"
     "Returns OperatorProjector: OperatorProjectorDD or OperatorProjectorSiddon (multi-ray when "
     "numRays > 1) from proj_params, restricted to bin_iter's subset. NotImplementedError for "
     "non-empty constraints."},
    {"forwProject", PY_METH(forw_project), METH_VARARGS | METH_KEYWORDS,
     "forwProject($module, /, *args, **kwargs)\n--\n\nYRT-PET's forward projection helper: "
     "forwProject(scanner, img, proj_data, projector_type='S', use_gpu=False), "
     "forwProject(scanner, img, proj_data, bin_iter, projector_type='S', use_gpu=False) or "
     "forwProject(img, proj_data, proj_params, bin_iter, use_gpu=False); the bins of proj_data "
     "(a Histogram3D) are overwritten. use_gpu=True: NotImplementedError (use the *_GPU "
     "operators)."},
    {"backProject", PY_METH(back_project), METH_VARARGS | METH_KEYWORDS,
     "backProject($module, /, *args, **kwargs)\n--\n\nYRT-PET's back projection helper, in the "
     "forms of forwProject; accumulates into img (list-mode: weight 1 per event)."},
    {"histogram3DToListModeLUT", PY_METH(histogram3d_to_listmode), METH_VARARGS | METH_KEYWORDS,
     "histogram3DToListModeLUT($module, /, histo, lm_out, num_events=0)\n--\n\nFills lm_out (a "
     "ListModeLUTOwned without TOF, reallocated) with round(h[b] / sum(h) * num_events) events "
     "of each bin's detector pair, time 0 (num_events=0: the histogram's sum). Releases the "
     "GIL."},
    {"convertToHistogram3D", PY_METH(convert_to_histogram3d), METH_VARARGS | METH_KEYWORDS,
     "convertToHistogram3D($module, /, listmode_input, histo_out=None, detector_mask=None)\n--\n\n"
     "Adds one count per event to the bin of its detector pair in histo_out (events of pairs "
     "the histogram has no bin for are skipped); without histo_out returns a new "
     "Histogram3DOwned. A Histogram3D input is copied. Releases the GIL."},
    {NULL, NULL, 0, NULL}};

int py_compat_init(PyObject *m)
{
  module_ref = m;
  PyObject *name = PyModule_GetNameObject(m);
  if (name == NULL) return -1;
  int rc = PyModule_AddFunctions(m, compat_methods);
  for (size_t i = 0; rc == 0 && i < NUM_UNSUPPORTED; ++i) {
    snprintf(unsupported_docs[i], sizeof unsupported_docs[i],
             "%s(*args, **kwargs)\n--\n\nRaises NotImplementedError: petrel has no %s.",
             UNSUPPORTED[i].name, UNSUPPORTED[i].feature);
    unsupported_defs[i].ml_name = UNSUPPORTED[i].name;
    unsupported_defs[i].ml_meth = PY_METH(raise_unsupported);
    unsupported_defs[i].ml_flags = METH_VARARGS | METH_KEYWORDS;
    unsupported_defs[i].ml_doc = unsupported_docs[i];
    PyObject *self = Py_BuildValue("(ss)", UNSUPPORTED[i].name, UNSUPPORTED[i].feature);
    PyObject *f = self ? PyCFunction_NewEx(&unsupported_defs[i], self, name) : NULL;
    Py_XDECREF(self);
    if (f == NULL) {
      rc = -1;
      break;
    }
    rc = PyModule_AddObjectRef(m, UNSUPPORTED[i].name, f);
    Py_DECREF(f);
  }
  Py_DECREF(name);
  if (rc != 0) return -1;
  /* YRT-PET's projector types (OperatorProjector.SIDDON, .DD, ProjectorType.*): petrel takes
   * the names setProjector takes */
  PyObject *op = PyObject_GetAttrString(m, "OperatorProjector");
  if (op == NULL) return -1;
  PyObject *pt = PyObject_CallFunction((PyObject *)&PyType_Type, "s(){s:s,s:s,s:s,s:s}",
                                       "ProjectorType", "SIDDON", "S", "DD", "DD", "__doc__",
                                       "YRT-PET's projector types as petrel's names (strings).",
                                       "__module__", "petrel");
  /* a static type is immutable from Python; its dict may be filled from C (then
   * PyType_Modified) */
  PyObject *d = PyObject_TypeCheck(op, &PyType_Type) ? ((PyTypeObject *)op)->tp_dict : NULL;
  rc = (pt != NULL && d != NULL && PyDict_SetItemString(d, "ProjectorType", pt) == 0 &&
        PyDict_SetItemString(d, "SIDDON", PyDict_GetItemString(((PyTypeObject *)pt)->tp_dict, "SIDDON")) == 0 &&
        PyDict_SetItemString(d, "DD", PyDict_GetItemString(((PyTypeObject *)pt)->tp_dict, "DD")) == 0)
           ? 0 : -1;
  if (rc == 0) PyType_Modified((PyTypeObject *)op);
  Py_XDECREF(pt);
  Py_DECREF(op);
  if (rc != 0) return -1;
  PyObject *psf = PyObject_CallFunction((PyObject *)&PyType_Type, "s(){s:i,s:i,s:s,s:s}",
                                        "ImagePSFMode", "UNIFORM", 0, "VARIANT", 1, "__doc__",
                                        "YRT-PET's image-PSF modes (OSEM.addImagePSF raises "
                                        "NotImplementedError in petrel).",
                                        "__module__", "petrel");
  if (psf == NULL) return -1;
  rc = PyModule_AddObjectRef(m, "ImagePSFMode", psf);
  Py_DECREF(psf);
  return rc;
}
