#include <math.h>
#include "fastmath.h"
#include "kernels.h"

// AdamW (Loshchilov & Hutter): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= lr * (m / b1c) / (sqrt(v / b2c) + eps) + lr * wd * p. g is scaled by grad_scale first (clipping).
OK_CLONES void ok_adamw_step(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1,
                             float beta2, float eps, float wd, float b1c, float b2c, float grad_scale) {
    for (size_t i = 0; i < n; i++) {
        float grad = g[i] * grad_scale;
        float mi = beta1 * m[i] + (1.0f - beta1) * grad;
        float vi = beta2 * v[i] + (1.0f - beta2) * grad * grad;
        m[i] = mi;
        v[i] = vi;
        float mhat = mi / b1c;
        float vhat = vi / b2c;
        p[i] -= lr * (mhat / (sqrtf(vhat) + eps) + wd * p[i]);
    }
}

OK_CLONES double ok_sum_squares(const float *a, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)a[i];
    return s;
}
