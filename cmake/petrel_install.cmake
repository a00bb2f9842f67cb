# Installation: `cmake --install build --prefix P` gives
#   P/bin/petrel                          the command (app/)
#   P/lib/libpetrel.a                     every floor's objects
#   P/include/petrel/*.h                  the public headers and the generated pet_version.h
#   P/lib/cmake/petrel/                   petrelConfig.cmake: find_package(petrel), petrel::petrel
#   P/share/petrel/slurm/*.sbatch         the sbatch scripts
#   P/share/petrel/examples/{config,python}
#   P/<Python site dir>/petrel*.so        python/CMakeLists.txt (PET_PYTHON_INSTALL_DIR)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS petrel EXPORT petrelTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/petrel/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/petrel
        FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/petrel/pet_version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/petrel)

set(PET_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/petrel)
install(EXPORT petrelTargets NAMESPACE petrel:: DESTINATION ${PET_CMAKE_INSTALL_DIR})
# What petrelConfig.cmake looks for again: the libraries found by hand here, by their paths.
get_filename_component(PET_NIFTI_LIBRARY_DIR ${NIFTI_IO_LIBRARY} DIRECTORY)
set(PET_HAVE_MPI OFF)
if(TARGET MPI::MPI_C)
  set(PET_HAVE_MPI ON)
endif()
set(PET_HAVE_CAIRO OFF)
if(CAIRO_FOUND)
  set(PET_HAVE_CAIRO ON)
endif()
set(PET_HAVE_NCCL OFF)
if(TARGET nccl)
  set(PET_HAVE_NCCL ON)
  get_filename_component(PET_NCCL_LIBRARY_DIR ${NCCL_LIBRARY} DIRECTORY)
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/petrelConfig.cmake.in
  ${PROJECT_BINARY_DIR}/petrelConfig.cmake INSTALL_DESTINATION ${PET_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/petrelConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/petrelConfig.cmake ${PROJECT_BINARY_DIR}/petrelConfigVersion.cmake
        DESTINATION ${PET_CMAKE_INSTALL_DIR})

install(PROGRAMS ${PROJECT_SOURCE_DIR}/slurm/petrel-1gpu.sbatch ${PROJECT_SOURCE_DIR}/slurm/petrel-node.sbatch
                 ${PROJECT_SOURCE_DIR}/slurm/petrel-multinode.sbatch ${PROJECT_SOURCE_DIR}/slurm/petrel-cpu.sbatch
        DESTINATION ${CMAKE_INSTALL_DATADIR}/petrel/slurm)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/config/examples/ DESTINATION ${CMAKE_INSTALL_DATADIR}/petrel/examples/config)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/python/examples/ DESTINATION ${CMAKE_INSTALL_DATADIR}/petrel/examples/python)
