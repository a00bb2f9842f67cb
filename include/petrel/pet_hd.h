/* Qualifiers that let the per-LOR workers compile as C17 and as CUDA C++. */
#ifndef PET_HD_H
#define PET_HD_H
#if defined(__CUDACC__)
#define PET_HD __host__ __device__
#define PET_RESTRICT __restrict__
#define PET_INLINE __forceinline__
#else
#define PET_HD
#define PET_RESTRICT restrict
#define PET_INLINE inline
#endif
/* The per-LOR workers take the walk mode as an argument; inlined into each driver loop, where
 * it is a constant, the compiler drops the other modes' branches from the inner loops. */
#if defined(__CUDACC__)
#define PET_WORKER __forceinline__
#elif defined(__GNUC__)
#define PET_WORKER inline __attribute__((always_inline))
#else
#define PET_WORKER inline
#endif
#endif /* PET_HD_H */
