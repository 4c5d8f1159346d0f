#ifndef ONEREC_KERNELS_H
#define ONEREC_KERNELS_H
// Elementwise and row kernels of the engine, llm.c style: a forward/backward pair per op over flat
// float buffers, with the shape in a comment. Backward kernels accumulate into gradients (+=).
// Each is compiled for AVX-512, AVX2 and plain x86-64, picked at load time (target_clones).
#include <stddef.h>
#include <stdint.h>

// ---- activation.c ------------------------------------------------------------------------------
// out, inp are (n)
void ok_gelu_forward(float *out, const float *inp, size_t n);
void ok_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
void ok_relu_forward(float *out, const float *inp, size_t n);
void ok_relu_backward(float *dinp, const float *inp, const float *dout, size_t n);
void ok_silu_forward(float *out, const float *inp, size_t n);
void ok_silu_backward(float *dinp, const float *inp, const float *dout, size_t n);
void ok_sigmoid_forward(float *out, const float *inp, size_t n);
void ok_sigmoid_backward(float *dinp, const float *out, const float *dout, size_t n);
void ok_log_sigmoid_forward(float *out, const float *inp, size_t n);
void ok_log_sigmoid_backward(float *dinp, const float *inp, const float *dout, size_t n);

// ---- norm.c: inp, out are (rows, c); weight, bias are (c); mean, rstd are (rows) ----------------
void ok_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                          const float *bias, size_t rows, size_t c, float eps);
void ok_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                           const float *weight, const float *mean, const float *rstd, size_t rows, size_t c);
void ok_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, size_t rows, size_t c,
                        float eps);
void ok_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                         const float *rstd, size_t rows, size_t c);

// ---- softmax.c: rows of length c ----------------------------------------------------------------
void ok_softmax_forward(float *out, const float *inp, size_t rows, size_t c);
void ok_softmax_backward(float *dinp, const float *out, const float *dout, size_t rows, size_t c);
void ok_log_softmax_forward(float *out, const float *inp, size_t rows, size_t c);
// One row: out = softmax(x); returns log sum exp(x).
float ok_softmax_row_logsum(float *out, const float *x, size_t c);

// ---- loss.c --------------------------------------------------------------------------------------
// Cross-entropy over logits (rows, v) with targets (rows); a target < 0 is ignored. Row loss is
// weight[r] * ((1 - smoothing) * -log p[t] + smoothing * mean_j(-log p[j])); returns the sum of row losses
// and writes the softmax of each row into probs (rows, v) for the backward pass.
double ok_cross_entropy_forward(float *probs, const float *logits, const int32_t *targets, const float *weights,
                                size_t rows, size_t v, float smoothing);
// dlogits += scale * weight[r] * (p - q) where q is the smoothed one-hot target.
void ok_cross_entropy_backward(float *dlogits, const float *probs, const int32_t *targets, const float *weights,
                               size_t rows, size_t v, float smoothing, float scale);
// Binary cross-entropy with logits, (n): returns sum of weight[i] * (softplus(x) - y x).
double ok_bce_logits_forward(const float *logits, const float *labels, const float *weights, size_t n);
// dlogits += scale * weight[i] * (sigmoid(x) - y)
void ok_bce_logits_backward(float *dlogits, const float *logits, const float *labels, const float *weights, size_t n,
                            float scale);

// ---- elementwise.c -------------------------------------------------------------------------------
void ok_add(float *out, const float *a, const float *b, size_t n);          // out = a + b
void ok_mul(float *out, const float *a, const float *b, size_t n);          // out = a * b
void ok_accumulate(float *dst, const float *src, size_t n);                 // dst += src
void ok_accumulate_scaled(float *dst, const float *src, float s, size_t n); // dst += s * src
void ok_accumulate_mul(float *dst, const float *a, const float *b, size_t n); // dst += a * b
// out (rows, c) = a (rows, c) + b (c), broadcast over rows; and the reduction for its backward.
void ok_add_rows(float *out, const float *a, const float *b, size_t rows, size_t c);
void ok_sum_rows_accumulate(float *db, const float *dout, size_t rows, size_t c);  // db (c) += sum_r dout
double ok_sum(const float *a, size_t n);

// ---- adamw.c -------------------------------------------------------------------------------------
// One AdamW step on n parameters; m, v are the moment buffers; bias corrections b1c = 1 - beta1^t,
// b2c = 1 - beta2^t are passed in. Decoupled weight decay: p -= lr * wd * p.
void ok_adamw_step(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                   float eps, float wd, float b1c, float b2c, float grad_scale);
double ok_sum_squares(const float *a, size_t n);

// ---- attention.c: one head's scores (rows = Tq, tk keys), -inf marking masked keys ----------------
// Softmax of each row in place; lse[r] = the row's log-sum-exp, or -inf (and a zero row) if no key is visible.
void ok_attention_softmax(float *p, float *lse, size_t rows, size_t tk);
// p = exp(s - lse[r]) in place: the probabilities again, from saved log-sum-exps (0 where masked).
void ok_attention_probs(float *p, const float *lse, size_t rows, size_t tk);
// dS = P (dP - rowsum(dO O)) in place over dp; dout and out rows are `stride` floats apart, d wide.
void ok_attention_dscores(float *dp, const float *p, const float *dout, const float *out, size_t rows, size_t tk,
                          size_t d, size_t stride);
// One query per row over that row's own cache (decoding): q (rows, H*d); k, v (rows, cap, H*d) with t
// positions filled; bias (H, t) shared by the rows, or NULL; out (rows, H*d). scratch holds t floats.
void ok_attention_decode(float *out, const float *q, const float *k, const float *v, const float *bias,
                         size_t rows, size_t t, size_t cap, size_t heads, size_t d, float scale, float *scratch);

#endif
