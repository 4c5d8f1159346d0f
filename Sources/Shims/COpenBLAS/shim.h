#ifndef ONEREC_COPENBLAS_SHIM_H
#define ONEREC_COPENBLAS_SHIM_H
// Declarations only. The library itself is opened with dlopen by the BLAS wrapper once
// OPENBLAS_CORETYPE is set, because OpenBLAS picks its kernels when it is loaded.
#include <cblas.h>
#include <dlfcn.h>

typedef void (*onerec_sgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const enum CBLAS_TRANSPOSE,
                                const blasint, const blasint, const blasint, const float,
                                const float *, const blasint, const float *, const blasint,
                                const float, float *, const blasint);
typedef void (*onerec_sgemv_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const blasint, const blasint,
                                const float, const float *, const blasint, const float *, const blasint,
                                const float, float *, const blasint);
typedef void (*onerec_saxpy_fn)(const blasint, const float, const float *, const blasint, float *, const blasint);
typedef float (*onerec_sdot_fn)(const blasint, const float *, const blasint, const float *, const blasint);
typedef void (*onerec_set_threads_fn)(int);
typedef int (*onerec_get_threads_fn)(void);
typedef char *(*onerec_get_string_fn)(void);
#endif
