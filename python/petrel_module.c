/* petrel Python module: module object, GPU queries, registration of every class family. */
#include "py_common.h" /* first: Python.h must precede the system headers */

#include <omp.h>

#include "pet_gpu.h"
#include "pet_version.h"

static PyObject *get_device_count(PyObject *mod, PyObject *unused)
{
  return PyLong_FromLong(pet_gpu_device_count());
}

static PyObject *compiled_with_cuda(PyObject *mod, PyObject *unused)
{
  return PyBool_FromLong(pet_gpu_compiled());
}

static PyObject *get_available_vram(PyObject *mod, PyObject *unused)
{
  size_t free_bytes = 0, total = 0;
  pet_status st;
  if (!pet_gpu_compiled())
    return py_raise_status(PET_ERROR(PET_ERR_UNSUPPORTED,
                                     "getAvailableVRAM: this petrel build has no CUDA support "
                                     "(rebuild with -DPET_ENABLE_CUDA=ON)"));
  if (pet_gpu_device_count() == 0)
    return py_raise_status(
        PET_ERROR(PET_ERR_STATE, "getAvailableVRAM: no CUDA device is visible to this process"));
  Py_BEGIN_ALLOW_THREADS
  st = pet_gpu_mem_info(&free_bytes, &total);
  Py_END_ALLOW_THREADS
  if (st != PET_OK) return py_raise_status(st);
  return PyLong_FromSize_t(free_bytes);
}

static PyObject *set_num_threads(PyObject *mod, PyObject *args, PyObject *kwds)
{
  static char *kwlist[] = {"num_threads", NULL};
  long n = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "l:setNumThreads", kwlist, &n)) return NULL;
  if (n < 1 || n > 1 << 16)
    return py_raise_status(
        PET_ERROR(PET_ERR_ARG, "setNumThreads: num_threads must be >= 1, got %ld", n));
  omp_set_num_threads((int)n);
  Py_RETURN_NONE;
}

static PyObject *get_num_threads(PyObject *mod, PyObject *unused)
{
  return PyLong_FromLong(omp_get_max_threads());
}

static PyObject *get_version_string(PyObject *mod, PyObject *unused)
{
  return PyUnicode_FromString(PETREL_VERSION);
}

static PyMethodDef module_methods[] = {
    {"setNumThreads", PY_METH(set_num_threads), METH_VARARGS | METH_KEYWORDS,
     "setNumThreads($module, /, num_threads)\n--\n\nHost (OpenMP) threads for petrel's loops "
     "that do not set their own (numThreads = 0, the default), for calls made from this Python "
     "thread. ValueError unless num_threads >= 1."},
    {"getNumThreads", (PyCFunction)get_num_threads, METH_NOARGS,
     "getNumThreads($module, /)\n--\n\nReturns int: The host threads petrel's loops use by "
     "default (omp_get_max_threads)."},
    {"getVersionString", (PyCFunction)get_version_string, METH_NOARGS,
     "getVersionString($module, /)\n--\n\nReturns str: petrel's version (same as __version__)."},
    {"getDeviceCount", get_device_count, METH_NOARGS,
     "getDeviceCount($module, /)\n--\n\nReturns int: Number of visible CUDA devices (0 without CUDA or a GPU)."},
    {"compiledWithCuda", compiled_with_cuda, METH_NOARGS,
     "compiledWithCuda($module, /)\n--\n\nReturns bool: True when this build of petrel has CUDA support."},
    {"getAvailableVRAM", get_available_vram, METH_NOARGS,
     "getAvailableVRAM($module, /)\n--\n\nReturns int: Free memory of the current CUDA device, in bytes.\n"
     "NotImplementedError without CUDA in the build, RuntimeError without a visible GPU."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "petrel",
    .m_doc = "petrel: PET image reconstruction, with YRT-PET's Python API.\n\n"
             "Data structures come Owned (allocate() their memory) or Alias (bind() memory\n"
             "someone else owns: numpy arrays through the buffer protocol, CUDA tensors\n"
             "through DLPack or raw device pointers). Errors raise ValueError (bad\n"
             "arguments), OSError (files), MemoryError, RuntimeError (an object used before\n"
             "allocate()/bind(), CUDA failures) or NotImplementedError (a feature missing\n"
             "from this build), with petrel's message. Long operations release the GIL.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit_petrel(void)
{
  /* errors become exceptions; printing them on stderr as well would be noise */
  pet_error_set_print(false);
  PyObject *m = PyModule_Create(&module_def);
  if (m == NULL) return NULL;
  if (PyModule_AddStringConstant(m, "__version__", PETREL_VERSION) != 0 ||
      PyModule_AddObjectRef(m, "HAS_NIFTI", PETREL_PY_HAVE_NIFTI ? Py_True : Py_False) != 0 ||
      py_common_init(m) != 0 || py_image_init(m) != 0 || py_scanner_init(m) != 0 ||
      py_projdata_init(m) != 0 || py_projector_init(m) != 0 || py_gpu_init(m) != 0 ||
      py_osem_init(m) != 0 || py_job_init(m) != 0 || py_compat_init(m) != 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
