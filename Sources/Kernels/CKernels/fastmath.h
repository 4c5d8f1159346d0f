// Vectorisable float math for the kernels: expf without a libm call, so loops over it vectorise.
#ifndef ONEREC_FASTMATH_H
#define ONEREC_FASTMATH_H
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#define OK_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

// e^x for float: range reduction x = k ln2 + r, |r| <= ln2/2, then a degree-6 polynomial for e^r
// (relative error about 2e-7 over the float range), scaled by 2^k through the exponent bits.
static inline float ok_expf(float x) {
    if (x > 88.0f) x = 88.0f;  // keeps k <= 127, a finite exponent
    if (x < -87.3365478515625f) x = -87.3365478515625f;
    float k = __builtin_roundf(x * 1.44269504088896341f);
    float r = x - k * 0.693359375f + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float ok_tanhf(float x) {
    float e = ok_expf(-2.0f * __builtin_fabsf(x));
    float t = (1.0f - e) / (1.0f + e);
    return x < 0 ? -t : t;
}

static inline float ok_sigmoidf(float x) { return 1.0f / (1.0f + ok_expf(-x)); }

// out = softmax(x) over c values; returns log sum exp(x), for the losses that need it.
static inline float ok_softmax_row(float *out, const float *x, size_t c) {
    float mx = -__builtin_inff();
    for (size_t i = 0; i < c; i++) mx = x[i] > mx ? x[i] : mx;
    float sum = 0;
    for (size_t i = 0; i < c; i++) {
        out[i] = ok_expf(x[i] - mx);
        sum += out[i];
    }
    float inv = 1.0f / sum;
    for (size_t i = 0; i < c; i++) out[i] *= inv;
    return mx + __builtin_logf(sum);
}
#endif
