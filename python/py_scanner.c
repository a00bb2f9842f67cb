/* petrel Python module: Scanner (YRT-PET's keyword constructor, or a scanner JSON file). */
#include "py_common.h" /* first: Python.h must precede the system headers */

#include <stddef.h>
#include <string.h>
#include <structmember.h>

#include "pet_scanner.h"
#include "pet_fov.h"

static PyObject *scanner_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"scanner_name",  "axial_fov",      "crystal_size_z", "crystal_size_trans",
                           "crystal_depth", "scanner_radius", "dets_per_ring",  "num_rings",
                           "num_doi",       "max_ring_diff",  "min_ang_diff",   "dets_per_block",
                           "tof_fwhm_ps",   NULL};
  pet_scanner *s = NULL;
  pet_status st;

  /* Scanner(path_to_json): the geometry form needs 12 arguments */
  if (PyTuple_GET_SIZE(args) == 1 && (kwds == NULL || PyDict_GET_SIZE(kwds) == 0)) {
    PyObject *fname = NULL;
    if (!py_path_converter(PyTuple_GET_ITEM(args, 0), &fname)) return NULL;
    const char *path = PyBytes_AS_STRING(fname);
    Py_BEGIN_ALLOW_THREADS
    st = pet_scanner_read_json(&s, path);
    Py_END_ALLOW_THREADS
    Py_DECREF(fname);
  } else {
    pet_scanner_params p;
    const char *name = NULL;
    memset(&p, 0, sizeof p);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "sfffffiiiiii|f:Scanner", kwlist, &name,
                                     &p.axial_fov, &p.crystal_size_z, &p.crystal_size_trans,
                                     &p.crystal_depth, &p.scanner_radius, &p.dets_per_ring,
                                     &p.num_rings, &p.num_doi, &p.max_ring_diff, &p.min_ang_diff,
                                     &p.dets_per_block, &p.tof_fwhm_ps))
      return NULL;
    if (strlen(name) >= sizeof p.name) {
      PyErr_Format(PyExc_ValueError, "Scanner: scanner_name is longer than %d characters",
                   (int)sizeof p.name - 1);
      return NULL;
    }
    strcpy(p.name, name);
    Py_BEGIN_ALLOW_THREADS
    st = pet_scanner_create(&s, &p);
    Py_END_ALLOW_THREADS
  }
  if (st != PET_OK) return py_raise_status(st);
  py_scanner_object *self = (py_scanner_object *)type->tp_alloc(type, 0);
  if (self == NULL) {
    pet_scanner_destroy(&s);
    return NULL;
  }
  self->s = s;
  return (PyObject *)self;
}

static void scanner_dealloc(py_scanner_object *self)
{
  pet_scanner_destroy(&self->s);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *scanner_repr(py_scanner_object *self)
{
  const pet_scanner_params *p = &self->s->params;
  return PyUnicode_FromFormat("<petrel.Scanner '%s': %d dets/ring x %d rings x %d DOI>", p->name,
                              p->dets_per_ring, p->num_rings, p->num_doi);
}

static PyObject *scanner_get_num_dets(py_scanner_object *self, PyObject *unused)
{
  return PyLong_FromLongLong((long long)pet_scanner_num_dets(self->s));
}

static PyObject *scanner_get_lut(py_scanner_object *self, PyObject *unused)
{
  int64_t shape[2] = {pet_scanner_num_dets(self->s), 6};
  PyObject *arr = PyBytes_FromStringAndSize((const char *)self->s->lut,
                                            (Py_ssize_t)(shape[0] * 6 * (int64_t)sizeof(float)));
  if (arr == NULL) return NULL;
  PyObject *np = PyImport_ImportModule("numpy");
  PyObject *out = NULL;
  if (np != NULL) {
    PyObject *flat = PyObject_CallMethod(np, "frombuffer", "Os", arr, "float32");
    if (flat != NULL) out = PyObject_CallMethod(flat, "reshape", "LL", (long long)shape[0], 6LL);
    Py_XDECREF(flat);
  }
  Py_XDECREF(np);
  Py_DECREF(arr);
  return out;
}

static PyStructSequence_Field vector3d_fields[] = {
    {"x", "x, mm (or component)"}, {"y", "y"}, {"z", "z"}, {NULL, NULL}};
static PyStructSequence_Desc vector3d_desc = {
    "petrel.Vector3D", "A 3-vector (x, y, z): what YRT-PET's detector queries return.",
    vector3d_fields, 3};
static PyTypeObject *vector3d_type;

static PyObject *vector3d(const float *v)
{
  PyObject *o = PyStructSequence_New(vector3d_type);
  if (o == NULL) return NULL;
  for (int i = 0; i < 3; ++i) {
    PyObject *f = PyFloat_FromDouble((double)v[i]);
    if (f == NULL) {
      Py_DECREF(o);
      return NULL;
    }
    PyStructSequence_SET_ITEM(o, i, f);
  }
  return o;
}

static int det_arg(py_scanner_object *self, PyObject *args, PyObject *kwds, const char *fmt,
                   long long *det)
{
  static char *kwlist[] = {"det_id", NULL};
  if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, det)) return -1;
  if (*det < 0 || *det >= pet_scanner_num_dets(self->s)) {
    py_raise_status(PET_ERROR(PET_ERR_ARG, "det_id %lld is outside [0, %lld)", *det,
                              (long long)pet_scanner_num_dets(self->s)));
    return -1;
  }
  return 0;
}

static PyObject *scanner_det_pos(py_scanner_object *self, PyObject *args, PyObject *kwds)
{
  long long d;
  if (det_arg(self, args, kwds, "L:getDetectorPos", &d) != 0) return NULL;
  return vector3d(self->s->lut + 6 * d);
}

static PyObject *scanner_det_orient(py_scanner_object *self, PyObject *args, PyObject *kwds)
{
  long long d;
  if (det_arg(self, args, kwds, "L:getDetectorOrient", &d) != 0) return NULL;
  return vector3d(self->s->lut + 6 * d + 3);
}

static PyObject *scanner_det_allowed(py_scanner_object *self, PyObject *args, PyObject *kwds)
{
  long long d;
  if (det_arg(self, args, kwds, "L:isDetectorAllowed", &d) != 0) return NULL;
  return PyBool_FromLong(self->s->det_mask == NULL || self->s->det_mask[d] != 0);
}

static PyObject *scanner_has_mask(py_scanner_object *self, PyObject *unused)
{
  return PyBool_FromLong(self->s->det_mask != NULL);
}

static PyObject *scanner_expected_dets(py_scanner_object *self, PyObject *unused)
{
  const pet_scanner_params *p = &self->s->params;
  return PyLong_FromLongLong((long long)p->dets_per_ring * p->num_rings * p->num_doi);
}

static PyObject *scanner_is_valid(py_scanner_object *self, PyObject *unused)
{
  return PyBool_FromLong(self->s->lut != NULL);
}

static PyObject *scanner_write_json(py_scanner_object *self, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"filename", "lut_file", NULL};
  PyObject *fname = NULL;
  const char *lut = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&|z:writeToJSON", kwlist, py_path_converter,
                                   &fname, &lut))
    return NULL;
  const char *path = PyBytes_AS_STRING(fname);
  pet_status st;
  Py_BEGIN_ALLOW_THREADS
  st = pet_scanner_write_json(self->s, path, lut);
  Py_END_ALLOW_THREADS
  Py_DECREF(fname);
  if (st != PET_OK) return py_raise_status(st);
  Py_RETURN_NONE;
}

static PyMethodDef scanner_methods[] = {
    {"getNumDets", (PyCFunction)scanner_get_num_dets, METH_NOARGS,
     "getNumDets($self, /)\n--\n\nNumber of detectors (dets_per_ring * num_rings * num_doi)."},
    {"getLUT", (PyCFunction)scanner_get_lut, METH_NOARGS,
     "getLUT($self, /)\n--\n\nA read-only copy of the detector table, float32 (num_dets, 6): "
     "x, y, z (mm) and the outward unit normal of each crystal."},
    {"createLUT", (PyCFunction)scanner_get_lut, METH_NOARGS,
     "createLUT($self, /)\n--\n\nReturns numpy.ndarray: YRT-PET's detector LUT, a float32 "
     "(num_dets, 6) copy: x, y, z (mm) and the outward unit normal per detector, in the order "
     "of a .lut file (writeToJSON(filename, lut_file) writes it)."},
    {"getDetectorPos", PY_METH(scanner_det_pos), METH_VARARGS | METH_KEYWORDS,
     "getDetectorPos($self, /, det_id)\n--\n\nReturns Vector3D: (x, y, z) of the detector, mm."},
    {"getDetectorOrient", PY_METH(scanner_det_orient), METH_VARARGS | METH_KEYWORDS,
     "getDetectorOrient($self, /, det_id)\n--\n\nReturns Vector3D: The detector's outward unit "
     "normal."},
    {"isDetectorAllowed", PY_METH(scanner_det_allowed), METH_VARARGS | METH_KEYWORDS,
     "isDetectorAllowed($self, /, det_id)\n--\n\nFalse where the scanner's detMask disables the "
     "detector."},
    {"hasMask", (PyCFunction)scanner_has_mask, METH_NOARGS,
     "hasMask($self, /)\n--\n\nTrue when the scanner has a detector mask (detMask)."},
    {"getExpectedNumDets", (PyCFunction)scanner_expected_dets, METH_NOARGS,
     "getExpectedNumDets($self, /)\n--\n\ndetsPerRing * numRings * numDOI."},
    {"isValid", (PyCFunction)scanner_is_valid, METH_NOARGS,
     "isValid($self, /)\n--\n\nTrue: a petrel Scanner always has its detectors."},
    {"writeToJSON", PY_METH(scanner_write_json), METH_VARARGS | METH_KEYWORDS,
     "writeToJSON($self, /, filename, lut_file=None)\n--\n\nWrites a YRT-PET scanner JSON "
     "(atomically); with lut_file, also the LUT next to it, referred to by \"detCoord\"."},
    {NULL, NULL, 0, NULL}};

#define SCANNER_FLOAT(attr, field)                                                          \
  static PyObject *get_##attr(py_scanner_object *self, void *c)                                  \
  {                                                                                              \
    return PyFloat_FromDouble((double)self->s->params.field);                                     \
  }
#define SCANNER_INT(attr, field)                                                            \
  static PyObject *get_##attr(py_scanner_object *self, void *c)                                  \
  {                                                                                              \
    return PyLong_FromLong((long)self->s->params.field);                                          \
  }
SCANNER_FLOAT(axialFOV, axial_fov)
SCANNER_FLOAT(crystalSize_z, crystal_size_z)
SCANNER_FLOAT(crystalSize_trans, crystal_size_trans)
SCANNER_FLOAT(crystalDepth, crystal_depth)
SCANNER_FLOAT(scannerRadius, scanner_radius)
SCANNER_FLOAT(collimatorRadius, collimator_radius)
SCANNER_FLOAT(fwhm, fwhm_kev)
SCANNER_FLOAT(energyLLD, energy_lld_kev)
SCANNER_FLOAT(tofResolution_ps, tof_fwhm_ps)
SCANNER_INT(detsPerRing, dets_per_ring)
SCANNER_INT(numRings, num_rings)
SCANNER_INT(numDOI, num_doi)
SCANNER_INT(maxRingDiff, max_ring_diff)
SCANNER_INT(minAngDiff, min_ang_diff)
SCANNER_INT(detsPerBlock, dets_per_block)

static PyObject *get_fovRadius(py_scanner_object *self, void *c)
{
  return PyFloat_FromDouble((double)pet_scanner_fov_radius(&self->s->params));
}

static PyObject *get_scannerName(py_scanner_object *self, void *c)
{
  return PyUnicode_FromString(self->s->params.name);
}

#define GS(attr, doc) {#attr, (getter)get_##attr, NULL, doc, NULL}
static PyGetSetDef scanner_getset[] = {
    GS(scannerName, "Scanner name."),
    GS(axialFOV, "Axial field of view, mm."),
    GS(crystalSize_z, "Crystal size along z, mm."),
    GS(crystalSize_trans, "Crystal size across (transaxial), mm."),
    GS(crystalDepth, "Crystal depth, mm."),
    GS(scannerRadius, "Radius to the crystal faces, mm."),
    GS(collimatorRadius, "Collimator radius, mm (0 when absent)."),
    GS(fovRadius, "Radius of the cylindrical field of view, mm (JSON \"fovRadius\"; default the scanner radius):\n"
                  "LORs are clipped to it and voxels outside it stay 0."),
    GS(fwhm, "Energy resolution FWHM, keV (0 when absent)."),
    {"energyResolution", (getter)get_fwhm, NULL,
     "YRT-PET's name for the energy resolution (JSON \"fwhm\"); 0 when absent.", NULL},
    GS(energyLLD, "Energy lower level discriminator, keV (0 when absent)."),
    GS(tofResolution_ps, "TOF resolution FWHM, ps (0: no TOF)."),
    GS(detsPerRing, "Detectors per ring."),
    GS(numRings, "Number of rings."),
    GS(numDOI, "Number of depth-of-interaction layers."),
    GS(maxRingDiff, "Largest ring difference histogrammed."),
    GS(minAngDiff, "Smallest angular difference (in detectors) histogrammed."),
    GS(detsPerBlock, "Detectors per block."),
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject py_scanner_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "petrel.Scanner",
    .tp_basicsize = sizeof(py_scanner_object),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Scanner(scanner_name, axial_fov, crystal_size_z, crystal_size_trans, crystal_depth,\n"
              "        scanner_radius, dets_per_ring, num_rings, num_doi, max_ring_diff,\n"
              "        min_ang_diff, dets_per_block, tof_fwhm_ps=0) | Scanner(json_path)\n\n"
              "A cylindrical PET scanner (YRT-PET's Scanner): from its geometry (lengths in mm;\n"
              "the detector LUT is generated as YRT-PET does) or from a YRT-PET scanner JSON\n"
              "file (with its \"detCoord\" LUT when given). Attributes use YRT-PET's names\n"
              "(axialFOV, detsPerRing, ...), read-only.\n"
              "ValueError naming the bad field; OSError for unreadable files.",
    .tp_new = scanner_new,
    .tp_dealloc = (destructor)scanner_dealloc,
    .tp_repr = (reprfunc)scanner_repr,
    .tp_methods = scanner_methods,
    .tp_getset = scanner_getset,
};

int py_scanner_init(PyObject *m)
{
  if (PyType_Ready(&py_scanner_type) != 0) return -1;
  vector3d_type = PyStructSequence_NewType(&vector3d_desc);
  if (vector3d_type == NULL) return -1;
  return PyModule_AddObjectRef(m, "Scanner", (PyObject *)&py_scanner_type);
}
