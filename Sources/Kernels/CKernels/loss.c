#include <math.h>
#include "fastmath.h"
#include "kernels.h"

OK_CLONES double ok_cross_entropy_forward(float *probs, const float *logits, const int32_t *targets,
                                          const float *weights, size_t rows, size_t v, float smoothing) {
    double total = 0;
    for (size_t r = 0; r < rows; r++) {
        const float *x = logits + r * v;
        float logsum = ok_softmax_row(probs + r * v, x, v);  // log sum exp
        int32_t t = targets[r];
        float w = weights ? weights[r] : 1.0f;
        if (t < 0 || w == 0) continue;
        double nll = (double)(logsum - x[t]);
        if (smoothing > 0) {
            double mean_nll = 0;
            for (size_t i = 0; i < v; i++) mean_nll += (double)(logsum - x[i]);
            mean_nll /= (double)v;
            nll = (1.0 - smoothing) * nll + smoothing * mean_nll;
        }
        total += (double)w * nll;
    }
    return total;
}

OK_CLONES void ok_cross_entropy_backward(float *dlogits, const float *probs, const int32_t *targets,
                                         const float *weights, size_t rows, size_t v, float smoothing, float scale) {
    float uniform = smoothing / (float)v;
    for (size_t r = 0; r < rows; r++) {
        int32_t t = targets[r];
        float w = weights ? weights[r] : 1.0f;
        if (t < 0 || w == 0) continue;
        const float *p = probs + r * v;
        float *d = dlogits + r * v;
        float s = scale * w;
        for (size_t i = 0; i < v; i++) d[i] += s * (p[i] - uniform);
        d[t] -= s * (1.0f - smoothing);
    }
}

OK_CLONES double ok_bce_logits_forward(const float *logits, const float *labels, const float *weights, size_t n) {
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        float x = logits[i];
        // softplus(x) = max(x, 0) + log(1 + e^-|x|)
        float softplus = (x > 0 ? x : 0) + logf(1.0f + ok_expf(-fabsf(x)));
        total += (double)(weights ? weights[i] : 1.0f) * (double)(softplus - labels[i] * x);
    }
    return total;
}

OK_CLONES void ok_bce_logits_backward(float *dlogits, const float *logits, const float *labels, const float *weights,
                                      size_t n, float scale) {
    for (size_t i = 0; i < n; i++) {
        dlogits[i] += scale * (weights ? weights[i] : 1.0f) * (ok_sigmoidf(logits[i]) - labels[i]);
    }
}
