"""Type stubs for petrel, the CPython extension module of petrel (YRT-PET's Python API).

Owned objects allocate() their memory; Alias objects bind() memory someone else owns (numpy
arrays through the buffer protocol, CUDA tensors through DLPack or raw device pointers).
Errors: ValueError (bad arguments/config), OSError (files), MemoryError, RuntimeError (use
before allocate()/bind(), CUDA failures), NotImplementedError (feature missing from the build).
"""
import os
from typing import Any, List, NoReturn, Optional, Sequence, Tuple, Union

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
def setNumThreads(num_threads: int) -> None:
    """Host (OpenMP) threads for petrel's loops that do not set their own (numThreads = 0),
    for calls from this Python thread. ValueError unless num_threads >= 1."""
def getNumThreads() -> int:
    """The host threads petrel's loops use by default."""
def getVersionString() -> str:
    """petrel's version (same as __version__)."""

class ImageParams:
    """Image geometry: nx x ny x nz voxels over length_x/y/z mm, centred at (off_x, off_y,
    off_z) mm. Arrays over an image have shape [nz, ny, nx] (x fastest). Read-only
    attributes (deserialize replaces the whole grid).

    ImageParams(nx, ny, nz, length_x, length_y, length_z, off_x=0, off_y=0, off_z=0, nt=1)
    (YRT-PET's keywords offset_x/y/z work too), ImageParams(filename) (YRT-PET's
    image-parameters JSON; ValueError naming the file and the field when malformed) or
    ImageParams(other). nt > 1: NotImplementedError."""
    def __init__(self, nx: Union[int, _Path, "ImageParams"], ny: int = ..., nz: int = ...,
                 length_x: float = ..., length_y: float = ..., length_z: float = ...,
                 off_x: float = 0.0, off_y: float = 0.0, off_z: float = 0.0, nt: int = 1,
                 *, offset_x: float = ..., offset_y: float = ...,
                 offset_z: float = ...) -> None: ...
    @property
    def nt(self) -> int:
        """Always 1."""
    @property
    def fov_radius(self) -> float:
        """max(length_x, length_y) / 2 - max(vx, vy) / 1000, mm (YRT-PET's)."""
    def serialize(self, fname: _Path) -> None:
        """Writes the image-parameters JSON (VERSION, nx, ny, nz, vx, vy, vz, off_x, off_y,
        off_z, nt), atomically."""
    def writeToFile(self, fname: _Path) -> None:
        """Same as serialize."""
    def deserialize(self, fname: _Path) -> None:
        """Replaces this grid by the file's; ValueError naming the file and the field (the
        object is then unchanged), OSError when unreadable."""
    def readFromFile(self, fname: _Path) -> None:
        """Same as deserialize."""
    def toString(self) -> str:
        """The JSON text serialize writes."""
    def getShape(self) -> Tuple[int, int, int, int]:
        """(nt, nz, ny, nx)."""
    def isSameAs(self, other: "ImageParams") -> bool: ...
    def isSameAsIgnoreFrames(self, other: "ImageParams") -> bool: ...
    def isSameDimensionsAs(self, other: "ImageParams") -> bool: ...
    def isSameLengthsAs(self, other: "ImageParams") -> bool: ...
    def isSameOffsetAs(self, other: "ImageParams") -> bool: ...
    @classmethod
    def fromParams(cls, nx: int, ny: int, nz: int, vx: float, vy: float, vz: float,
                   origin_x: float = ..., origin_y: float = ..., origin_z: float = ...,
                   nt: int = 1) -> "ImageParams":
        """From voxel sizes: centred at 0, or with voxel (0, 0, 0) centred at the origin."""
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
    def fill(self, value: float) -> None:
        """Same as setValue (YRT-PET's current name)."""
    def multWithScalar(self, scalar: float) -> None:
        """Host images: every voxel *= scalar."""
    def addFirstImageToSecond(self, second: "ImageBase") -> None:
        """second += self (host images of the same grid)."""
    def applyThreshold(self, maskImage: "ImageBase", threshold: float, val_le_scale: float,
                       val_le_off: float, val_gt_scale: float, val_gt_off: float) -> None:
        """v = v*le_scale + le_off where mask <= threshold, else v*gt_scale + gt_off."""
    def updateEMThresholdStatic(self, update_img: "ImageBase", sens_img: "ImageBase",
                                threshold: float) -> None:
        """v *= update / sens where sens > threshold."""
    def dotProduct(self, y: "ImageBase") -> float:
        """sum(self * y), accumulated in double."""
    def voxelSum(self) -> float: ...
    def getRadius(self) -> float:
        """The grid's fov_radius, mm."""
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
    def readFromFile(self, filename: _Path) -> None:
        """Reads a NIfTI image of this grid into the image (allocating it when needed)."""

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
    def readFromFile(self, filename: _Path) -> None: ...

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
    energyResolution: float
    """YRT-PET's name for fwhm."""
    detsPerRing: int
    numRings: int
    numDOI: int
    maxRingDiff: int
    minAngDiff: int
    detsPerBlock: int
    def getNumDets(self) -> int: ...
    def getLUT(self) -> npt.NDArray[np.float32]:
        """Copy of the detector table (num_dets, 6): x, y, z (mm), outward normal."""
    def createLUT(self) -> npt.NDArray[np.float32]:
        """YRT-PET's name for getLUT: the (num_dets, 6) float32 LUT, .lut row order."""
    def getDetectorPos(self, det_id: int) -> Tuple[float, float, float]:
        """(x, y, z) in mm, a struct sequence with .x, .y, .z (YRT-PET's Vector3D)."""
    def getDetectorOrient(self, det_id: int) -> Tuple[float, float, float]:
        """The outward unit normal, with .x, .y, .z."""
    def isDetectorAllowed(self, det_id: int) -> bool: ...
    def hasMask(self) -> bool: ...
    def getExpectedNumDets(self) -> int: ...
    def isValid(self) -> bool: ...
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
    def getBinIter(self, num_subsets: int, idx_subset: int) -> BinIter: ...

class Histogram3D(ProjectionData):
    """Fully-3D histogram; buffer protocol: float32 (numZBin, numPhi, numR), or
    (numZBin, numPhi, numR, numTOFBins) for a TOF histogram (TOF the fastest axis)."""
    numZBin: int
    numPhi: int
    numR: int
    histoSize: int
    @property
    def numTOFBins(self) -> int:
        """TOF bins per bin; 0 = no TOF."""
    @property
    def tofBinWidth_ps(self) -> float:
        """Width of one TOF bin (ps); 0 = no TOF."""
    def setTOFBins(self, num_tof_bins: int, tof_bin_width_ps: float = 0.0) -> None:
        """Makes this a TOF histogram before allocate()/bind() (0 = none); ValueError for a bad
        count (1..64) or width, RuntimeError once it has memory."""
    def clearProjections(self, value: float = 0.0) -> None: ...
    def getShape(self) -> Tuple[int, int, int]:
        """(numZBin, numPhi, numR)."""
    def isMemoryValid(self) -> bool: ...
    def getBinIdFromCoords(self, r: int, phi: int, z_bin: int) -> int: ...
    def getCoordsFromBinId(self, bin_id: int) -> Tuple[int, int, int]:
        """(r, phi, z_bin)."""
    def getDetPairFromCoords(self, r: int, phi: int, z_bin: int) -> Tuple[int, int]:
        """(d1, d2) as YRT-PET's tables give them; ValueError outside the histogram."""
    def getDetPairFromBinId(self, bin_id: int) -> Tuple[int, int]: ...
    def getBinIdFromDetPair(self, d1: int, d2: int) -> int:
        """ValueError for a pair the histogram has no bin for."""
    def getCoordsFromDetPair(self, d1: int, d2: int) -> Tuple[int, int, int]: ...
    def getZ1Z2(self, z_bin: int) -> Tuple[int, int]:
        """The rings (z1, z2) of a z-bin."""
    def getProjectionValue(self, bin_id: int, tof_bin: int = 0) -> float: ...
    def setProjectionValue(self, bin_id: int, val: float, tof_bin: int = 0) -> None: ...
    def incrementProjection(self, bin_id: int, inc_val: float, tof_bin: int = 0) -> None: ...
    def writeToFile(self, filename: _Path) -> None:
        """Writes a YRT-PET .his file."""
    def readFromFile(self, filename: _Path) -> None:
        """Reads a .his file of this scanner into the allocated/bound bins."""
    def __array__(self, dtype: Any = None, copy: Optional[bool] = None) -> npt.NDArray[np.float32]: ...

class Histogram3DOwned(Histogram3D):
    def __init__(self, scanner: Scanner, filename: Optional[_Path] = None, *,
                 num_tof_bins: int = 0, tof_bin_width_ps: float = 0.0) -> None: ...
    def allocate(self) -> None: ...

class Histogram3DAlias(Histogram3D):
    def __init__(self, scanner: Scanner, *, num_tof_bins: int = 0,
                 tof_bin_width_ps: float = 0.0) -> None: ...
    def bind(self, array: Any) -> None:
        """Binds a writable C-contiguous float32 (numZBin, numPhi, numR) array, with
        numTOFBins last for a TOF histogram (held)."""

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
    SIDDON: str
    """"S" (YRT-PET's projector type names map to petrel's names)."""
    DD: str
    class ProjectorType:
        SIDDON: str
        DD: str
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
    """OSEM reconstruction (YRT-PET's OSEM) over pet_osem_run (its GPU backend with use_gpu): the same
    computation as `petrel recon`. YRT-PET's defaults: 10 iterations, 1 subset,
    hardThreshold 1.0, initial value 0.125."""
    def __init__(self, scanner: Scanner, use_gpu: bool = False, is_low_rank: bool = False,
                 *, useGPU: bool = ...) -> None:
        """RuntimeError naming what is missing when use_gpu=True and there is no GPU;
        NotImplementedError for is_low_rank=True."""
    num_MLEM_iterations: int
    num_OSEM_subsets: int
    hardThreshold: float
    """Generated sensitivity voxels <= hardThreshold are set to 0 (default 1.0)."""
    initialValue: float
    """Uniform initial image value without an initial estimate (default 0.125). petrel name."""
    initialEstimate: Optional[ImageBase]
    projectorType: str
    """Same as projector ("S", "DD", "MRS"; OperatorProjector.SIDDON / .DD)."""
    maskImage: None
    """Always None; setting an image raises NotImplementedError."""
    psfFWHM: float
    """Image-space Gaussian PSF FWHM in mm (0: none)."""
    useGPU: bool
    """Setting True without a GPU raises RuntimeError."""
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
    def getProjectorParams(self) -> ProjectorParams: ...
    def setNumIterations(self, n: int) -> None: ...
    def setNumSubsets(self, n: int) -> None: ...
    def setNumRays(self, num_rays: int) -> None: ...
    def getNumRays(self) -> int: ...
    def addTOF(self, tof_width_ps: float, tof_num_std: float) -> None: ...
    def setDataInput(self, data: ProjectionData) -> None:
        """A Histogram3D or ListModeLUT of this scanner (held)."""
    def getDataInput(self) -> Optional[ProjectionData]: ...
    def setListModeEnabled(self, enabled: bool) -> None: ...
    def isListModeEnabled(self) -> bool: ...
    def getExpectedSensImagesAmount(self) -> int: ...
    def setMultiplicativeCorrection(self, array: Any) -> None:
        """Per-bin m (normalisation x attenuation): float32 [num_bins] or (numZBin, numPhi,
        numR), aliased and held; None clears."""
    def setAdditiveCorrection(self, array: Any) -> None:
        """Per-bin a (randoms + scatter, counts); the model is m A x + a. None clears."""
    def setSensitivityHistogram(self, sens_his: Optional[Histogram3D]) -> None:
        """Per-bin sensitivity factors, multiplied into m."""
    def getSensitivityHistogram(self) -> Optional[Histogram3D]: ...
    def setInvertSensitivity(self, invert: bool = True) -> None: ...
    def setGlobalScalingFactor(self, global_scale: float) -> None: ...
    def setACFHistogram(self, acf_his: Optional[Histogram3D]) -> None:
        """Attenuation factors exp(-integral mu), multiplied into m."""
    def setInVivoACFHistogram(self, acf_invivo_his: Optional[Histogram3D]) -> None: ...
    def setHardwareACFHistogram(self, acf_hardware_his: Optional[Histogram3D]) -> None: ...
    def setAttenuationImage(self, att_image: Optional[Image]) -> None:
        """mu-map (1/mm): m *= exp(-A mu)."""
    def setInVivoAttenuationImage(self, att_invivo: Optional[Image]) -> None: ...
    def setHardwareAttenuationImage(self, att_hardware: Optional[Image]) -> None: ...
    def setRandomsHistogram(self, randoms_his: Optional[Histogram3D]) -> None:
        """Randoms in counts, added to a."""
    def setScatterHistogram(self, scatter_his: Optional[Histogram3D]) -> None:
        """Scatter in counts, added to a."""
    def setSensitivityImage(self, sens_image: Optional[Image], subset: Optional[int] = None) -> None:
        """With subset: that subset's A_s^T m (YRT-PET). Without: the full A^T m (a histogram
        subset uses 1/num_OSEM_subsets of it). ValueError for another grid than
        setImageParams'."""
    def setSensitivityImages(self, images: Optional[Sequence[Image]]) -> None:
        """Per-subset A_s^T m (one image for list-mode)."""
    def getSensitivityImages(self) -> List[Optional[Image]]: ...
    def generateSensitivityImages(self, out_fname: Union[str, _Path, ImageParams] = "",
                                  saveToMemory: bool = True,
                                  params: Optional[ImageParams] = None) -> List[ImageOwned]:
        """Computes and keeps the per-subset sensitivities (voxels <= hardThreshold set to 0);
        writes them to out_fname ("<stem>_subset<k><ext>" for several). Releases the GIL."""
    def setInitialEstimate(self, image: Optional[ImageBase]) -> None: ...
    def setImageParams(self, params: ImageParams) -> None:
        """The output grid (copied)."""
    def getImageParams(self) -> Optional[ImageParams]: ...
    def summary(self) -> None:
        """Prints the settings."""
    @property
    def algorithm(self) -> str:
        """'osem', 'osl' or 'bsrem' (setAlgorithm)."""
    @property
    def prior(self) -> str:
        """'none', 'rdp' or 'quadratic' (setPrior)."""
    @property
    def beta(self) -> float: ...
    @property
    def gamma(self) -> float: ...
    @property
    def epsilon(self) -> float: ...
    @property
    def relaxation(self) -> float: ...
    @property
    def relaxationEta(self) -> float: ...
    def setAlgorithm(self, name: str) -> None:
        """'osem' (default), 'osl' (one-step-late MAP-OSEM) or 'bsrem'; ValueError otherwise. A
        prior with beta > 0 needs 'osl' or 'bsrem' (reconstruct raises ValueError)."""
    def setPrior(self, name: str, beta: float = 0.0, gamma: float = 2.0,
                 epsilon: float = 1e-7) -> None:
        """'none', 'rdp' (relative difference, STIR's definition) or 'quadratic'; beta is STIR's
        penalisation factor. ValueError for an unknown name or a negative/non-finite value."""
    def setRelaxation(self, relaxation: float, eta: float = 0.1) -> None:
        """BSREM's step in iteration k: relaxation / (1 + eta k)."""
    def penalty(self, image: ImageBase) -> float:
        """The prior's value U(image) of a host image."""
    def penaltyGradient(self, image: ImageBase) -> ImageOwned:
        """dU/dx at a host image, as a new ImageOwned on its grid."""
    def addUniformGaussianImagePSFFromFWHM(self, fwhm_x: float, fwhm_y: float,
                                           fwhm_z: float) -> None:
        """psfFWHM = fwhm when the three are equal; NotImplementedError otherwise."""
    def reconstruct(self, out_fname: Union[None, _Path, ImageBase] = None) -> ImageBase:
        """Runs OSEM. None: a new ImageOwned on the grid of setImageParams (or of the
        sensitivity images); a file name: the same, also written there; an image: reconstructs
        into it (ValueError when its grid differs from setImageParams'). Releases the GIL;
        Ctrl-C stops it between subsets."""
    def addProjPSF(self, *args: Any, **kwargs: Any) -> NoReturn:
        """NotImplementedError: no projection-space PSF in petrel."""
    def addImagePSF(self, *args: Any, **kwargs: Any) -> NoReturn:
        """NotImplementedError: no file-based image-space PSF in petrel (use psfFWHM)."""
    def setSaveIterRanges(self, *args: Any, **kwargs: Any) -> NoReturn: ...
    def setMaskImage(self, *args: Any, **kwargs: Any) -> NoReturn: ...
    def setHBasis(self, *args: Any, **kwargs: Any) -> NoReturn: ...
    def getHBasis(self, *args: Any, **kwargs: Any) -> NoReturn: ...
    def setHBasisFromNumpy(self, *args: Any, **kwargs: Any) -> NoReturn: ...
    def getHBasisNumpy(self, *args: Any, **kwargs: Any) -> NoReturn: ...
    def setUpdateH(self, *args: Any, **kwargs: Any) -> NoReturn: ...
    def getUpdateH(self, *args: Any, **kwargs: Any) -> NoReturn: ...
    def setProjectorUpdaterType(self, *args: Any, **kwargs: Any) -> NoReturn: ...
    def getProjectorUpdaterType(self, *args: Any, **kwargs: Any) -> NoReturn: ...

def createOSEM(scanner: Scanner, use_gpu: bool = False, is_low_rank: bool = False, *,
               useGPU: bool = ...) -> OSEM:
    """YRT-PET's factory: OSEM(scanner, use_gpu). RuntimeError naming what is missing when
    use_gpu=True without a GPU."""

def reconstructConfig(config: Union[_Path, dict], **overrides: Any) -> ImageOwned:
    """The reconstruction of a petrel config, the same job as `petrel recon --config`: returns
    the image (with return_scatter=True: (image, scatter), the final estimate of
    scatter="estimate" as a float32 array, or None). config: a JSON config file (relative paths from its folder) or a dict of its
    keys (relative to the working directory); overrides: config fields (iterations=2,
    use_gpu=False, image_nx=64, ...). "output" is not written. ValueError names a bad field."""

def createOperatorProjector(proj_params: ProjectorParams, bin_iter: Optional[BinIter] = None,
                            constraints: Optional[Sequence[Any]] = None) -> OperatorProjector:
    """OperatorProjectorDD or OperatorProjectorSiddon from proj_params."""
def forwProject(*args: Any, **kwargs: Any) -> None:
    """forwProject(scanner, img, proj_data, [bin_iter,] projector_type="S", use_gpu=False) or
    forwProject(img, proj_data, proj_params, bin_iter, use_gpu=False): overwrites the bins."""
def backProject(*args: Any, **kwargs: Any) -> None:
    """backProject in forwProject's forms: accumulates into img."""
def histogram3DToListModeLUT(histo: Histogram3D, lm_out: ListModeLUTOwned,
                             num_events: int = 0) -> None:
    """round(h[b] / sum * num_events) events of each bin's pair, time 0."""
def convertToHistogram3D(listmode_input: ProjectionData, histo_out: Optional[Histogram3D] = None,
                         detector_mask: None = None) -> Optional[Histogram3DOwned]:
    """One count per event in its pair's bin; a new Histogram3DOwned without histo_out."""

class ImagePSFMode:
    """YRT-PET's image-PSF modes (OSEM.addImagePSF raises NotImplementedError)."""
    UNIFORM: int
    VARIANT: int

# YRT-PET names petrel has no feature for: calling them raises NotImplementedError naming the
# feature (see the README's Python section).
def DynamicFraming(*args: Any, **kwargs: Any) -> NoReturn: ...
def LORMotion(*args: Any, **kwargs: Any) -> NoReturn: ...
def timeAverageMoveImage(*args: Any, **kwargs: Any) -> NoReturn: ...
def timeAverageMoveImageDynamic(*args: Any, **kwargs: Any) -> NoReturn: ...
def getFullTimeRange(*args: Any, **kwargs: Any) -> NoReturn: ...
def fromRotationAndTranslationVectors(*args: Any, **kwargs: Any) -> NoReturn: ...
def RangeList(*args: Any, **kwargs: Any) -> NoReturn: ...
def OperatorPsf(*args: Any, **kwargs: Any) -> NoReturn: ...
def OperatorVarPsf(*args: Any, **kwargs: Any) -> NoReturn: ...
def SparseHistogram(*args: Any, **kwargs: Any) -> NoReturn: ...
def UniformHistogram(*args: Any, **kwargs: Any) -> NoReturn: ...
def ListModeLUTDOIOwned(*args: Any, **kwargs: Any) -> NoReturn: ...
def ListModeLUTDOIAlias(*args: Any, **kwargs: Any) -> NoReturn: ...
def convertToListModeLUT(*args: Any, **kwargs: Any) -> NoReturn: ...
def compareListModes(*args: Any, **kwargs: Any) -> NoReturn: ...
def generateTORRandomDOI(*args: Any, **kwargs: Any) -> NoReturn: ...
def DetectorMask(*args: Any, **kwargs: Any) -> NoReturn: ...
def Line3D(*args: Any, **kwargs: Any) -> NoReturn: ...
def TubeOfResponse(*args: Any, **kwargs: Any) -> NoReturn: ...
def MultiRayGenerator(*args: Any, **kwargs: Any) -> NoReturn: ...
def BinFilter(*args: Any, **kwargs: Any) -> NoReturn: ...
def ScatterEstimator(*args: Any, **kwargs: Any) -> NoReturn: ...
def SingleScatterSimulator(*args: Any, **kwargs: Any) -> NoReturn: ...
def ScatterSpace(*args: Any, **kwargs: Any) -> NoReturn: ...
def Crystal(*args: Any, **kwargs: Any) -> NoReturn: ...
def SRTM(*args: Any, **kwargs: Any) -> NoReturn: ...
def PluginRegistry(*args: Any, **kwargs: Any) -> NoReturn: ...
