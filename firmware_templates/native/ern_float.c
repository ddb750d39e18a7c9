/* edge-rnn kernels: float32 and int8w (int8 weights with per-row float scales). */
#include "ern.h"

#include <math.h>
#include <string.h>

float ern_f_activate(float x, uint8_t act)
{
    switch (act) {
    case ERN_RELU:
        return x > 0.0f ? x : 0.0f;
    case ERN_RELU6:
        return x > 0.0f ? (x < 6.0f ? x : 6.0f) : 0.0f;
    case ERN_TANH:
        return tanhf(x);
    case ERN_SIGMOID:
        return 1.0f / (1.0f + expf(-x));
    case ERN_HARD_SIGMOID: { /* Keras 3: relu6(x + 3) / 6 */
        float y = (x + 3.0f) / 6.0f;
        return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
    }
    case ERN_HARD_SILU:
        return x * ern_f_activate(x, ERN_HARD_SIGMOID);
    case ERN_ELU:
        return x > 0.0f ? x : expm1f(x);
    case ERN_SELU:
        return 1.05070099f * (x > 0.0f ? x : 1.67326324f * expm1f(x));
    case ERN_SILU:
        return x / (1.0f + expf(-x));
    case ERN_GELU: /* the exact form (Keras approximate=False) */
        return 0.5f * x * (1.0f + erff(x * 0.707106781f));
    case ERN_SOFTPLUS: /* log(1 + e^x) without overflow */
        return (x > 0.0f ? x : 0.0f) + log1pf(expf(-fabsf(x)));
    case ERN_SOFTSIGN:
        return x / (1.0f + fabsf(x));
    default:
        return x;
    }
}

void ern_f_softmax(float *v, int n)
{
    int i;
    float max = v[0], sum = 0.0f;
    for (i = 1; i < n; i++) {
        max = v[i] > max ? v[i] : max;
    }
    for (i = 0; i < n; i++) {
        v[i] = expf(v[i] - max);
        sum += v[i];
    }
    for (i = 0; i < n; i++) {
        v[i] /= sum;
    }
}

/* Dot product of columns [col0, col0 + n) of one weight row with v. */
static float row_dot(const float *w, const int8_t *wq, const float *wscale, int row, int k,
                     int col0, const float *v, int n)
{
    float acc = 0.0f;
    int i;
    if (w) {
        const float *r = w + (long)row * k + col0;
        for (i = 0; i < n; i++) {
            acc += r[i] * v[i];
        }
        return acc;
    }
    {
        const int8_t *r = wq + (long)row * k + col0;
        for (i = 0; i < n; i++) {
            acc += (float)r[i] * v[i];
        }
        return acc * wscale[row];
    }
}

static float cell_dot(const ern_f_cell *cell, int row, int col0, const float *v, int n)
{
    return row_dot(cell->w, cell->wq, cell->wscale, row, cell->in + cell->units, col0, v, n);
}

static float cell_bias(const ern_f_cell *cell, int row)
{
    return cell->bias ? cell->bias[row] : 0.0f;
}

static void lstm_step(const ern_f_cell *cell, float *xh, float *c, float *g)
{
    int u = cell->units, k = cell->in + cell->units, r, j;
    float *h = xh + cell->in;
    for (r = 0; r < 4 * u; r++) {
        float pre = cell_bias(cell, r) + cell_dot(cell, r, 0, xh, k);
        g[r] = ern_f_activate(pre, r / u == 2 ? cell->act : cell->rec_act);
    }
    for (j = 0; j < u; j++) {
        c[j] = g[u + j] * c[j] + g[j] * g[2 * u + j];
        h[j] = g[3 * u + j] * ern_f_activate(c[j], cell->act);
    }
}

static void gru_step(const ern_f_cell *cell, float *xh, float *g)
{
    int u = cell->units, in = cell->in, k = in + u, r, j;
    float *h = xh + in;
    for (r = 0; r < 2 * u; r++) {
        g[r] = ern_f_activate(cell_bias(cell, r) + cell_dot(cell, r, 0, xh, k), cell->rec_act);
    }
    for (j = 0; j < u; j++) {
        int row = 2 * u + j;
        float xpart = cell_bias(cell, row) + cell_dot(cell, row, 0, xh, in);
        float hpart;
        if (cell->reset_after) {
            float inner = (cell->rbias ? cell->rbias[j] : 0.0f) + cell_dot(cell, row, in, h, u);
            hpart = g[u + j] * inner;
        } else {
            /* (r * h) . W_h, one row at a time: g[2u..3u) holds r*h until the loop ends */
            int i;
            if (j == 0) {
                for (i = 0; i < u; i++) {
                    g[2 * u + i] = g[u + i] * h[i];
                }
            }
            hpart = cell_dot(cell, row, in, g + 2 * u, u);
        }
        g[3 * u + j] = ern_f_activate(xpart + hpart, cell->act);
    }
    for (j = 0; j < u; j++) {
        float z = g[j];
        h[j] = z * h[j] + (1.0f - z) * g[3 * u + j];
    }
}

void ern_f_cell_step(const ern_f_cell *cell, float *xh, float *c, float *g)
{
    int u = cell->units, k = cell->in + cell->units, j;
    if (cell->cell == ERN_LSTM) {
        lstm_step(cell, xh, c, g);
    } else if (cell->cell == ERN_GRU) {
        gru_step(cell, xh, g);
    } else {
        for (j = 0; j < u; j++) {
            g[j] = ern_f_activate(cell_bias(cell, j) + cell_dot(cell, j, 0, xh, k), cell->act);
        }
        for (j = 0; j < u; j++) {
            xh[cell->in + j] = g[j];
        }
    }
}

void ern_f_dense_run(const ern_f_dense *d, const float *x, float *y)
{
    int j;
    for (j = 0; j < d->units; j++) {
        float pre = (d->bias ? d->bias[j] : 0.0f) + row_dot(d->w, d->wq, d->wscale, j, d->in, 0, x, d->in);
        y[j] = d->act == ERN_SOFTMAX ? pre : ern_f_activate(pre, d->act);
    }
    if (d->act == ERN_SOFTMAX) {
        ern_f_softmax(y, d->units);
    }
    if (d->leaky) {
        ern_f_leaky_run(d->leaky, y, d->units);
    }
}

void ern_f_depthwise_run(const ern_f_dense *d, int mult, const float *x, int stride, int t0,
                         int taps, int dilation, int steps_in, float *y)
{
    int o, j, j0, j1;
    ern_taps_inside(t0, taps, dilation, steps_in, &j0, &j1);
    for (o = 0; o < d->units; o++) {
        long at = (long)(t0 + j0 * dilation) * stride + o / mult, row = (long)o * d->in;
        float acc = 0.0f;
        for (j = j0; j < j1; j++, at += (long)dilation * stride) {
            acc += (d->w ? d->w[row + j] : (float)d->wq[row + j]) * x[at];
        }
        acc = d->w ? acc : acc * d->wscale[o];
        y[o] = ern_f_activate((d->bias ? d->bias[o] : 0.0f) + acc, d->act);
    }
    if (d->leaky) {
        ern_f_leaky_run(d->leaky, y, d->units);
    }
}

void ern_f_merge(uint8_t mode, float *a, const float *b, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        if (mode == ERN_MERGE_SUM) {
            a[i] = a[i] + b[i];
        } else if (mode == ERN_MERGE_AVE) {
            a[i] = (a[i] + b[i]) * 0.5f;
        } else if (mode == ERN_MERGE_MUL) {
            a[i] = a[i] * b[i];
        } else {
            a[n + i] = b[i];
        }
    }
}

void ern_f_act_run(uint8_t act, float *v, int n)
{
    int i;
    if (act == ERN_SOFTMAX) {
        ern_f_softmax(v, n);
        return;
    }
    for (i = 0; i < n; i++) {
        v[i] = ern_f_activate(v[i], act);
    }
}

void ern_f_leaky_run(const ern_f_leaky *lk, float *v, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        float x = v[i];
        v[i] = x > lk->threshold ? (x < lk->max ? x : lk->max) : lk->slope * (x - lk->threshold);
    }
}

void ern_f_gather(const float *x, int stride, int t0, int taps, int dilation, int steps_in, int n,
                  float *col)
{
    int j, c;
    for (j = 0; j < taps; j++) {
        int t = t0 + j * dilation;
        for (c = 0; c < n; c++) {
            col[j * n + c] = t >= 0 && t < steps_in ? x[(long)t * stride + c] : 0.0f;
        }
    }
}

void ern_f_pool(uint8_t is_max, const float *x, int stride, int t0, int taps, int steps_in, int n,
                float *y)
{
    int lo = t0 < 0 ? 0 : t0, hi = t0 + taps > steps_in ? steps_in : t0 + taps, t, c;
    for (c = 0; c < n; c++) {
        float acc = x[(long)lo * stride + c];
        for (t = lo + 1; t < hi; t++) {
            float v = x[(long)t * stride + c];
            acc = is_max ? (v > acc ? v : acc) : acc + v;
        }
        y[c] = is_max ? acc : acc / (float)(hi - lo);
    }
}

void ern_f_sum_push(float *sum, int32_t *count, const float *x, int n)
{
    int c;
    for (c = 0; c < n; c++) {
        sum[c] += x[c];
    }
    (*count)++;
}

void ern_f_mean(const float *sum, int32_t count, int n, float *y)
{
    int c;
    for (c = 0; c < n; c++) {
        y[c] = count > 0 ? sum[c] / (float)count : 0.0f;
    }
}

int ern_f_window_push(float *hist, const float *x, int n, int span, int32_t *count, int need,
                      int stride)
{
    memmove(hist, hist + n, sizeof *hist * (size_t)((span - 1) * n));
    memcpy(hist + (span - 1) * n, x, sizeof *hist * (size_t)n);
    return ern_window_due(count, need, stride);
}
