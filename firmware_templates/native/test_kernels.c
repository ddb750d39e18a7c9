/* Kernel self-test driver for tests/test_native_kernels.py: writes, as raw little-endian
 * arrays on stdout, every int16 input through each integer activation, float activations
 * on a grid, requantization of pseudo-random triples, interleaved dot products, four-row
 * group dot products (ern_q_dot4, 2-12 column pairs, in the layout and arrangement ern.h is
 * compiled for; the rows arrangement's start includes its int8-lane offset), rounded multiply-adds
 * (ern_mulhi_round_add) and the rounding of float inputs (ern_q_round). */
#include "ern.h"

#include <stdio.h>

static uint32_t lcg = 12345u;

static uint32_t next(void)
{
    lcg = lcg * 1664525u + 1013904223u;
    return lcg;
}

int main(void)
{
    /* quantize.q_leaky(LeakyRelu(0.01, 2.5, 0.5), 12) and of LeakyRelu(1.7) in Q10 */
    static const ern_q_leaky leaky_q[2] = {{1374389535, 20, 2048, 10240}, {1825361101, 13, 0, 32767}};
    static const ern_f_leaky leaky_f = {0.01f, 0.5f, 2.5f};
    int32_t x, i;
    for (x = -32768; x <= 32767; x++) {
        int16_t out[8];
        out[0] = ern_q_tanh(x);
        out[1] = ern_q_sigmoid(x);
        out[2] = ern_q_hard_sigmoid(x);
        out[3] = ern_q_exp_neg(x > 0 ? -x : x);
        out[4] = ern_q_shift(x * 3, (int)(next() % 31) - 15);
        out[5] = ern_q_act((int16_t)x, ERN_RELU6);
        out[6] = out[7] = (int16_t)x;
        ern_q_leaky_run(&leaky_q[0], out + 6, 1);
        ern_q_leaky_run(&leaky_q[1], out + 7, 1);
        fwrite(out, sizeof out, 1, stdout);
    }
    for (i = 0; i < 4001; i++) {
        float v = -10.0f + (float)i * 0.005f, out[14];
        int k;
        out[0] = ern_f_activate(v, ERN_TANH);
        out[1] = ern_f_activate(v, ERN_SIGMOID);
        out[2] = ern_f_activate(v, ERN_HARD_SIGMOID);
        out[3] = ern_f_activate(v, ERN_RELU);
        out[4] = ern_f_activate(v, ERN_LINEAR);
        out[5] = ern_f_activate(v, ERN_RELU6);
        out[6] = v;
        ern_f_leaky_run(&leaky_f, out + 6, 1);
        for (k = 0; k < 7; k++) { /* ERN_ELU ... ERN_HARD_SILU, in enum order */
            out[7 + k] = ern_f_activate(v, (uint8_t)(ERN_ELU + k));
        }
        fwrite(out, sizeof out, 1, stdout);
    }
    for (i = 0; i < 20000; i++) {
        int32_t rec[4];
        rec[0] = (int32_t)next();
        rec[1] = (int32_t)(0x40000000u + (next() >> 2));
        rec[2] = (int32_t)(next() % 46) - 15;
        rec[3] = ern_q_requant(rec[0], rec[1], (int)rec[2]);
        fwrite(rec, sizeof rec, 1, stdout);
    }
    for (i = 0; i < 1000; i++) {
        int8_t w[24];
        int16_t v[24];
        int32_t k, acc[2];
        for (k = 0; k < 24; k++) {
            w[k] = (int8_t)(next() >> 24);
            v[k] = (int16_t)(next() >> 16);
        }
        acc[0] = (int32_t)(next() >> 12);
        acc[1] = ern_q_dot(w, v, 24, acc[0]);
        fwrite(w, sizeof w, 1, stdout);
        fwrite(v, sizeof v, 1, stdout);
        fwrite(acc, sizeof acc, 1, stdout);
    }
    for (i = 0; i < 1000; i++) {
        int16_t w[96] ERN_ALIGNED(4), v[24] ERN_ALIGNED(4);
        int32_t k, acc[8];
        int npairs = 2 + 2 * (i % 6); /* every path of the DSP loop: 0-1 passes, 0-3 blocks */
        for (k = 0; k < 96; k++) {
            w[k] = (int16_t)((int8_t)(next() >> 24));
        }
        for (k = 0; k < 24; k++) {
            v[k] = (int16_t)(next() >> 16);
        }
        for (k = 0; k < 4; k++) {
            acc[k] = acc[4 + k] = (int32_t)(next() >> 12);
        }
#if ERN_Q_ROWS /* the same weights in the rows arrangement: chunks of 16 (size layout: int8
               * lanes, reading v - 128, so 128 sum(w) joins the start), 8, then 4 columns */
        {
            ern_qw wr[96] ERN_ALIGNED(4);
            int n = 2 * npairs, s, r, c, width;
            for (s = 0; s < n; s += width) {
                width = ERN_Q_SIZE && n - s >= 16 ? 16 : (n - s >= 8 ? 8 : 4);
                for (r = 0; r < 4; r++) {
                    for (c = 0; c < width; c++) {
                        wr[4 * s + r * width + c] = (ern_qw)w[8 * ((s + c) / 2) + 2 * r + (s + c) % 2];
                        acc[4 + r] += width == 16 ? 128 * wr[4 * s + r * width + c] : 0;
                    }
                }
            }
            ern_q_dot4(wr, v, npairs, acc + 4);
        }
#elif ERN_Q_SIZE /* the same weights in the size layout (ern.h) */
        {
            int8_t ws[96] ERN_ALIGNED(4);
            for (k = 0; k < 96; k++) { /* [pair][row pair][row in pair][col] -> [..][col][row] */
                ws[(k & ~7) | (k & 4) | ((k & 1) << 1) | ((k >> 1) & 1)] = (int8_t)w[k];
            }
            ern_q_dot4(ws, v, npairs, acc + 4);
        }
#else
        ern_q_dot4(w, v, npairs, acc + 4);
#endif
        fwrite(w, sizeof w, 1, stdout);
        fwrite(v, sizeof v, 1, stdout);
        fwrite(acc, sizeof acc, 1, stdout);
    }
    for (i = 0; i < 20000; i++) {
        int32_t rec[4];
        rec[0] = (int32_t)next();
        rec[1] = (int32_t)(0x40000000u + (next() >> 2));
        rec[2] = (int32_t)(next() >> 3);
        rec[3] = ern_mulhi_round_add(rec[0], rec[1], rec[2]);
        fwrite(rec, sizeof rec, 1, stdout);
    }
    for (i = 0; i < 20000; i++) { /* ern_q_round: the edges first, then random bit patterns */
        static const float edges[] = {0.0f, -0.0f, 0.5f, -0.5f, 0.49999997f, -0.49999997f,
                                      1.5f, -1.5f, 2.5f, -2.5f, 0.50000006f, 32767.0f,
                                      32767.5f, -32768.0f, -32768.5f, -32767.5f, 65535.0f,
                                      3.0e9f, -3.0e9f, 1.0e38f, -1.0e38f, 1.0e-40f};
        int32_t rec[2];
        float v;
        if (i < (int32_t)(sizeof edges / sizeof edges[0])) {
            v = edges[i];
        } else { /* magnitudes 2^-2 .. 2^17, every mantissa */
            uint32_t bits = (next() & 0x807fffffu) | ((125u + next() % 20u) << 23);
            __builtin_memcpy(&v, &bits, 4);
        }
        __builtin_memcpy(&rec[0], &v, 4);
        rec[1] = ern_q_round(v);
        fwrite(rec, sizeof rec, 1, stdout);
    }
    return 0;
}
