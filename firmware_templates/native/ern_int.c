/* edge-rnn kernels: full integer (int8 weights, int16 Q-format activations, int32 sums).
 * edge_rnn/native/twin.py mirrors every function here bit for bit. */
#include "ern.h"

#if defined(__GNUC__) || defined(__clang__)
#define ERN_INLINE static inline __attribute__((always_inline))
#else
#define ERN_INLINE static inline
#endif

/* Linear interpolation in a 513-entry table; u < 512 << bits. */
ERN_INLINE int32_t interp(const int16_t *table, int32_t u, int bits)
{
    int32_t i = u >> bits, f = u & ((1 << bits) - 1);
    int32_t t0 = table[i];
    return t0 + (((table[i + 1] - t0) * f + (1 << (bits - 1))) >> bits);
}

ERN_INLINE int16_t tanh_q(int32_t x)
{
    int32_t u = x < 0 ? -x : x;
    int32_t y = u >= (512 << 5) ? 32767 : interp(ern_tanh_table, u, 5);
    return (int16_t)(x < 0 ? -y : y);
}

ERN_INLINE int16_t sigmoid_q(int32_t x)
{
    /* sigmoid(x) = (1 + tanh(x / 2)) / 2 */
    int32_t u = x < 0 ? -x : x;
    int32_t t = interp(ern_tanh_table, u > 32767 ? 32767 : u, 6);
    int32_t y = (x < 0 ? 32768 - t : 32768 + t) + 1;
    return (int16_t)(y >= 65536 ? 32767 : y >> 1);
}

ERN_INLINE int16_t hard_sigmoid_q(int32_t x)
{
    /* (x + 3) / 6 with x in Q11 -> Q15: (x + 6144) * 8 / 3 */
    int32_t v = x + 6144;
    if (v <= 0) {
        return 0;
    }
    v = (v * 43691 + 8192) >> 14;
    return (int16_t)(v > 32767 ? 32767 : v);
}

int16_t ern_q_exp_neg(int32_t x)
{
    int32_t u = -x;
    return (int16_t)(u >= (512 << 6) ? 0 : interp(ern_exp_table, u, 6));
}

int16_t ern_q_tanh(int32_t x)
{
    return tanh_q(x);
}

int16_t ern_q_sigmoid(int32_t x)
{
    return sigmoid_q(x);
}

int16_t ern_q_hard_sigmoid(int32_t x)
{
    return hard_sigmoid_q(x);
}

/* Inlined wherever act is a constant, so each gate loop gets one activation, not a switch. */
ERN_INLINE int16_t act_q(int16_t p, uint8_t act)
{
    switch (act) {
    case ERN_TANH:
        return tanh_q(p);
    case ERN_SIGMOID:
        return sigmoid_q(p);
    case ERN_HARD_SIGMOID:
        return hard_sigmoid_q(p);
    case ERN_RELU:
        return p > 0 ? p : 0;
    default:
        return p;
    }
}

int16_t ern_q_act(int16_t p, uint8_t act)
{
    return act_q(p, act);
}

int16_t ern_q_activate(int32_t acc, int32_t mult, int shift, uint8_t act)
{
    return act_q(ern_q_requant(acc, mult, shift), act);
}

void ern_q_convert(const int16_t *src, int16_t *dst, int n, int q_src, int q_dst)
{
    int i;
    for (i = 0; i < n; i++) {
        dst[i] = ern_q_shift(src[i], q_src - q_dst);
    }
}

void ern_q_softmax(int16_t *v, int n)
{
    int i;
    int32_t max = v[0], sum = 0;
    for (i = 1; i < n; i++) {
        max = v[i] > max ? v[i] : max;
    }
    for (i = 0; i < n; i++) {
        int32_t d = v[i] - max;
        v[i] = ern_q_exp_neg(d < -32768 ? -32768 : d);
        sum += v[i];
    }
    for (i = 0; i < n; i++) { /* sum >= 32767: the max element has exp(0) */
        int32_t p = (int32_t)(((int64_t)v[i] * 32768 + sum / 2) / sum);
        v[i] = (int16_t)(p > 32767 ? 32767 : p);
    }
}

/* Rows [r0, r1) of a cell over the first n columns of v: act(requant(bias + W v)), two rows
 * per pass so each loaded value of v feeds both. */
ERN_INLINE void rows_act(const ern_q_cell *cell, int r0, int r1, const int16_t *v, int n,
                         uint8_t act, int16_t *out)
{
    int k = cell->in_pad + cell->units_pad, r;
    const int8_t *w = cell->wq + (long)r0 * k;
    const int32_t *bias = cell->bias, *mult = cell->mult;
    const int8_t *shift = cell->shift;
    for (r = r0; r + 1 < r1; r += 2, w += 2 * k) {
        int32_t a0 = bias ? bias[r] : 0, a1 = bias ? bias[r + 1] : 0;
        ern_q_dot2(w, w + k, v, n, &a0, &a1);
        out[r] = act_q(ern_q_requant(a0, mult[r], shift[r]), act);
        out[r + 1] = act_q(ern_q_requant(a1, mult[r + 1], shift[r + 1]), act);
    }
    if (r < r1) {
        int32_t a0 = ern_q_dot(w, v, n, bias ? bias[r] : 0);
        out[r] = act_q(ern_q_requant(a0, mult[r], shift[r]), act);
    }
}

static void gate_rows(const ern_q_cell *cell, int r0, int r1, const int16_t *v, int n, uint8_t act,
                      int16_t *out)
{
    switch (act) {
    case ERN_TANH:
        rows_act(cell, r0, r1, v, n, ERN_TANH, out);
        break;
    case ERN_SIGMOID:
        rows_act(cell, r0, r1, v, n, ERN_SIGMOID, out);
        break;
    default:
        rows_act(cell, r0, r1, v, n, act, out);
        break;
    }
}

/* The LSTM update after the gate rows; act is a constant wherever this is inlined. */
ERN_INLINE void lstm_update(const ern_q_cell *cell, int16_t *h, int16_t *c, const int16_t *g,
                            uint8_t act)
{
    int u = cell->units, j;
    int sh_ig = 15 + cell->q_g - cell->q_c, sh_h = 15 + cell->q_a - cell->q_v;
    int sh_c = cell->q_c - 11;
    for (j = 0; j < u; j++) {
        int32_t fc = (g[u + j] * c[j] + (1 << 14)) >> 15;
        int32_t ig = ern_q_shift(g[j] * g[2 * u + j], sh_ig);
        int32_t a;
        c[j] = ern_sat16(fc + ig);
        if (act != ERN_RELU && act != ERN_LINEAR) {
            a = act_q(ern_q_shift(c[j], sh_c), act);
        } else {
            a = act == ERN_RELU && c[j] < 0 ? 0 : c[j];
        }
        h[j] = ern_q_shift(g[3 * u + j] * a, sh_h);
    }
}

static void lstm_step(const ern_q_cell *cell, int16_t *xh, int16_t *c, int16_t *g)
{
    int u = cell->units, k = cell->in_pad + cell->units_pad;
    int16_t *h = xh + cell->in_pad;
    gate_rows(cell, 0, 2 * u, xh, k, cell->rec_act, g);
    gate_rows(cell, 2 * u, 3 * u, xh, k, cell->act, g);
    gate_rows(cell, 3 * u, 4 * u, xh, k, cell->rec_act, g);
    if (cell->act == ERN_TANH) {
        lstm_update(cell, h, c, g, ERN_TANH);
    } else {
        lstm_update(cell, h, c, g, cell->act);
    }
}

static void gru_step(const ern_q_cell *cell, int16_t *xh, int16_t *g, int16_t *rh)
{
    int u = cell->units, in = cell->in_pad, k = in + cell->units_pad, j;
    int16_t *h = xh + in;
    gate_rows(cell, 0, 2 * u, xh, k, cell->rec_act, g);
    if (!cell->reset_after) {
        for (j = 0; j < u; j++) { /* pads of rh stay zero */
            rh[j] = (int16_t)((g[u + j] * h[j] + (1 << 14)) >> 15);
        }
    }
    for (j = 0; j < u; j++) {
        int row = 2 * u + j;
        const int8_t *w = cell->wq + (long)row * k;
        int32_t acc = ern_q_dot(w, xh, in, cell->bias ? cell->bias[row] : 0);
        if (cell->reset_after) {
            int32_t inner = ern_q_dot(w + in, h, cell->units_pad, cell->rbias ? cell->rbias[j] : 0);
            acc += (int32_t)(((int64_t)inner * g[u + j] + (1 << 14)) >> 15);
        } else {
            acc = ern_q_dot(w + in, rh, cell->units_pad, acc);
        }
        g[row] = ern_q_shift(ern_q_activate(acc, cell->mult[row], cell->shift[row], cell->act),
                             cell->q_g - cell->q_v);
    }
    for (j = 0; j < u; j++) {
        int32_t z = g[j];
        h[j] = (int16_t)((z * h[j] + (32768 - z) * g[2 * u + j] + (1 << 14)) >> 15);
    }
}

void ern_q_cell_step(const ern_q_cell *cell, int16_t *xh, int16_t *c, int16_t *g, int16_t *tmp)
{
    int u = cell->units, j;
    if (cell->cell == ERN_LSTM) {
        lstm_step(cell, xh, c, g);
    } else if (cell->cell == ERN_GRU) {
        gru_step(cell, xh, g, tmp);
    } else {
        gate_rows(cell, 0, u, xh, cell->in_pad + cell->units_pad, cell->act, g);
        for (j = 0; j < u; j++) {
            xh[cell->in_pad + j] = ern_q_shift(g[j], cell->q_g - cell->q_v);
        }
    }
}

void ern_q_dense_run(const ern_q_dense *d, const int16_t *x, int16_t *y)
{
    int j;
    uint8_t act = d->act == ERN_SOFTMAX ? ERN_LINEAR : d->act;
    for (j = 0; j < d->units; j++) {
        int32_t acc = ern_q_dot(d->wq + (long)j * d->in_pad, x, d->in_pad, d->bias ? d->bias[j] : 0);
        y[j] = ern_q_activate(acc, d->mult[j], d->shift[j], act);
    }
    if (d->act == ERN_SOFTMAX) {
        ern_q_softmax(y, d->units);
    }
}

void ern_q_merge(uint8_t mode, int16_t *a, int qa, const int16_t *b, int qb, int qm, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        if (mode == ERN_MERGE_CONCAT) {
            a[i] = ern_q_shift(a[i], qa - qm);
            a[n + i] = ern_q_shift(b[i], qb - qm);
        } else if (mode == ERN_MERGE_MUL) {
            a[i] = ern_q_shift(a[i] * b[i], qa + qb - qm);
        } else {
            int32_t s = ern_q_shift(a[i], qa - qm) + ern_q_shift(b[i], qb - qm);
            a[i] = mode == ERN_MERGE_AVE ? (int16_t)((s + 1) >> 1) : ern_sat16(s);
        }
    }
}
