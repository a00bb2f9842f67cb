"""Type stubs for petrel, the CPython extension module of petrel (YRT-PET's Python API).

Owned objects allocate() their memory; Alias objects bind() memory someone else owns (numpy
arrays through the buffer protocol, CUDA tensors through DLPack or raw device pointers).
Errors: ValueError (bad arguments/config), OSError (files), MemoryError, RuntimeError (use
before allocate()/bind(), CUDA failures), NotImplementedError (feature missing from the build).
"""
import os
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

_Path = Union[str, bytes, os.PathLike]

__version__: str
HAS_NIFTI: bool
"""True when this build reads and writes NIfTI images."""

def getDeviceCount() -> int:
    """Number of visible CUDA devices (0 without CUDA or a GPU)."""
def compiledWithCuda() -> bool:
    """True when this build of petrel has CUDA support."""
def getAvailableVRAM() -> int:
    """Free memory of the current CUDA device in bytes.

    NotImplementedError without CUDA in the build, RuntimeError without a visible GPU."""

class ImageParams:
    """Image geometry: nx x ny x nz voxels over length_x/y/z mm, centred at (off_x, off_y,
    off_z) mm. Arrays over an image have shape [nz, ny, nx] (x fastest). Read-only."""
    def __init__(self, nx: int, ny: int, nz: int, length_x: float, length_y: float,
                 length_z: float, off_x: float = 0.0, off_y: float = 0.0,
                 off_z: float = 0.0) -> None: ...
    @property
    def nx(self) -> int: ...
    @property
    def ny(self) -> int: ...
    @property
    def nz(self) -> int: ...
    @property
    def length_x(self) -> float: ...
    @property
    def length_y(self) -> float: ...
    @property
    def length_z(self) -> float: ...
    @property
    def off_x(self) -> float: ...
    @property
    def off_y(self) -> float: ...
    @property
    def off_z(self) -> float: ...
    @property
    def vx(self) -> float:
        """Voxel size along x (length_x / nx), mm."""
    @property
    def vy(self) -> float: ...
    @property
    def vz(self) -> float: ...
    def __eq__(self, other: object) -> bool: ...

class ImageBase:
    """Base of every image (host or device, Owned or Alias); not instantiable."""
    def getParams(self) -> ImageParams: ...
    def isMemoryValid(self) -> bool:
        """True once allocate() (Owned) or bind() (Alias) gave the image memory."""
    def setValue(self, value: float) -> None:
        """Sets every voxel. Releases the GIL."""
    def copyFromImage(self, src: "ImageBase") -> None:
        """Copies src (host or device, same geometry) into this image. Releases the GIL."""
    def writeToFile(self, filename: _Path) -> None:
        """Writes NIfTI-1 (.nii/.nii.gz); device images go through the host. Releases the GIL."""
    def __dlpack__(self, *, stream: Optional[int] = None) -> Any:
        """DLPack capsule over the voxels ([nz, ny, nx] float32); keeps the image alive."""
    def __dlpack_device__(self) -> Tuple[int, int]:
        """(1, 0) for host images, (2, device_id) for CUDA images."""

class Image(ImageBase):
    """Host image: buffer protocol, a writable float32 [nz, ny, nx] array.
    np.array(img, copy=False) aliases the voxels."""
    def __array__(self, dtype: Any = None, copy: Optional[bool] = None) -> npt.NDArray[np.float32]: ...

class ImageOwned(Image):
    """ImageOwned(params) then allocate(); ImageOwned(filename) or ImageOwned(params,
    filename) read a NIfTI file (checked against params when given)."""
    def __init__(self, params_or_filename: Union[ImageParams, _Path],
                 filename: Optional[_Path] = None) -> None: ...
    def allocate(self) -> None:
        """Allocates zeroed voxels (no-op when allocated)."""

class ImageAlias(Image):
    """ImageAlias(params) then bind(array)."""
    def __init__(self, params: ImageParams) -> None: ...
    def bind(self, array: Any) -> None:
        """Uses array's memory: a writable C-contiguous float32 buffer of shape [nz, ny, nx]
        (or a CPU DLPack tensor). Holds a reference to array. ValueError naming the
        expected dtype/shape/layout otherwise; BufferError while views of the current
        binding are alive."""

class ImageDevice(ImageBase):
    """CUDA device image. NotImplementedError on construction without CUDA in the build."""
    def getDevicePointer(self) -> int: ...
    def transferToHostMemory(self, host_image: Image) -> None:
        """Copies this image into host_image (same geometry). Releases the GIL."""
    def copyFromHostImage(self, host_image: Image) -> None:
        """Copies host_image into this image. Releases the GIL."""

class ImageDeviceOwned(ImageDevice):
    def __init__(self, params_or_filename: Union[ImageParams, _Path],
                 filename: Optional[_Path] = None) -> None: ...
    def allocate(self) -> None: ...

class ImageDeviceAlias(ImageDevice):
    def __init__(self, params: ImageParams) -> None: ...
    def setDevicePointer(self, pointer: int, device_id: int = 0) -> None:
        """Uses the CUDA memory at pointer (e.g. tensor.data_ptr()); the caller keeps it
        alive. ValueError when pointer is not device memory."""
    def bind(self, tensor: Any) -> None:
        """Uses a CUDA DLPack tensor (float32, [nz, ny, nx], C-contiguous), kept alive."""
    @classmethod
    def fromDlpack(cls, params: ImageParams, tensor: Any) -> "ImageDeviceAlias": ...

class Scanner:
    """A cylindrical PET scanner: from its geometry (mm) or a YRT-PET scanner JSON file.
    Attributes use YRT-PET's names and are read-only."""
    def __init__(self, scanner_name: Union[str, _Path], axial_fov: float = ...,
                 crystal_size_z: float = ..., crystal_size_trans: float = ...,
                 crystal_depth: float = ..., scanner_radius: float = ...,
                 dets_per_ring: int = ..., num_rings: int = ..., num_doi: int = ...,
                 max_ring_diff: int = ..., min_ang_diff: int = ..., dets_per_block: int = ...,
                 tof_fwhm_ps: float = 0.0) -> None:
        """Scanner(json_path) or Scanner(scanner_name=..., ..., dets_per_block=...)."""
    scannerName: str
    axialFOV: float
    crystalSize_z: float
    crystalSize_trans: float
    crystalDepth: float
    scannerRadius: float
    collimatorRadius: float
    fwhm: float
    energyLLD: float
    tofResolution_ps: float
    detsPerRing: int
    numRings: int
    numDOI: int
    maxRingDiff: int
    minAngDiff: int
    detsPerBlock: int
    def getNumDets(self) -> int: ...
    def getLUT(self) -> npt.NDArray[np.float32]:
        """Copy of the detector table (num_dets, 6): x, y, z (mm), outward normal."""
    def writeToJSON(self, filename: _Path, lut_file: Optional[str] = None) -> None: ...

class BinIter:
    """Bins (histogram) or events (list-mode) of one OSEM subset."""
    numSubsets: int
    subset: int
    def __len__(self) -> int: ...
    def __getitem__(self, k: int) -> int: ...
    def size(self) -> int: ...
    def get(self, k: int) -> int: ...

class ProjectionData:
    def count(self) -> int:
        """Number of bins (histogram) or events (list-mode)."""
    def getScanner(self) -> Scanner: ...
    def getBinIter(self, num_subsets: int, subset: int) -> BinIter: ...

class Histogram3D(ProjectionData):
    """Fully-3D histogram; buffer protocol: float32 (numZBin, numPhi, numR)."""
    numZBin: int
    numPhi: int
    numR: int
    def clearProjections(self, value: float = 0.0) -> None: ...
    def writeToFile(self, filename: _Path) -> None:
        """Writes a YRT-PET .his file."""
    def readFromFile(self, filename: _Path) -> None:
        """Reads a .his file of this scanner into the allocated/bound bins."""
    def __array__(self, dtype: Any = None, copy: Optional[bool] = None) -> npt.NDArray[np.float32]: ...

class Histogram3DOwned(Histogram3D):
    def __init__(self, scanner: Scanner, filename: Optional[_Path] = None) -> None: ...
    def allocate(self) -> None: ...

class Histogram3DAlias(Histogram3D):
    def __init__(self, scanner: Scanner) -> None: ...
    def bind(self, array: Any) -> None:
        """Binds a writable C-contiguous float32 (numZBin, numPhi, numR) array (held)."""

class ListModeLUT(ProjectionData):
    """List-mode events (time ms, detector 1, detector 2[, TOF ps])."""
    def isTOF(self) -> bool: ...
    def writeToFile(self, filename: _Path) -> None:
        """Writes a YRT-PET .lmDat file."""
    def getTimestampArray(self) -> npt.NDArray[np.uint32]: ...
    def getDetector1Array(self) -> npt.NDArray[np.uint32]: ...
    def getDetector2Array(self) -> npt.NDArray[np.uint32]: ...
    def getTOFArray(self) -> npt.NDArray[np.float32]: ...

class ListModeLUTOwned(ListModeLUT):
    def __init__(self, scanner: Scanner, filename: Optional[_Path] = None,
                 flag_tof: bool = False) -> None: ...
    def allocate(self, num_events: int) -> None: ...

class ListModeLUTAlias(ListModeLUT):
    def __init__(self, scanner: Scanner, flag_tof: bool = False) -> None: ...
    def bind(self, timestamps: Any, detector_ids1: Any, detector_ids2: Any,
             tof_ps: Any = None) -> None:
        """Binds 1-D C-contiguous arrays of equal length (uint32, float32 TOF); held."""

class ProjectorParams:
    """Projector choice: Siddon by default; crystal sizes from the scanner."""
    def __init__(self, scanner: Scanner) -> None: ...
    def setProjector(self, name: str) -> None:
        """"S", "DD" or "MRS" (or "Siddon", "DistanceDriven", "MultiRaySiddon")."""
    @property
    def projector(self) -> str: ...
    numRays: int
    tofWidth_ps: float
    """TOF FWHM in ps; 0 disables TOF."""
    tofNumStd: float
    numThreads: int

class OperatorProjector:
    """CPU projection operator; GIL released while projecting."""
    def __init__(self, params: ProjectorParams, bin_iter: Optional[BinIter] = None) -> None: ...
    @property
    def projector(self) -> str: ...
    def applyA(self, image: Image, histogram: Histogram3D) -> None:
        """Forward projection into the histogram's bins (of the bin iterator's subset)."""
    def applyAH(self, data: ProjectionData, image: Image) -> None:
        """Back projection accumulated into image (list-mode: weight 1 per event)."""
    def setBinIter(self, bin_iter: BinIter) -> None: ...
    def getProjectionPropertyTypes(self, data: ProjectionData) -> Tuple[str, ...]: ...

class OperatorProjectorSiddon(OperatorProjector): ...
class OperatorProjectorDD(OperatorProjector): ...

class OperatorProjectorDevice:
    """GPU projection operator over a ProjectionListDevice; GIL released while projecting.
    NotImplementedError on construction without CUDA in the build."""
    def __init__(self, params: ProjectorParams) -> None: ...
    @property
    def projector(self) -> str: ...
    def applyA(self, image: ImageBase, projlist: "ProjectionListDevice") -> None:
        """Forward projection: overwrites the loaded batch's values with A image (a device
        image, or a host image copied to the device for the call). RuntimeError before
        prepareBatchLORs or before the values exist."""
    def applyAH(self, projlist: "ProjectionListDevice", image: ImageBase) -> None:
        """Back projection of the loaded batch's values, accumulated into image (device; a
        host image goes through a device copy and back)."""
    def getProjectionPropertyTypes(self, data: ProjectionData) -> Tuple[str, ...]:
        """("LOR", "DetOrient"[, "TOF"]): pass it to ProjectionListDevice*."""

class OperatorProjectorSiddon_GPU(OperatorProjectorDevice):
    """Siddon (multi-ray when params.numRays > 1) on the GPU."""
class OperatorProjectorDD_GPU(OperatorProjectorDevice):
    """Distance-driven on the GPU."""

class ProjectionListDevice:
    """LORs of one (subset, batch) of a histogram or list-mode, built on the GPU, with one
    value per LOR. Not instantiable: use ProjectionListDeviceOwned / ProjectionListDeviceAlias."""
    def prepareBatchLORs(self, subset: int, batch: int) -> None:
        """Builds the LORs of (subset, batch) on the device. Releases the GIL. ValueError out
        of range."""
    def getLoadedBatchSize(self) -> int:
        """LORs in the loaded batch (0 before prepareBatchLORs)."""
    def getBatchCapacity(self) -> int:
        """LORs per batch, from the memory budget."""
    def getNumBatches(self, subset: int) -> int: ...
    def getNumSubsets(self) -> int: ...
    def hasTOF(self) -> bool: ...
    def getReference(self) -> ProjectionData:
        """The Histogram3D or ListModeLUT the LORs come from (held)."""
    def getProjValuesDevicePointer(self) -> int: ...
    def getProjValues(self) -> npt.NDArray[np.float32]:
        """Host copy of the loaded batch's values, [getLoadedBatchSize()]."""
    def setProjValues(self, array: Any) -> None:
        """Copies a host float32 array of getLoadedBatchSize() values to the device."""
    def clearProjections(self, value: float = 0.0) -> None: ...
    def __dlpack__(self, *, stream: Optional[int] = None, max_version: Any = None,
                   dl_device: Any = None, copy: Optional[bool] = None) -> Any:
        """DLPack export (CUDA float32 [getLoadedBatchSize()]) aliasing the values; the tensor
        keeps the list alive."""
    def __dlpack_device__(self) -> Tuple[int, int]:
        """(2, device_id)."""

class ProjectionListDeviceOwned(ProjectionListDevice):
    """ProjectionListDeviceOwned(scanner, data, props, memory_budget, num_subsets): values
    owned on the device; allocate() them. memory_budget: bytes a batch may take (0: 80% of
    the free VRAM). NotImplementedError without CUDA, RuntimeError without a GPU."""
    def __init__(self, scanner: Scanner, data: ProjectionData,
                 props: Optional[Sequence[str]] = None, memory_budget: int = 0,
                 num_subsets: int = 1) -> None: ...
    def allocate(self) -> None:
        """Zeroed device values for getBatchCapacity() LORs."""

class ProjectionListDeviceAlias(ProjectionListDevice):
    """ProjectionListDeviceAlias(scanner, data, props, memory_budget, num_subsets): values in
    memory someone else owns (a torch tensor)."""
    def __init__(self, scanner: Scanner, data: ProjectionData,
                 props: Optional[Sequence[str]] = None, memory_budget: int = 0,
                 num_subsets: int = 1) -> None: ...
    def setProjValuesDevicePointer(self, pointer: int, device_id: int = 0) -> None:
        """Uses the CUDA memory at pointer (tensor.data_ptr(), >= getLoadedBatchSize()
        floats); the caller keeps it alive. ValueError for host memory; BufferError while
        the values are exported."""
    def bind(self, tensor: Any) -> None:
        """Uses a CUDA DLPack tensor of getLoadedBatchSize() float32 values (held); call
        after prepareBatchLORs."""

class OSEM:
    """OSEM reconstruction (YRT-PET's OSEM) over pet_osem_run / pet_osem_run_gpu: the same
    computation as `petrel recon`."""
    def __init__(self, scanner: Scanner, useGPU: bool = False) -> None: ...
    num_MLEM_iterations: int
    num_OSEM_subsets: int
    psfFWHM: float
    """Image-space Gaussian PSF FWHM in mm (0: none)."""
    useGPU: bool
    device: int
    vramBudget: int
    """Bytes the GPU run's batches may take (0: 80% of the free VRAM)."""
    projector: str
    numRays: int
    tofWidth_ps: float
    tofNumStd: float
    numThreads: int
    @property
    def imageParams(self) -> Optional[ImageParams]: ...
    @property
    def dataInput(self) -> Optional[ProjectionData]: ...
    @property
    def scanner(self) -> Scanner: ...
    def setProjector(self, name: str) -> None:
        """"S", "DD" or "MRS"."""
    def setProjectorParams(self, params: ProjectorParams) -> None: ...
    def setNumIterations(self, n: int) -> None: ...
    def setNumSubsets(self, n: int) -> None: ...
    def setDataInput(self, data: ProjectionData) -> None:
        """A Histogram3D or ListModeLUT of this scanner (held)."""
    def setMultiplicativeCorrection(self, array: Any) -> None:
        """Per-bin m (normalisation x attenuation): float32 [num_bins] or (numZBin, numPhi,
        numR), aliased and held; None clears."""
    def setAdditiveCorrection(self, array: Any) -> None:
        """Per-bin a (randoms + scatter, counts); the model is m A x + a. None clears."""
    def setSensitivityImage(self, image: Optional[Image]) -> None:
        """The full A^T m (a histogram subset uses 1/num_OSEM_subsets of it)."""
    def setSensitivityImages(self, images: Optional[Sequence[Image]]) -> None:
        """Per-subset A_s^T m (one image for list-mode)."""
    def getSensitivityImages(self) -> List[Image]: ...
    def generateSensitivityImages(self, params: Optional[ImageParams] = None) -> List[ImageOwned]:
        """Computes and keeps the per-subset sensitivities on params (default:
        setImageParams). Releases the GIL."""
    def setInitialEstimate(self, image: Optional[ImageBase]) -> None: ...
    def setImageParams(self, params: ImageParams) -> None: ...
    def reconstruct(self, out_image: ImageBase) -> ImageBase:
        """Runs OSEM into out_image (host; device too with useGPU) and returns it. Releases
        the GIL; Ctrl-C stops it between subsets."""

def createOSEM(scanner: Scanner, useGPU: bool = False) -> OSEM:
    """YRT-PET's factory: OSEM(scanner, useGPU)."""
