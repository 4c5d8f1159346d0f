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

OK_CLONES void ok_attention_decode(float *out, const float *q, const float *k, const float *v, const float *bias,
                                   size_t rows, size_t t, size_t cap, size_t heads, size_t d, float scale, float *scratch) {
    size_t width = heads * d;
    for (size_t r = 0; r < rows; r++) {
        const float *kr = k + r * cap * width;
        const float *vr = v + r * cap * width;
        for (size_t h = 0; h < heads; h++) {
            const float *qh = q + r * width + h * d;
            float mx = -INFINITY;
            for (size_t j = 0; j < t; j++) {
                const float *kj = kr + j * width + h * d;
                float s = 0;
                for (size_t c = 0; c < d; c++) s += qh[c] * kj[c];
                s = s * scale + (bias ? bias[h * t + j] : 0.0f);
                scratch[j] = s;
                mx = s > mx ? s : mx;
            }
            float sum = 0;
            for (size_t j = 0; j < t; j++) {
                scratch[j] = ok_expf(scratch[j] - mx);
                sum += scratch[j];
            }
            float inv = 1.0f / sum;
            float *oh = out + r * width + h * d;
            for (size_t c = 0; c < d; c++) oh[c] = 0;
            for (size_t j = 0; j < t; j++) {
                const float *vj = vr + j * width + h * d;
                float p = scratch[j] * inv;
                for (size_t c = 0; c < d; c++) oh[c] += p * vj[c];
            }
        }
    }
}
