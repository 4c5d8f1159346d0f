#include <math.h>
#include "fastmath.h"
#include "kernels.h"

// LayerNorm over the last dimension: out = (x - mean) * rstd * weight + bias.
OK_CLONES void ok_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                                    const float *bias, size_t rows, size_t c, float eps) {
    for (size_t r = 0; r < rows; r++) {
        const float *x = inp + r * c;
        float *o = out + r * c;
        float m = 0;
        for (size_t i = 0; i < c; i++) m += x[i];
        m /= (float)c;
        float v = 0;
        for (size_t i = 0; i < c; i++) v += (x[i] - m) * (x[i] - m);
        v /= (float)c;
        float s = 1.0f / sqrtf(v + eps);
        for (size_t i = 0; i < c; i++) o[i] = (x[i] - m) * s * weight[i] + (bias ? bias[i] : 0.0f);
        mean[r] = m;
        rstd[r] = s;
    }
}

OK_CLONES void ok_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                     const float *weight, const float *mean, const float *rstd, size_t rows, size_t c) {
    for (size_t r = 0; r < rows; r++) {
        const float *x = inp + r * c;
        const float *d = dout + r * c;
        float *dx = dinp ? dinp + r * c : 0;
        float m = mean[r], s = rstd[r];
        // dnorm = dout * weight; dx = s * (dnorm - mean(dnorm) - norm * mean(dnorm * norm))
        float dnorm_mean = 0, dnorm_norm_mean = 0;
        for (size_t i = 0; i < c; i++) {
            float norm = (x[i] - m) * s;
            float dnorm = weight[i] * d[i];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
            if (dweight) dweight[i] += norm * d[i];
            if (dbias) dbias[i] += d[i];
        }
        dnorm_mean /= (float)c;
        dnorm_norm_mean /= (float)c;
        if (!dx) continue;
        for (size_t i = 0; i < c; i++) {
            float norm = (x[i] - m) * s;
            dx[i] += s * (weight[i] * d[i] - dnorm_mean - norm * dnorm_norm_mean);
        }
    }
}

// RMSNorm (T5's LayerNorm without mean or bias): out = x * rstd * weight, rstd = 1 / sqrt(mean(x^2) + eps).
OK_CLONES void ok_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, size_t rows,
                                  size_t c, float eps) {
    for (size_t r = 0; r < rows; r++) {
        const float *x = inp + r * c;
        float *o = out + r * c;
        float ss = 0;
        for (size_t i = 0; i < c; i++) ss += x[i] * x[i];
        float s = 1.0f / sqrtf(ss / (float)c + eps);
        for (size_t i = 0; i < c; i++) o[i] = x[i] * s * weight[i];
        rstd[r] = s;
    }
}

OK_CLONES void ok_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                                   const float *weight, const float *rstd, size_t rows, size_t c) {
    for (size_t r = 0; r < rows; r++) {
        const float *x = inp + r * c;
        const float *d = dout + r * c;
        float s = rstd[r];
        // dx = s * (w d - x s^2 mean(w d x))
        float dot = 0;
        for (size_t i = 0; i < c; i++) {
            dot += weight[i] * d[i] * x[i];
            if (dweight) dweight[i] += x[i] * s * d[i];
        }
        dot /= (float)c;
        if (!dinp) continue;
        float *dx = dinp + r * c;
        for (size_t i = 0; i < c; i++) dx[i] += s * (weight[i] * d[i] - x[i] * s * s * dot);
    }
}
