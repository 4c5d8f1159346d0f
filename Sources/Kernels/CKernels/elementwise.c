#include "fastmath.h"
#include "kernels.h"

OK_CLONES void ok_add(float *out, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

OK_CLONES void ok_mul(float *out, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] * b[i];
}

OK_CLONES void ok_accumulate(float *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

OK_CLONES void ok_accumulate_scaled(float *dst, const float *src, float s, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] += s * src[i];
}

OK_CLONES void ok_accumulate_mul(float *dst, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] += a[i] * b[i];
}

OK_CLONES void ok_add_rows(float *out, const float *a, const float *b, size_t rows, size_t c) {
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < c; i++) out[r * c + i] = a[r * c + i] + b[i];
}

OK_CLONES void ok_sum_rows_accumulate(float *db, const float *dout, size_t rows, size_t c) {
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < c; i++) db[i] += dout[r * c + i];
}

OK_CLONES double ok_sum(const float *a, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i];
    return s;
}
