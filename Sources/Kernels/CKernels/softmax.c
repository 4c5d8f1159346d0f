#include <math.h>
#include "fastmath.h"
#include "kernels.h"

OK_CLONES void ok_softmax_forward(float *out, const float *inp, size_t rows, size_t c) {
    for (size_t r = 0; r < rows; r++) ok_softmax_row(out + r * c, inp + r * c, c);
}

// dx = p * (dout - sum(dout * p))
OK_CLONES void ok_softmax_backward(float *dinp, const float *out, const float *dout, size_t rows, size_t c) {
    for (size_t r = 0; r < rows; r++) {
        const float *p = out + r * c;
        const float *d = dout + r * c;
        float *dx = dinp + r * c;
        float dot = 0;
        for (size_t i = 0; i < c; i++) dot += p[i] * d[i];
        for (size_t i = 0; i < c; i++) dx[i] += p[i] * (d[i] - dot);
    }
}

// out = x - log sum exp(x), per row.
OK_CLONES void ok_log_softmax_forward(float *out, const float *inp, size_t rows, size_t c) {
    for (size_t r = 0; r < rows; r++) {
        const float *x = inp + r * c;
        float mx = -INFINITY;
        for (size_t i = 0; i < c; i++) mx = x[i] > mx ? x[i] : mx;
        float sum = 0;
        for (size_t i = 0; i < c; i++) sum += ok_expf(x[i] - mx);
        float shift = mx + logf(sum);
        for (size_t i = 0; i < c; i++) out[r * c + i] = x[i] - shift;
    }
}

float ok_softmax_row_logsum(float *out, const float *x, size_t c) { return ok_softmax_row(out, x, c); }
