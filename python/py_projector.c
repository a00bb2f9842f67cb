/* petrel Python module: ProjectorParams and the CPU projection operators.
 *
 *   OperatorProjector ─┬─ OperatorProjectorSiddon   (numRays > 1: multi-ray Siddon)
 *                      └─ OperatorProjectorDD       distance-driven
 *
 * applyA(image, histogram) forward-projects into the histogram (overwriting the bins of the
 * operator's subset); applyAH(data, image) back-projects a histogram (its values) or list-mode
 * (weight 1 per event) into the image, accumulating. Both run without the GIL, LOR batch by
 * LOR batch. The GPU operators (OperatorProjector*_GPU) are in py_gpu.c. */
#include "py_common.h" /* first: Python.h must precede the system headers */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <structmember.h>

#include "pet_histogram.h"
#include "pet_listmode.h"
#include "pet_projector.h"
#include "pet_scanner.h"
#include "pet_project_batch.h"
#include "pet_fov.h"

/* LORs per batch: 2 x 24 B of endpoints/normals + 8 B of values and TOF each. */

typedef struct operator_object {
  PyObject_HEAD
  pet_projector_params p;
  PyObject *scanner;
  int32_t num_subsets, subset; /* 1, 0: everything */
} operator_object;

static PyTypeObject operator_type;
static PyTypeObject operator_siddon_type;
static PyTypeObject operator_dd_type;

/* ---- ProjectorParams ---------------------------------------------------------------------- */

static PyObject *proj_params_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"scanner", NULL};
  PyObject *scanner;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!:ProjectorParams", kwlist, &py_scanner_type,
                                   &scanner))
    return NULL;
  py_proj_params_object *self = (py_proj_params_object *)type->tp_alloc(type, 0);
  if (self == NULL) return NULL;
  const pet_scanner_params *sp = &((py_scanner_object *)scanner)->s->params;
  self->p = pet_projector_params_default();
  self->p.crystal_size_trans = sp->crystal_size_trans;
  self->p.crystal_size_z = sp->crystal_size_z;
  pet_projector_params_set_fov(&self->p, sp); /* the scanner's FOV cylinder, as petrel fwd/back */
  self->scanner = Py_NewRef(scanner);
  return (PyObject *)self;
}

static void proj_params_dealloc(py_proj_params_object *self)
{
  Py_XDECREF(self->scanner);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *proj_params_set_projector(py_proj_params_object *self, PyObject *arg)
{
  const char *name = PyUnicode_AsUTF8(arg);
  if (name == NULL) return NULL;
  if (py_check(pet_projector_params_set_name(&self->p, name)) != 0) return NULL;
  Py_RETURN_NONE;
}

const char *py_projector_kind_name(const pet_projector_params *p)
{
  if (p->kind == PET_PROJ_DD) return "DD";
  return p->num_rays > 1 ? "MRS" : "S";
}

static PyObject *proj_params_get_projector(py_proj_params_object *self, void *c)
{
  return PyUnicode_FromString(py_projector_kind_name(&self->p));
}

static PyObject *proj_params_get_tof(py_proj_params_object *self, void *c)
{
  return PyFloat_FromDouble(self->p.tof ? (double)self->p.tof_fwhm_ps : 0.0);
}

static int proj_params_set_tof(py_proj_params_object *self, PyObject *v, void *c)
{
  if (v == NULL) {
    PyErr_SetString(PyExc_AttributeError, "tofWidth_ps cannot be deleted");
    return -1;
  }
  double w = PyFloat_AsDouble(v);
  if (w == -1.0 && PyErr_Occurred()) return -1;
  if (!(w >= 0.0)) {
    /* PyErr_Format has no %g (Python 3.12 raises SystemError for it) */
    char msg[96];
    snprintf(msg, sizeof msg, "tofWidth_ps must be >= 0 (0 disables TOF), got %g", w);
    PyErr_SetString(PyExc_ValueError, msg);
    return -1;
  }
  self->p.tof = w > 0.0;
  self->p.tof_fwhm_ps = (float)w;
  return 0;
}

static PyObject *proj_params_repr(py_proj_params_object *self)
{
  return PyUnicode_FromFormat("<petrel.ProjectorParams %s, numRays=%d, tof=%s>",
                              py_projector_kind_name(&self->p), self->p.num_rays, self->p.tof ? "on" : "off");
}

static PyMethodDef proj_params_methods[] = {
    {"setProjector", (PyCFunction)proj_params_set_projector, METH_O,
     "setProjector($self, name, /)\n--\n\n\"S\" (Siddon), \"DD\" (distance-driven) or \"MRS\" "
     "(multi-ray Siddon, numRays 4 unless set > 1); long names too.\nValueError otherwise."},
    {NULL, NULL, 0, NULL}};

static PyMemberDef proj_params_members[] = {
    {"numRays", T_INT, offsetof(py_proj_params_object, p) + offsetof(pet_projector_params, num_rays), 0,
     "Rays per LOR for (multi-ray) Siddon."},
    {"tofNumStd", T_FLOAT,
     offsetof(py_proj_params_object, p) + offsetof(pet_projector_params, tof_n_sigmas), 0,
     "TOF kernel truncation, in standard deviations."},
    {"numThreads", T_INT,
     offsetof(py_proj_params_object, p) + offsetof(pet_projector_params, num_threads), 0,
     "Host threads (0: the OpenMP default)."},
    {NULL, 0, 0, 0, NULL}};

static PyGetSetDef proj_params_getset[] = {
    {"projector", (getter)proj_params_get_projector, NULL, "\"S\", \"MRS\" or \"DD\".", NULL},
    {"tofWidth_ps", (getter)proj_params_get_tof, (setter)proj_params_set_tof,
     "TOF resolution FWHM in ps; 0 (the default) disables TOF.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject py_proj_params_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.ProjectorParams",
    .tp_basicsize = sizeof(py_proj_params_object),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "ProjectorParams(scanner)\n--\n\n"
              "Projector choice and parameters (YRT-PET's ProjectorParams): Siddon by default;\n"
              "setProjector(\"S\" | \"DD\" | \"MRS\"), numRays, tofWidth_ps, tofNumStd. Crystal\n"
              "sizes come from the scanner.",
    .tp_new = proj_params_new,
    .tp_dealloc = (destructor)proj_params_dealloc,
    .tp_repr = (reprfunc)proj_params_repr,
    .tp_methods = proj_params_methods,
    .tp_members = proj_params_members,
    .tp_getset = proj_params_getset,
};

/* ---- operators ------------------------------------------------------------------------------- */

static PyObject *operator_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"params", "bin_iter", NULL};
  PyObject *params, *bin_iter = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|O", kwlist, &py_proj_params_type, &params,
                                   &bin_iter))
    return NULL;
  if (bin_iter != Py_None && !PyObject_TypeCheck(bin_iter, &py_bin_iter_type)) {
    PyErr_Format(PyExc_TypeError, "%s: bin_iter must be a BinIter or None", type->tp_name);
    return NULL;
  }
  pet_projector_params p = ((py_proj_params_object *)params)->p;
  if (PyType_IsSubtype(type, &operator_dd_type)) p.kind = PET_PROJ_DD;
  if (PyType_IsSubtype(type, &operator_siddon_type)) p.kind = PET_PROJ_SIDDON;
  if (py_check(pet_projector_params_check(&p)) != 0) return NULL;
  operator_object *self = (operator_object *)type->tp_alloc(type, 0);
  if (self == NULL) return NULL;
  self->p = p;
  self->scanner = Py_NewRef(((py_proj_params_object *)params)->scanner);
  self->num_subsets = 1;
  self->subset = 0;
  if (bin_iter != Py_None) {
    self->num_subsets = ((py_bin_iter_object *)bin_iter)->num_subsets;
    self->subset = ((py_bin_iter_object *)bin_iter)->subset;
  }
  return (PyObject *)self;
}

static void operator_dealloc(operator_object *self)
{
  Py_XDECREF(self->scanner);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *operator_set_bin_iter(operator_object *self, PyObject *it)
{
  if (!PyObject_TypeCheck(it, &py_bin_iter_type)) {
    PyErr_SetString(PyExc_TypeError, "setBinIter: expected a BinIter");
    return NULL;
  }
  self->num_subsets = ((py_bin_iter_object *)it)->num_subsets;
  self->subset = ((py_bin_iter_object *)it)->subset;
  Py_RETURN_NONE;
}

/* Projects the operator's subset of a histogram: forward (img -> bins) or back (bins -> img). */
static pet_status project_histogram(const pet_projector_params *p, const pet_scanner *s,
                                    pet_histogram *h, int32_t S, int32_t sub, pet_image *img,
                                    bool forward)
{
  PET_CHECK(h->num_tof_bins == 0, PET_ERR_UNSUPPORTED,
            "projector: forwProject/backProject of a TOF histogram (%d TOF bins) are not implemented "
            "(reconstruct it with OSEM)",
            (int)h->num_tof_bins);
  if (forward) return pet_histo_project_fwd_subset_cpu(h->layout, s, p, img, S, sub, h->data);
  return pet_histo_project_back_cpu(h->layout, s, p, h->data, S, sub, img, NULL);
}

/* Back-projects the operator's subset of list-mode events, weight 1 each. */
static pet_status backproject_listmode(const pet_projector_params *p, const pet_scanner *s,
                                       const pet_listmode *lm, int32_t S, int32_t sub,
                                       pet_image *img)
{
  int64_t begin = 0, end = 0;
  PET_TRY(pet_listmode_require(lm));
  PET_TRY(pet_listmode_check(lm, s));
  PET_CHECK(!p->tof || lm->has_tof, PET_ERR_ARG,
            "projector: TOF (tofWidth_ps > 0) needs list-mode with TOF (flag_tof=True)");
  pet_listmode_subset_range(lm->num_events, S, sub, &begin, &end);
  return pet_listmode_project_back_cpu(lm, s, p, NULL, begin, end - begin, img, NULL);
}

static PyObject *operator_apply(operator_object *self, PyObject *img_obj, PyObject *data_obj,
                                bool forward)
{
  const char *what = forward ? "applyA" : "applyAH";
  pet_image *img = py_image_get(img_obj, what);
  if (img == NULL) return NULL;
  if (!PyObject_TypeCheck(data_obj, &py_projdata_type)) {
    PyErr_Format(PyExc_TypeError, "%s: expected a Histogram3D or ListModeLUT, got '%.100s'", what,
                 Py_TYPE(data_obj)->tp_name);
    return NULL;
  }
  py_projdata_object *data = (py_projdata_object *)data_obj;
  if (data->scanner != self->scanner)
    return py_raise_status(PET_ERROR(PET_ERR_ARG,
                                     "%s: the projection data belong to another Scanner than the "
                                     "ProjectorParams",
                                     what));
  const pet_scanner *s = ((py_scanner_object *)self->scanner)->s;
  bool is_histo = PyObject_TypeCheck(data_obj, &py_histogram_type);
  if (forward && !is_histo)
    return py_raise_status(PET_ERROR(PET_ERR_ARG,
                                     "applyA: list-mode data hold no projection values; "
                                     "forward-project into a Histogram3D"));
  if (is_histo && self->num_subsets > ((py_histogram_object *)data)->h->layout->num_phi)
    return py_raise_status(PET_ERROR(PET_ERR_ARG, "%s: %d subsets exceed the histogram's angles",
                                     what, self->num_subsets));
  pet_status st = is_histo ? pet_histogram_require(((py_histogram_object *)data)->h) : PET_OK;
  if (st != PET_OK) return py_raise_status(st);
  st = pet_image_require(img, PET_HOST);
  if (st != PET_OK) return py_raise_status(st);

  py_image_object *image = (py_image_object *)img_obj;
  ++image->pins;
  ++data->pins;
  Py_BEGIN_ALLOW_THREADS
  if (is_histo)
    st = project_histogram(&self->p, s, ((py_histogram_object *)data)->h, self->num_subsets,
                           self->subset, img, forward);
  else
    st = backproject_listmode(&self->p, s, ((py_listmode_object *)data)->lm, self->num_subsets,
                              self->subset, img);
  Py_END_ALLOW_THREADS
  --image->pins;
  --data->pins;
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *operator_apply_a(operator_object *self, PyObject *args)
{
  PyObject *img, *data;
  if (!PyArg_ParseTuple(args, "OO:applyA", &img, &data)) return NULL;
  return operator_apply(self, img, data, true);
}

static PyObject *operator_apply_ah(operator_object *self, PyObject *args)
{
  PyObject *img, *data;
  if (!PyArg_ParseTuple(args, "OO:applyAH", &data, &img)) return NULL;
  return operator_apply(self, img, data, false);
}

static PyObject *operator_property_types(operator_object *self, PyObject *data)
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

static PyObject *operator_get_projector(operator_object *self, void *c)
{
  return PyUnicode_FromString(py_projector_kind_name(&self->p));
}

static PyMethodDef operator_methods[] = {
    {"applyA", (PyCFunction)operator_apply_a, METH_VARARGS,
     "applyA($self, image, histogram, /)\n--\n\nForward projection: overwrites the bins of the "
     "operator's subset (all bins without a BinIter) with the line integrals of the host image. "
     "Releases the GIL."},
    {"applyAH", (PyCFunction)operator_apply_ah, METH_VARARGS,
     "applyAH($self, data, image, /)\n--\n\nBack projection, accumulated into the host image: "
     "of the histogram's values, or of list-mode events with weight 1 (TOF-weighted when "
     "tofWidth_ps > 0). Releases the GIL."},
    {"setBinIter", (PyCFunction)operator_set_bin_iter, METH_O,
     "setBinIter($self, bin_iter, /)\n--\n\nRestricts later applyA/applyAH calls to a subset."},
    {"getProjectionPropertyTypes", (PyCFunction)operator_property_types, METH_O,
     "getProjectionPropertyTypes($self, data, /)\n--\n\nWhat the operator reads per LOR of data: "
     "(\"LOR\", \"DetOrient\"[, \"TOF\"])."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef operator_getset[] = {
    {"projector", (getter)operator_get_projector, NULL, "\"S\", \"MRS\" or \"DD\".", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject operator_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.OperatorProjector",
    .tp_basicsize = sizeof(operator_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "OperatorProjector(params, bin_iter=None)\n--\n\n"
              "CPU projection operator of the projector chosen in params (OpenMP inside).\n"
              "applyA(image, histogram), applyAH(data, image). ValueError for bad params.",
    .tp_new = operator_new,
    .tp_dealloc = (destructor)operator_dealloc,
    .tp_methods = operator_methods,
    .tp_getset = operator_getset,
};

static PyTypeObject operator_siddon_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.OperatorProjectorSiddon",
    .tp_basicsize = sizeof(operator_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "OperatorProjectorSiddon(params, bin_iter=None)\n--\n\n"
              "Siddon projector (multi-ray when params.numRays > 1) on the CPU.",
    .tp_base = &operator_type,
    .tp_new = operator_new,
    .tp_dealloc = (destructor)operator_dealloc,
};

static PyTypeObject operator_dd_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.OperatorProjectorDD",
    .tp_basicsize = sizeof(operator_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "OperatorProjectorDD(params, bin_iter=None)\n--\n\n"
              "Distance-driven projector on the CPU.",
    .tp_base = &operator_type,
    .tp_new = operator_new,
    .tp_dealloc = (destructor)operator_dealloc,
};

int py_projector_init(PyObject *m)
{
  struct {
    PyTypeObject *type;
    const char *name;
  } types[] = {{&py_proj_params_type, "ProjectorParams"},
               {&operator_type, "OperatorProjector"},
               {&operator_siddon_type, "OperatorProjectorSiddon"},
               {&operator_dd_type, "OperatorProjectorDD"}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; ++i) {
    if (PyType_Ready(types[i].type) != 0) return -1;
    if (PyModule_AddObjectRef(m, types[i].name, (PyObject *)types[i].type) != 0) return -1;
  }
  return 0;
}
