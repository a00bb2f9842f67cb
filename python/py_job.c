/* petrel Python module: the reconstruction job of a config (pet_job.h), the same job as
 * `petrel recon`:
 *
 *   image = petrel.reconstructConfig("recon.json", iterations=2, use_gpu=False)
 *   image = petrel.reconstructConfig({"scanner": "s.json", "data": "d.h5", ...})
 *
 * The config (a JSON file, or a dict of the same keys) goes through the config's one table
 * (pet_config_read_json / pet_config_parse_json), and so does every override: each is a one-key
 * JSON object {key: value}, so a bad value raises ValueError naming the field. One process, no
 * MPI; the GIL is released while the job runs. */
#include "py_common.h" /* first: Python.h must precede the system headers */

#include <string.h>

#include "pet_config.h"
#include "pet_gpu.h"
#include "pet_job.h"

/* json.dumps(obj) as a new bytes object (UTF-8), or NULL with an exception. */
static PyObject *json_dumps(PyObject *obj)
{
  PyObject *json = PyImport_ImportModule("json");
  if (json == NULL) return NULL;
  PyObject *text = PyObject_CallMethod(json, "dumps", "O", obj);
  Py_DECREF(json);
  if (text == NULL) return NULL;
  PyObject *bytes = PyUnicode_AsUTF8String(text);
  Py_DECREF(text);
  return bytes;
}

/* Parses the JSON of obj over cfg; name stands for it in the messages. 0, or -1 raised. */
static int parse_obj(pet_config *cfg, PyObject *obj, const char *name)
{
  PyObject *bytes = json_dumps(obj);
  if (bytes == NULL) {
    /* e.g. a value json cannot write: say which argument */
    if (PyErr_ExceptionMatches(PyExc_TypeError)) {
      PyObject *type, *value, *tb;
      PyErr_Fetch(&type, &value, &tb);
      PyErr_Format(PyExc_TypeError, "reconstructConfig: %s: %S", name, value ? value : Py_None);
      Py_XDECREF(type);
      Py_XDECREF(value);
      Py_XDECREF(tb);
    }
    return -1;
  }
  int rc = py_check(pet_config_parse_json(cfg, PyBytes_AS_STRING(bytes), name));
  Py_DECREF(bytes);
  return rc;
}

/* Keyword spellings the Python side accepts besides the config's own keys. */
static const char *override_key(const char *key)
{
  if (!strcmp(key, "use_gpu") || !strcmp(key, "useGPU")) return "gpu";
  if (!strcmp(key, "vram_budget")) return "vram_budget_mb";
  return key;
}

/* One override key=value as {"key": value} (or {"image": {"nx": value}} for image_nx). */
static int apply_override(pet_config *cfg, PyObject *key, PyObject *value)
{
  const char *k = PyUnicode_AsUTF8(key);
  if (k == NULL) return -1;
  k = override_key(k);
  PyObject *obj = NULL;
  if (!strncmp(k, "image_", 6) || !strncmp(k, "image.", 6)) {
    PyObject *inner = Py_BuildValue("{sO}", k + 6, value);
    if (inner) obj = Py_BuildValue("{sN}", "image", inner);
  } else {
    obj = Py_BuildValue("{sO}", k, value);
  }
  if (obj == NULL) return -1;
  char name[160];
  snprintf(name, sizeof name, "reconstructConfig(%s=...)", k);
  int rc = parse_obj(cfg, obj, name);
  Py_DECREF(obj);
  return rc;
}

static PyObject *reconstruct_config(PyObject *mod, PyObject *args, PyObject *kwds)
{
  (void)mod;
  PyObject *config = NULL;
  if (!PyArg_ParseTuple(args, "O:reconstructConfig", &config)) return NULL;
  pet_config *cfg = PyMem_Malloc(sizeof *cfg); /* 30 KB: not on the stack */
  if (cfg == NULL) return PyErr_NoMemory();
  pet_config_defaults(cfg);
  PyObject *result = NULL;
  if (PyDict_Check(config)) {
    if (parse_obj(cfg, config, "reconstructConfig(config dict)") != 0) goto out;
  } else {
    PyObject *path = NULL;
    if (!py_path_converter(config, &path)) goto out;
    pet_status st = pet_config_read_json(cfg, PyBytes_AS_STRING(path));
    Py_DECREF(path);
    if (py_check(st) != 0) goto out;
  }
  int want_scatter = 0;
  if (kwds) {
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(kwds, &pos, &key, &value)) {
      if (PyUnicode_Check(key) && PyUnicode_CompareWithASCIIString(key, "return_scatter") == 0) {
        want_scatter = PyObject_IsTrue(value);
        if (want_scatter < 0) goto out;
        continue;
      }
      if (apply_override(cfg, key, value) != 0) goto out;
    }
  }
  /* the image is returned, not written: "output" need not be given */
  {
    pet_config check = *cfg;
    if (!check.output[0]) snprintf(check.output, sizeof check.output, "%s", "returned.nii");
    if (py_check(pet_config_validate(&check)) != 0) goto out;
  }
  if (cfg->frames[0]) {
    PyErr_SetString(PyExc_NotImplementedError,
                    "reconstructConfig: field \"frames\": dynamic reconstructions run with petrel recon --frames");
    goto out;
  }
  pet_job_opts jo = pet_job_opts_default();
  if (cfg->gpu) jo.gpu_device = cfg->device;
  pet_job_result res;
  memset(&res, 0, sizeof res);
  pet_status st;
  Py_BEGIN_ALLOW_THREADS
  st = pet_job_recon(cfg, &jo, NULL, NULL, &res);
  Py_END_ALLOW_THREADS
  if (py_check(st) != 0) goto out;
  result = py_image_owned_new(&res.image->params);
  if (result) {
    pet_image *img = py_image_get(result, "reconstructConfig");
    if (img)
      memcpy(img->data, res.image->data, (size_t)pet_image_num_voxels(res.image) * sizeof(float));
    else
      Py_CLEAR(result);
  }
  if (result && want_scatter) {
    /* (image, scatter): the final estimate as a float32 numpy array, (num_bins,) or
     * (num_bins, num_tof_bins); None without field scatter = "estimate" */
    PyObject *arr = Py_None;
    Py_INCREF(arr);
    if (res.scatter) {
      Py_DECREF(arr);
      arr = NULL;
      const int64_t T1 = res.scatter_tof_bins > 0 ? res.scatter_tof_bins : 1;
      PyObject *np = PyImport_ImportModule("numpy");
      PyObject *ba = PyByteArray_FromStringAndSize((const char *)res.scatter,
                                                   (Py_ssize_t)(res.scatter_num_bins * T1 * (int64_t)sizeof(float)));
      PyObject *flat = np && ba ? PyObject_CallMethod(np, "frombuffer", "Os", ba, "float32") : NULL;
      if (flat && res.scatter_tof_bins > 0)
        arr = PyObject_CallMethod(flat, "reshape", "LL", (long long)res.scatter_num_bins, (long long)T1);
      else if (flat) {
        arr = flat;
        Py_INCREF(arr);
      }
      Py_XDECREF(flat);
      Py_XDECREF(ba);
      Py_XDECREF(np);
    }
    PyObject *tuple = arr ? PyTuple_Pack(2, result, arr) : NULL;
    Py_XDECREF(arr);
    Py_DECREF(result);
    result = tuple;
  }
  pet_job_result_free(&res);
out:
  PyMem_Free(cfg);
  return result;
}

static PyMethodDef reconstruct_config_def = {
    "reconstructConfig", PY_METH(reconstruct_config), METH_VARARGS | METH_KEYWORDS,
    "reconstructConfig(config, **overrides)\n--\n\n"
    "Runs the reconstruction of a petrel config, the same job as `petrel recon --config`, and\n"
    "returns the image (ImageOwned). config: the path of a JSON config (its relative paths are\n"
    "relative to its folder) or a dict of the same keys (relative to the working directory).\n"
    "overrides: config fields, e.g. iterations=2, subsets=4, projector=\"DD\", use_gpu=False,\n"
    "image_nx=64 (or image={\"nx\": 64, ...}). \"output\" is not written (write the returned\n"
    "image); save_sensitivity and checkpoint are. ValueError naming the field for a bad value,\n"
    "OSError for a file that cannot be read. return_scatter=True: returns (image, scatter), the\n"
    "final estimate of scatter=\"estimate\" (float32 numpy, (num_bins,) or (num_bins, T); None\n"
    "without it)."};

int py_job_init(PyObject *m)
{
  PyObject *name = PyModule_GetNameObject(m);
  if (name == NULL) return -1;
  PyObject *f = PyCFunction_NewEx(&reconstruct_config_def, m, name);
  Py_DECREF(name);
  if (f == NULL) return -1;
  int rc = PyModule_AddObjectRef(m, "reconstructConfig", f);
  Py_DECREF(f);
  return rc;
}
