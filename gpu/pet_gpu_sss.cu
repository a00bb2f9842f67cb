/* petrel: the detector-pair sums of the single scatter simulation on the device: one thread
 * per sampled pair over the worker of src/kernels/pet_sss_kernel.h (the host's OpenMP loop in
 * src/recon/pet_scatter.c runs the same worker). */
#include <stdint.h>
#include <string.h>

#include "pet_gpu.h"
#include "pet_gpu_check.cuh"
#include "pet_sss_kernel.h"

namespace {

const int SSS_BLOCK = 128;

/* non-TOF: no scratch (the worker does not touch it when T == 0) */
__global__ void sss_pairs_kernel(pet_sss_tabs t, const uint8_t *__restrict__ need, float *__restrict__ out)
{
  const int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t n = (int64_t)t.num_dets * t.num_dets;
  if (q >= n) return;
  const int32_t a = (int32_t)(q / t.num_dets), b = (int32_t)(q % t.num_dets);
  if (b <= a || !need[q]) return;
  pet_sss_pair(&t, a, b, 1.0f, NULL, out + q);
}

/* TOF: the fine offset grid in local memory */
__global__ void sss_pairs_tof_kernel(pet_sss_tabs t, const uint8_t *__restrict__ need, float *__restrict__ out)
{
  const int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t n = (int64_t)t.num_dets * t.num_dets;
  if (q >= n) return;
  const int32_t a = (int32_t)(q / t.num_dets), b = (int32_t)(q % t.num_dets);
  if (b <= a || !need[q]) return;
  float fine[PET_SSS_FINE_MAX];
  pet_sss_pair(&t, a, b, 1.0f, fine, out + q * t.num_tof_bins);
}

/* uploads n floats into a new device buffer */
pet_status upload(float **dst, const float *src, int64_t n, const char *what)
{
  *dst = NULL;
  if (n <= 0) return PET_OK;
  PET_CUDA(cudaMalloc((void **)dst, (size_t)n * sizeof(float)));
  PET_CUDA(cudaMemcpy(*dst, src, (size_t)n * sizeof(float), cudaMemcpyHostToDevice));
  (void)what;
  return PET_OK;
}

}  // namespace

pet_status pet_gpu_sss_pairs(const struct pet_sss_tabs *t, const uint8_t *need, float *out)
{
  PET_CHECK(t != NULL && need != NULL && out != NULL && t->num_dets > 0 && t->num_points > 0 && t->n_kn >= 2, PET_ERR_ARG,
            "pet_gpu_sss_pairs: NULL or empty tables");
  const int32_t T1 = t->num_tof_bins > 0 ? t->num_tof_bins : 1;
  const int64_t npair = (int64_t)t->num_dets * t->num_dets;
  pet_sss_tabs d = *t;
  float *sd = NULL, *pw = NULL, *knw = NULL, *knr = NULL, *tofw = NULL, *dout = NULL;
  uint8_t *dneed = NULL;
  pet_status st = PET_OK;
  if ((st = pet_cuda_status(cudaMalloc((void **)&dneed, (size_t)npair), "cudaMalloc(need)", __FILE__, __LINE__)) !=
      PET_OK)
    goto done;
  if ((st = pet_cuda_status(cudaMemcpy(dneed, need, (size_t)npair, cudaMemcpyHostToDevice), "cudaMemcpy(need)",
                            __FILE__, __LINE__)) != PET_OK)
    goto done;
  if ((st = upload(&sd, t->sd, (int64_t)t->num_points * t->num_dets * t->nf, "sd")) != PET_OK) goto done;
  if ((st = upload(&pw, t->pw, t->num_points, "pw")) != PET_OK) goto done;
  if ((st = upload(&knw, t->kn_w, t->n_kn, "kn_w")) != PET_OK) goto done;
  if ((st = upload(&knr, t->kn_r, t->n_kn, "kn_r")) != PET_OK) goto done;
  if (t->num_tof_bins > 0 &&
      (st = upload(&tofw, t->tofw, (int64_t)t->fine_n * t->num_tof_bins, "tofw")) != PET_OK)
    goto done;
  if ((st = pet_cuda_status(cudaMalloc((void **)&dout, (size_t)npair * T1 * sizeof(float)), "cudaMalloc(out)",
                            __FILE__, __LINE__)) != PET_OK)
    goto done;
  if ((st = pet_cuda_status(cudaMemset(dout, 0, (size_t)npair * T1 * sizeof(float)), "cudaMemset", __FILE__,
                            __LINE__)) != PET_OK)
    goto done;
  d.sd = sd;
  d.pw = pw;
  d.kn_w = knw;
  d.kn_r = knr;
  d.tofw = tofw;
  {
    unsigned blocks = (unsigned)((npair + SSS_BLOCK - 1) / SSS_BLOCK);
    if (t->num_tof_bins > 0)
      sss_pairs_tof_kernel<<<blocks, SSS_BLOCK>>>(d, dneed, dout);
    else
      sss_pairs_kernel<<<blocks, SSS_BLOCK>>>(d, dneed, dout);
    if ((st = pet_cuda_status(cudaGetLastError(), "sss_pairs_kernel launch", __FILE__, __LINE__)) != PET_OK)
      goto done;
    if ((st = pet_cuda_status(cudaDeviceSynchronize(), "sss_pairs_kernel", __FILE__, __LINE__)) != PET_OK)
      goto done;
  }
  {
    /* copy the a < b entries back (the rest of out is the caller's) */
    float *h = (float *)malloc((size_t)npair * T1 * sizeof(float));
    if (h == NULL) {
      st = PET_ERROR(PET_ERR_NOMEM, "pet_gpu_sss_pairs: no host memory for %lld pairs", (long long)npair);
      goto done;
    }
    st = pet_cuda_status(cudaMemcpy(h, dout, (size_t)npair * T1 * sizeof(float), cudaMemcpyDeviceToHost),
                         "cudaMemcpy(out)", __FILE__, __LINE__);
    if (st == PET_OK)
      for (int32_t a = 0; a < t->num_dets; ++a)
        memcpy(out + ((int64_t)a * t->num_dets + a + 1) * T1, h + ((int64_t)a * t->num_dets + a + 1) * T1,
               (size_t)(t->num_dets - a - 1) * T1 * sizeof(float));
    free(h);
  }
done:
  cudaFree(sd);
  cudaFree(pw);
  cudaFree(knw);
  cudaFree(knr);
  cudaFree(tofw);
  cudaFree(dout);
  cudaFree(dneed);
  return st;
}
