"""Type stubs for petrel, the CPython extension module of petrel (YRT-PET's Python API).

Owned objects allocate() their memory; Alias objects bind() memory someone else owns (numpy
arrays through the buffer protocol, CUDA tensors through DLPack or raw device pointers).
Errors: ValueError (bad arguments/config), OSError (files), MemoryError, RuntimeError (use
before allocate()/bind(), CUDA failures), NotImplementedError (feature missing from the build).
"""
import os
from typing import Any, Optional, Tuple, Union

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
