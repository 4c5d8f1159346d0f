#include <math.h>
#include "fastmath.h"
#include "kernels.h"

OK_CLONES void ok_attention_softmax(float *p, float *lse, size_t rows, size_t tk) {
    for (size_t r = 0; r < rows; r++) {
        float *row = p + r * tk;
        float mx = -INFINITY;
        for (size_t j = 0; j < tk; j++) mx = row[j] > mx ? row[j] : mx;
        if (mx == -INFINITY) {
            for (size_t j = 0; j < tk; j++) row[j] = 0;
            if (lse) lse[r] = -INFINITY;
            continue;
        }
        float sum = 0;
        for (size_t j = 0; j < tk; j++) {
            float e = row[j] == -INFINITY ? 0.0f : ok_expf(row[j] - mx);
            row[j] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        for (size_t j = 0; j < tk; j++) row[j] *= inv;
        if (lse) lse[r] = mx + logf(sum);
    }
}

OK_CLONES void ok_attention_probs(float *p, const float *lse, size_t rows, size_t tk) {
    for (size_t r = 0; r < rows; r++) {
        float *row = p + r * tk;
        float l = lse[r];
        for (size_t j = 0; j < tk; j++) row[j] = (l == -INFINITY || row[j] == -INFINITY) ? 0.0f : ok_expf(row[j] - l);
    }
}

OK_CLONES void ok_attention_dscores(float *dp, const float *p, const float *dout, const float *out, size_t rows, size_t tk,
                                    size_t d, size_t stride) {
    for (size_t r = 0; r < rows; r++) {
        float dot = 0;
        for (size_t c = 0; c < d; c++) dot += dout[r * stride + c] * out[r * stride + c];
        float *dr = dp + r * tk;
        const float *pr = p + r * tk;
        for (size_t j = 0; j < tk; j++) dr[j] = pr[j] * (dr[j] - dot);
    }
}
