#include "fastmath.h"
#include "kernels.h"

#define GELU_SCALE 0.7978845608028654f  // sqrt(2 / pi)

// GELU, tanh approximation (as in GPT-2 and T5 v1.1): 0.5 x (1 + tanh(s (x + 0.044715 x^3)))
OK_CLONES void ok_gelu_forward(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float cube = 0.044715f * x * x * x;
        out[i] = 0.5f * x * (1.0f + ok_tanhf(GELU_SCALE * (x + cube)));
    }
}

OK_CLONES void ok_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float cube = 0.044715f * x * x * x;
        float t = ok_tanhf(GELU_SCALE * (x + cube));
        float sech2 = 1.0f - t * t;
        float local = 0.5f * (1.0f + t) + x * 0.5f * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += local * dout[i];
    }
}

OK_CLONES void ok_relu_forward(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0 ? inp[i] : 0;
}

OK_CLONES void ok_relu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
    for (size_t i = 0; i < n; i++) dinp[i] += inp[i] > 0 ? dout[i] : 0;
}

// SiLU (swish): x sigmoid(x)
OK_CLONES void ok_silu_forward(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = inp[i] * ok_sigmoidf(inp[i]);
}

OK_CLONES void ok_silu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float s = ok_sigmoidf(inp[i]);
        dinp[i] += dout[i] * s * (1.0f + inp[i] * (1.0f - s));
    }
}

OK_CLONES void ok_sigmoid_forward(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = ok_sigmoidf(inp[i]);
}

OK_CLONES void ok_sigmoid_backward(float *dinp, const float *out, const float *dout, size_t n) {
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * out[i] * (1.0f - out[i]);
}

// log sigmoid(x) = -softplus(-x) = min(x, 0) - log(1 + e^-|x|), stable for large |x|.
OK_CLONES void ok_log_sigmoid_forward(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = (x < 0 ? x : 0) - __builtin_logf(1.0f + ok_expf(-__builtin_fabsf(x)));
    }
}

// d/dx log sigmoid(x) = 1 - sigmoid(x) = sigmoid(-x)
OK_CLONES void ok_log_sigmoid_backward(float *dinp, const float *inp, const float *dout, size_t n) {
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * ok_sigmoidf(-inp[i]);
}
