/* edge-rnn kernels: LayerNormalization in float (float32, int8w) and in integers (int8).
 * edge_rnn/native/twin.py and twin_int.py mirror them (the integer one bit for bit). */
#include "ern.h"

#include <math.h>

void ern_f_layer_norm(const ern_f_lnorm *ln, float *v)
{
    int i, n = ln->n;
    float mean = 0.0f, var = 0.0f, inv;
    for (i = 0; i < n; i++) {
        mean += v[i];
    }
    mean /= (float)n;
    for (i = 0; i < n; i++) {
        float d = v[i] - mean;
        var += d * d;
    }
    inv = 1.0f / sqrtf(var / (float)n + ln->epsilon);
    for (i = 0; i < n; i++) {
        v[i] = (v[i] - mean) * inv * ln->gamma[i] + ln->beta[i];
    }
}

/* floor(sqrt(v)), bit by bit (no division, no float). */
static uint32_t isqrt64(uint64_t v)
{
    uint64_t r = 0, bit = (uint64_t)1 << 62;
    while (bit > v) {
        bit >>= 2;
    }
    while (bit) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return (uint32_t)r;
}

void ern_q_layer_norm(const ern_q_lnorm *ln, int16_t *v)
{
    int i, n = ln->n, e = 0, sh, k = 16 + ln->q_g - ln->q_out;
    int32_t sum = 0;
    uint64_t ss = 0, var;
    uint32_t r;
    for (i = 0; i < n; i++) {
        sum += v[i];
    }
    /* d = n * (x - mean) is exact (no rounded mean); |d| < n * 2^16 */
    for (i = 0; i < n; i++) {
        int32_t d = n * v[i] - sum;
        ss += (uint64_t)((int64_t)d * d);
    }
    var = (ss + (uint64_t)(n / 2)) / (uint64_t)n + ln->eps; /* n^2 (variance + epsilon) */
    while (var < (uint64_t)1 << 60) { /* even shifts keep sqrt's scale a power of two */
        var <<= 2;
        e++;
    }
    /* sqrt(var) = n * std * 2^(q_in + e), in [2^30, 2^31); r = 2^61 / it, so that
     * (x - mean) / std = d * r * 2^(e - 61) and in Q16 it is d * r >> (45 - e). */
    r = (uint32_t)(((uint64_t)1 << 61) / isqrt64(var));
    sh = 45 - e;
    for (i = 0; i < n; i++) {
        int64_t z = ((int64_t)(n * v[i] - sum) * r + ((int64_t)1 << (sh - 1))) >> sh;
        int64_t y = ((z * ln->gamma[i] + ((int64_t)1 << (k - 1))) >> k) + ln->beta[i];
        v[i] = (int16_t)(y > 32767 ? 32767 : (y < -32768 ? -32768 : y));
    }
}
