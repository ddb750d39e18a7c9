/* edge-rnn kernels: full integer (int8 weights, int16 Q-format activations, int32 sums).
 * edge_rnn/native/twin.py mirrors every function here bit for bit. */
#include "ern.h"

static int16_t sat16(int32_t v)
{
    return (int16_t)(v > 32767 ? 32767 : (v < -32768 ? -32768 : v));
}

int16_t ern_q_shift(int32_t v, int s)
{
    if (s > 0) {
        return sat16((v + (1 << (s - 1))) >> s);
    }
    {
        int64_t w = (int64_t)v * ((int64_t)1 << -s);
        return (int16_t)(w > 32767 ? 32767 : (w < -32768 ? -32768 : w));
    }
}

/* Linear interpolation in a 513-entry table; u < 512 << bits. */
static int32_t interp(const int16_t *table, int32_t u, int bits)
{
    int32_t i = u >> bits, f = u & ((1 << bits) - 1);
    int32_t t0 = table[i];
    return t0 + (((table[i + 1] - t0) * f + (1 << (bits - 1))) >> bits);
}

int16_t ern_q_tanh(int32_t x)
{
    int32_t u = x < 0 ? -x : x;
    int32_t y = u >= (512 << 5) ? 32767 : interp(ern_tanh_table, u, 5);
    return (int16_t)(x < 0 ? -y : y);
}

int16_t ern_q_sigmoid(int32_t x)
{
    /* sigmoid(x) = (1 + tanh(x / 2)) / 2 */
    int32_t u = x < 0 ? -x : x;
    int32_t t = interp(ern_tanh_table, u > 32767 ? 32767 : u, 6);
    int32_t y = (x < 0 ? 32768 - t : 32768 + t) + 1;
    return (int16_t)(y >= 65536 ? 32767 : y >> 1);
}

int16_t ern_q_hard_sigmoid(int32_t x)
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

int16_t ern_q_requant(int32_t acc, int32_t mult, int shift)
{
    /* high word of acc * mult, rounded (one SMLAL on Cortex-M4), then the shift */
    return ern_q_shift((int32_t)(((int64_t)acc * mult + 0x80000000LL) >> 32), shift);
}

int16_t ern_q_act(int16_t p, uint8_t act)
{
    switch (act) {
    case ERN_TANH:
        return ern_q_tanh(p);
    case ERN_SIGMOID:
        return ern_q_sigmoid(p);
    case ERN_HARD_SIGMOID:
        return ern_q_hard_sigmoid(p);
    case ERN_RELU:
        return p > 0 ? p : 0;
    default:
        return p;
    }
}

int16_t ern_q_activate(int32_t acc, int32_t mult, int shift, uint8_t act)
{
    return ern_q_act(ern_q_requant(acc, mult, shift), act);
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

/* Rows [r0, r1) of a cell over the first n columns of v: act(requant(bias + W v)). */
static void gate_rows(const ern_q_cell *cell, int r0, int r1, const int16_t *v, int n, uint8_t act,
                      int16_t *out)
{
    int k = cell->in_pad + cell->units_pad, r;
    for (r = r0; r < r1; r++) {
        int32_t acc = ern_q_dot(cell->wq + (long)r * k, v, n, cell->bias ? cell->bias[r] : 0);
        out[r] = ern_q_activate(acc, cell->mult[r], cell->shift[r], act);
    }
}

static void lstm_step(const ern_q_cell *cell, int16_t *xh, int16_t *c, int16_t *g)
{
    int u = cell->units, k = cell->in_pad + cell->units_pad, j;
    int16_t *h = xh + cell->in_pad;
    int sh_ig = 15 + cell->q_g - cell->q_c, sh_h = 15 + cell->q_a - cell->q_v;
    int bounded = cell->act != ERN_RELU && cell->act != ERN_LINEAR;
    gate_rows(cell, 0, 2 * u, xh, k, cell->rec_act, g);
    gate_rows(cell, 2 * u, 3 * u, xh, k, cell->act, g);
    gate_rows(cell, 3 * u, 4 * u, xh, k, cell->rec_act, g);
    for (j = 0; j < u; j++) {
        int32_t fc = (g[u + j] * c[j] + (1 << 14)) >> 15;
        int32_t ig = ern_q_shift(g[j] * g[2 * u + j], sh_ig);
        int32_t a;
        c[j] = sat16(fc + ig);
        if (bounded) {
            a = ern_q_act(ern_q_shift(c[j], cell->q_c - 11), cell->act);
        } else {
            a = cell->act == ERN_RELU && c[j] < 0 ? 0 : c[j];
        }
        h[j] = ern_q_shift(g[3 * u + j] * a, sh_h);
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
            a[i] = mode == ERN_MERGE_AVE ? (int16_t)((s + 1) >> 1) : sat16(s);
        }
    }
}
