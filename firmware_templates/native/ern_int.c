/* edge-rnn kernels: full integer (int8 weights, int16 Q-format activations, int32 sums).
 * edge_rnn/native/twin_int.py mirrors every function here bit for bit. */
#include "ern.h"

#include <stddef.h>
#include <string.h>

#ifdef ERN_PROFILE
/* Zone markers of profile builds: empty, never inlined or cloned (the plugin watches their
 * addresses). */
#define ERN_ZONE_MARKER(z)                                                                   \
    __attribute__((noipa, used)) void ern_zone_##z(void) { __asm__ volatile("" ::: "memory"); }
ERN_ZONE_MARKER(matrix)
ERN_ZONE_MARKER(act)
ERN_ZONE_MARKER(update)
ERN_ZONE_MARKER(dense)
ERN_ZONE_MARKER(other)
#endif

/* Linear interpolation in a 513-entry table; u < 512 << bits. */
ERN_INLINE int32_t interp(const int16_t *table, int32_t u, int bits)
{
    int32_t i = u >> bits, f = u & ((1 << bits) - 1);
    int32_t t0 = table[i];
    return t0 + (((table[i + 1] - t0) * f + (1 << (bits - 1))) >> bits);
}

/* sigmoid (Q15) of the floor index k = floor(x * 2^8), saturated to [-2048, 2047]: the
 * table holds the middle of each step, so there is no rounding and no interpolation. */
ERN_INLINE int32_t sigmoid_at(int32_t k)
{
#if ERN_SIGMOID_HALF
    /* upper half only: T[2048 + i] for i >= 0, 32768 - T[2048 + ~i] below */
    int32_t i = ern_ssat12(k);
    return i < 0 ? 32768 - ern_sigmoid_q15[~i] : ern_sigmoid_q15[i];
#else
    const int16_t *mid = ern_sigmoid_q15 + 2048;
#ifdef ERN_DSP
    __asm__("" : "+r"(mid)); /* a base register for the middle: the index needs no add */
#endif
    return mid[ern_ssat12(k)];
#endif
}

/* act of the floor index of its input in Q ERN_INDEX_Q(act): sigmoid in Q8, tanh in Q9
 * (tanh(x) = 2 sigmoid(2x) - 1 from the same table). */
ERN_INLINE int16_t act_at(int32_t k, uint8_t act)
{
    int32_t t = sigmoid_at(k);
    return (int16_t)(act == ERN_TANH ? 2 * t - 32768 : t);
}

ERN_INLINE int16_t sigmoid_q(int32_t x) /* Q11 in */
{
    return act_at(x >> (11 - ERN_INDEX_Q(ERN_SIGMOID)), ERN_SIGMOID);
}

ERN_INLINE int16_t tanh_q(int32_t x) /* Q11 in */
{
    return act_at(x >> (11 - ERN_INDEX_Q(ERN_TANH)), ERN_TANH);
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
ERN_INLINE int16_t act_q(int32_t p, uint8_t act) /* p in the int16 range */
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
    case ERN_RELU6:
        return p > 0 ? (p < 6 << ERN_RELU6_Q ? p : 6 << ERN_RELU6_Q) : 0;
    default:
        return (int16_t)p;
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
    int s = q_src - q_dst, i;
    if (s >= 0) { /* ern_q_shift of an int16 by s >= 0 needs neither branch nor saturation */
        int32_t rnd = (1 << s) >> 1;
#ifdef ERN_MVE
        /* eight lanes at a time: VRSHL by -s is (v + rnd) >> s, computed without overflow */
        int16x8_t shift = vdupq_n_s16((int16_t)-s);
        for (i = 0; i < n; i += 8) {
            mve_pred16_t p = vctp16q((uint32_t)(n - i));
            vstrhq_p_s16(dst + i, vrshlq_s16(vldrhq_z_s16(src + i, p), shift), p);
        }
        (void)rnd;
#else
        for (i = 0; i + 1 < n; i += 2) { /* two per pass: half the loop's instructions */
            dst[i] = (int16_t)((src[i] + rnd) >> s);
            dst[i + 1] = (int16_t)((src[i + 1] + rnd) >> s);
        }
        if (i < n) {
            dst[i] = (int16_t)((src[i] + rnd) >> s);
        }
#endif
    } else {
        for (i = 0; i < n; i++) {
            dst[i] = ern_q_shift(src[i], s);
        }
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
    /* sum >= 32767 (the max element has exp(0)) and < 2^31 (n < 2^16), so the dividend
     * v 2^15 + sum / 2 fits 32 bits: an unsigned 32-bit division (UDIV, or a call cheaper
     * than the 64-bit one) */
    for (i = 0; i < n; i++) {
        uint32_t p = ((uint32_t)v[i] * 32768u + (uint32_t)sum / 2) / (uint32_t)sum;
        v[i] = (int16_t)(p > 32767 ? 32767 : p);
    }
}

/* Shift of row r from the packed word of a group's parameters. */
ERN_INLINE int row_shift(int32_t word, int r)
{
    return (int32_t)((uint32_t)word << (24 - 8 * r)) >> 24;
}

/* Output of row r of a group. sigmoid/tanh rows: the table at the floor index
 * acc * mult / 2^(32 + shift) (ern_q_index); with fast (a constant wherever this is inlined)
 * every such shift is 0, so the index is one SMMUL. Other rows: act(requant(acc)); with fast
 * their shifts are >= 1 and the rounding constant rides in SMMLAR:
 * (round(acc * mult / 2^32) + 2^(s-1)) >> s is ern_q_shift's result, without its branch. */
ERN_INLINE int16_t row_out(int32_t acc, const int32_t *par, int r, uint8_t act, int fast)
{
    int32_t mult = par[4 + r];
    if (act == ERN_SIGMOID || act == ERN_TANH) {
        return act_at(fast ? ern_mulhi(acc, mult) : ern_q_index(acc, mult, row_shift(par[12], r)),
                      act);
    }
    if (fast) {
        int32_t y = ern_mulhi_round_add(acc, mult, par[8 + r]) >> row_shift(par[12], r);
        return act_q(ern_ssat16(y), act);
    }
    return act_q(ern_q_requant(acc, mult, row_shift(par[12], r)), act);
}

#ifdef ERN_MVE
/* sigmoid_at of four floor indices k (lanes): the clamp to [-2048, 2047] is VQSHL by 20
 * (saturating at the int32 range) and VSHR back, no constants; the gather's base is the
 * table's middle and its offsets the signed k (as uint32 they wrap like the address sum). */
ERN_INLINE int32x4_t sigmoid_at_mve(int32x4_t k)
{
    k = vshrq_n_s32(vqshlq_n_s32(k, 20), 20);
    return vldrhq_gather_shifted_offset_s32(ern_sigmoid_q15 + 2048, vreinterpretq_u32_s32(k));
}

/* The table values at the floor indices of a group's four fast sigmoid/tanh rows: VMULH is
 * SMMUL. */
ERN_INLINE int32x4_t group_sigmoid_mve(const int32_t *acc, const int32_t *par)
{
    return sigmoid_at_mve(vmulhq_s32(vld1q_s32(acc), vld1q_s32(par + 4))); /* the rows' mult */
}

/* row_out of a group's four rows at once for fast sigmoid or tanh rows, the same integers
 * lane by lane. (LSTM groups of the column-pair arrangement mix sigmoid and tanh rows and
 * stay scalar.) */
ERN_INLINE void group_out_mve(const int32_t *acc, const int32_t *par, uint8_t act, int16_t *out)
{
    int32x4_t t = group_sigmoid_mve(acc, par);
    vstrhq_s32(out, act == ERN_TANH ? vsubq_n_s32(vshlq_n_s32(t, 1), 32768) : t);
}
#endif

/* The four rows of a group, unrolled so the accumulators stay in registers. */
ERN_INLINE void group_out(const int32_t *acc, const int32_t *par, uint8_t act, int fast,
                          int16_t *out)
{
#ifdef ERN_MVE
    if (fast && (act == ERN_SIGMOID || act == ERN_TANH)) {
        group_out_mve(acc, par, act, out);
        return;
    }
#endif
    out[0] = row_out(acc[0], par, 0, act, fast);
    out[1] = row_out(acc[1], par, 1, act, fast);
    out[2] = row_out(acc[2], par, 2, act, fast);
    out[3] = row_out(acc[3], par, 3, act, fast);
}

/* Accumulators of the group with rows w and parameters par over the first 2 * npairs columns
 * of v, starting from the bias; returns w past the columns read. */
ERN_INLINE const ern_qw *group_acc(const ern_qw *w, const int32_t *par, const int16_t *v,
                                    int npairs, int32_t *acc)
{
    acc[0] = par[0], acc[1] = par[1], acc[2] = par[2], acc[3] = par[3];
    return ern_q_dot4(w, v, npairs, acc);
}

#if ERN_Q_ROWS && ERN_Q_SIZE && defined(ERN_MVE)
/* Asm: 16 columns of a group's four rows in int8 lanes (size layout; 16 bytes per row one
 * after the other). VLD20/VLD21 split 16 values of v into their low bytes (q0) and their
 * signed high bytes (q1); the low bytes less 128 (VEOR with q3 = 0x80 in every byte) are
 * signed too, so row . v = 256 (row . hi) + row . (lo - 128) + 128 sum(row), the last term
 * in the bias (quantize.lane_offsets). The high sums go to h0-h3, the low ones to a0-a3
 * (VMLADAVA needs even registers: eight accumulators), HOP "vmladav" starts the high sums.
 * 15 instructions per 64 MACs. Sums wrap mod 2^32 (as the portable path's); the row's true
 * sum fits int32. */
#define ERN_MVE_S8_ROW(H, A, HOP)                                                            \
    "vldrb.u8 q2, [%[w]], #16\n\t" HOP ".s8 %[" H "], q2, q1\n\t"                             \
    "vmladava.s8 %[" A "], q2, q0\n\t"
#define ERN_MVE_S8_CHUNK(HOP)                                                                \
    "vld20.8 {q0, q1}, [%[v]]\n\t"                                                            \
    "vld21.8 {q0, q1}, [%[v]]!\n\t"                                                           \
    "veor q0, q0, q3\n\t" ERN_MVE_S8_ROW("h0", "a0", HOP) ERN_MVE_S8_ROW("h1", "a1", HOP)        \
        ERN_MVE_S8_ROW("h2", "a2", HOP) ERN_MVE_S8_ROW("h3", "a3", HOP)
/* Asm for ern_q_groups_mve: a chunk of 8 columns (int16 lanes, VLDRB.S16 widens the weights)
 * and one of 4 (int32 lanes: VLDRH.S32, VLDRB.S32). */
#define ERN_MVE_ROW(LD, A, MLA) LD "\n\t" MLA " %[" A "], q2, q0\n\t"
#define ERN_MVE_CHUNK(LDV, LD, MLA)                                                           \
    LDV "\n\t" ERN_MVE_ROW(LD, "a0", MLA) ERN_MVE_ROW(LD, "a1", MLA) ERN_MVE_ROW(LD, "a2", MLA) \
        ERN_MVE_ROW(LD, "a3", MLA)

/* The sums of ng consecutive groups over n columns of v in one asm loop, each group's four
 * starting from and ending in acc[4 g..4 g + 3]: per group one LDM, the int8-lane chunks
 * (ERN_MVE_S8: n >= 16; v counts them against its end) with the high sums added in, the
 * span's last 8 and 4 columns (TAIL: one function per n & 12 and n < 16, no branches for them)
 * and one STM. Returns w past the groups' rows. */
#define ERN_MVE_T8 ERN_MVE_CHUNK("vldrh.u16 q0, [%[v]], #16", "vldrb.s16 q2, [%[w]], #8", "vmladava.s16")
#define ERN_MVE_T4 ERN_MVE_CHUNK("vldrh.s32 q0, [%[v]]", "vldrb.s32 q2, [%[w]], #4", "vmladava.s32")
#define ERN_MVE_S8                                                                            \
    ERN_MVE_S8_CHUNK("vmladav")                                                               \
    "cmp %[v], %[end]\n\t"                                                                    \
    "beq 3f\n"                                                                                \
    "2:\n\t" ERN_MVE_S8_CHUNK("vmladava") "cmp %[v], %[end]\n\t"                              \
    "bne 2b\n"                                                                                \
    "3:\n\t"                                                                                  \
    "add %[a0], %[a0], %[h0], lsl #8\n\t"                                                     \
    "add %[a1], %[a1], %[h1], lsl #8\n\t"                                                     \
    "add %[a2], %[a2], %[h2], lsl #8\n\t"                                                     \
    "add %[a3], %[a3], %[h3], lsl #8\n\t"
#define ERN_MVE_GROUPS(NAME, HEAD, TAIL)                                                      \
    static const ern_qw *NAME(const ern_qw *w, const int16_t *v, int n, int ng, int32_t *acc) \
    {                                                                                         \
        register int32_t a0 __asm__("r0"), a1 __asm__("r2"), a2 __asm__("r4");                \
        register int32_t a3 __asm__("r6"), h0 __asm__("r8"), h1 __asm__("r10");               \
        register int32_t h2 __asm__("r12"), h3 __asm__("lr");                                 \
        register const ern_qw *wr __asm__("r1") = w;                                          \
        register const int16_t *vr __asm__("r3"), *base __asm__("r7") = v;                    \
        register const int16_t *end __asm__("r5") = v + (n & ~15);                            \
        register int32_t *out __asm__("r9") = acc;                                            \
        register int g __asm__("r11") = ng;                                                   \
        __asm__ volatile("vmov.i8 q3, #0x80\n"                                                \
                         "1:\n\t"                                                             \
                         "ldm %[out], {%[a0], %[a1], %[a2], %[a3]}\n\t"                       \
                         "mov %[v], %[base]\n\t" HEAD TAIL                                    \
                         "stmia %[out]!, {%[a0], %[a1], %[a2], %[a3]}\n\t"                    \
                         "subs %[g], %[g], #1\n\t"                                            \
                         "bne 1b"                                                             \
                         : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3),    \
                           [h0] "=&r"(h0), [h1] "=&r"(h1), [h2] "=&r"(h2), [h3] "=&r"(h3),    \
                           [w] "+r"(wr), [v] "=&r"(vr), [out] "+r"(out), [g] "+r"(g)          \
                         : [base] "r"(base), [end] "r"(end)                                   \
                         : "q0", "q1", "q2", "q3", "cc", "memory");                           \
        return wr;                                                                            \
    }
ERN_MVE_GROUPS(groups_mve_0, ERN_MVE_S8, "")
ERN_MVE_GROUPS(groups_mve_4, ERN_MVE_S8, ERN_MVE_T4)
ERN_MVE_GROUPS(groups_mve_8, ERN_MVE_S8, ERN_MVE_T8)
ERN_MVE_GROUPS(groups_mve_12, ERN_MVE_S8, ERN_MVE_T8 ERN_MVE_T4)
ERN_MVE_GROUPS(groups_mve_only4, "", ERN_MVE_T4)
ERN_MVE_GROUPS(groups_mve_only8, "", ERN_MVE_T8)
ERN_MVE_GROUPS(groups_mve_only12, "", ERN_MVE_T8 ERN_MVE_T4)

const ern_qw *ern_q_groups_mve(const ern_qw *w, const int16_t *v, int n, int ng, int32_t *acc)
{
    switch (n < 16 ? n : 16 + (n & 12)) {
    case 4:
        return groups_mve_only4(w, v, n, ng, acc);
    case 8:
        return groups_mve_only8(w, v, n, ng, acc);
    case 12:
        return groups_mve_only12(w, v, n, ng, acc);
    case 16:
        return groups_mve_0(w, v, n, ng, acc);
    case 20:
        return groups_mve_4(w, v, n, ng, acc);
    case 24:
        return groups_mve_8(w, v, n, ng, acc);
    default:
        return groups_mve_12(w, v, n, ng, acc);
    }
}
#undef ERN_MVE_GROUPS
#undef ERN_MVE_S8
#undef ERN_MVE_S8_CHUNK
#undef ERN_MVE_S8_ROW
#undef ERN_MVE_T4
#undef ERN_MVE_T8
#undef ERN_MVE_CHUNK
#undef ERN_MVE_ROW
#endif

#if ERN_Q_ROWS
/* The sums of ng groups whose rows (n columns of one span each) follow one another at w, over
 * v, each group's four from and into acc[4 l..4 l + 3]; returns w past them. */
ERN_INLINE const ern_qw *span_groups(const ern_qw *w, const int16_t *v, int n, int ng,
                                     int32_t *acc)
{
    int l;
#if ERN_Q_SIZE && defined(ERN_MVE)
    (void)l;
    return ern_q_groups_mve(w, v, n, ng, acc);
#else
    for (l = 0; l < ng; l++) {
        w = ern_q_dot4(w, v, n / 2, acc + 4 * l);
    }
    return w;
#endif
}

/* Groups per span_groups call where a loop runs many (one asm call, its set-up shared). */
#define ERN_BATCH 8

/* The starting sums of ng groups, four at src, src + stride, ..., into acc[4 ng]. */
ERN_INLINE void groups_bias(const int32_t *src, int stride, int ng, int32_t *acc)
{
    int l;
    for (l = 0; l < ng; l++, src += stride, acc += 4) {
#ifdef ERN_MVE
        vst1q_s32(acc, vld1q_s32(src));
#else
        acc[0] = src[0], acc[1] = src[1], acc[2] = src[2], acc[3] = src[3];
#endif
    }
}
#endif

/* Rows of group grp (groups of 4 rows over the whole row length). */
ERN_INLINE const ern_qw *group_rows(const ern_q_cell *cell, int grp)
{
    return cell->w + (long)grp * 4 * (cell->in_pad + cell->units_pad);
}

/* Groups [g0, g1) over the whole row: out[4 * grp + r] = act(requant(bias + W v)). */
ERN_INLINE void groups_act(const ern_q_cell *cell, int g0, int g1, const int16_t *v, uint8_t act,
                           int fast, int16_t *out)
{
    int npairs = (cell->in_pad + cell->units_pad) / 2;
    const ern_qw *w = group_rows(cell, g0);
    const int32_t *par = cell->par + 13 * g0, *end = cell->par + 13 * g1;
#if ERN_Q_ROWS
    for (out += 4 * g0; par != end;) { /* ERN_BATCH groups per matrix call */
        int32_t acc[4 * ERN_BATCH];
        int ng = end - par > ERN_BATCH * 13 ? ERN_BATCH : (int)(end - par) / 13, l;
        ERN_ZONE(matrix);
        groups_bias(par, 13, ng, acc);
        w = span_groups(w, v, 2 * npairs, ng, acc);
        ERN_ZONE(act);
        for (l = 0; l < ng; l++, par += 13, out += 4) {
            group_out(acc + 4 * l, par, act, fast, out);
        }
    }
#else
    for (out += 4 * g0; par != end; par += 13, out += 4) { /* pointers: no index arithmetic */
        int32_t acc[4];
        ERN_ZONE(matrix);
        w = group_acc(w, par, v, npairs, acc);
        ERN_ZONE(act);
        group_out(acc, par, act, fast, out);
    }
#endif
}

/* Asm copying N int16 values from S to D (registers, both word-aligned; all three advanced):
 * LDM/STM of four words (r4-r7) per pass, then the 0-7 values left by the bits of N. */
#define ERN_ASM_COPY_Q(D, S, N)                                                              \
    "subs " N ", " N ", #8\n\t"                                                             \
    "blt 5f\n"                                                                               \
    "4:\n\t"                                                                                \
    "ldmia " S "!, {r4, r5, r6, r7}\n\t"                                                    \
    "stmia " D "!, {r4, r5, r6, r7}\n\t"                                                    \
    "subs " N ", " N ", #8\n\t"                                                             \
    "bge 4b\n"                                                                               \
    "5:\n\t"                                                                                \
    "tst " N ", #4\n\t"                                                                     \
    "beq 6f\n\t"                                                                            \
    "ldmia " S "!, {r4, r5}\n\t"                                                            \
    "stmia " D "!, {r4, r5}\n"                                                               \
    "6:\n\t"                                                                                \
    "tst " N ", #2\n\t"                                                                     \
    "beq 7f\n\t"                                                                            \
    "ldr r4, [" S "], #4\n\t"                                                               \
    "str r4, [" D "], #4\n"                                                                  \
    "7:\n\t"                                                                                \
    "tst " N ", #1\n\t"                                                                     \
    "beq 8f\n\t"                                                                            \
    "ldrh r4, [" S "]\n\t"                                                                  \
    "strh r4, [" D "]\n"                                                                     \
    "8:"

/* n int16 values from src to dst, both word-aligned. DSP cores: ERN_ASM_COPY_Q (memcpy's call
 * and alignment checks cost about 50 instructions for 16 values, this about 15). */
ERN_INLINE void copy_q(int16_t *dst, const int16_t *src, int n)
{
#ifdef ERN_DSP
    register uint32_t t0 __asm__("r4"), t1 __asm__("r5"), t2 __asm__("r6"), t3 __asm__("r7");
    __asm__ volatile(ERN_ASM_COPY_Q("%[d]", "%[s]", "%[n]")
                     : [d] "+r"(dst), [s] "+r"(src), [n] "+r"(n), "=&r"(t0), "=&r"(t1),
                       "=&r"(t2), "=&r"(t3)
                     :
                     : "cc", "memory");
#else
    memcpy(dst, src, sizeof *src * (size_t)n);
#endif
}

/* DSP cores (not Helium) in the column-pair arrangement: loops over groups of four rows as
 * one asm statement each (groups_act_dsp, lstm_units_dsp), the same integers as the C. */
#if defined(ERN_DSP) && defined(__thumb2__) && !defined(ERN_MVE) && !ERN_Q_ROWS
#define ERN_GROUPS_ASM 1
/* Profile builds: a zone switch inside the asm (the markers touch no register but LR). */
#ifdef ERN_PROFILE
#define ERN_ASM_ZONE(z) "push {lr}\n\tbl ern_zone_" #z "\n\tpop {lr}\n\t"
#else
#define ERN_ASM_ZONE(z) ""
#endif

/* The matrix is Duff's device over blocks of two column pairs (four columns), ERN_DUFF blocks
 * per pass: entered per group at the block that leaves whole passes. Label A is the first
 * block, B the second (their distance is the block's size), r12 counts the passes. The size
 * layout's blocks are 76 bytes (speed: 42), so it unrolls four, not eight. */
#if ERN_Q_SIZE
#define ERN_DUFF 4
#define ERN_DOT4_BLOCKS_REST ERN_DOT4_BLOCK ERN_DOT4_BLOCK ERN_DOT4_BLOCK
#else
#define ERN_DUFF 8
#define ERN_DOT4_BLOCKS_REST                                                                 \
    ERN_DOT4_BLOCK ERN_DOT4_BLOCK ERN_DOT4_BLOCK ERN_DOT4_BLOCK ERN_DOT4_BLOCK ERN_DOT4_BLOCK \
        ERN_DOT4_BLOCK
#endif
#define ERN_ASM_DUFF(A, B)                                                                   \
    A ":\n\t" ERN_DOT4_BLOCK B ":\n\t" ERN_DOT4_BLOCKS_REST "subs r12, r12, #1\n\t"          \
    "bne " A "b\n\t"

/* Duff's device over `blocks` (>= 1): the blocks to skip in the first pass, and the passes. */
ERN_INLINE void duff_entry(int32_t *frame, int blocks)
{
    frame[0] = (ERN_DUFF - blocks % ERN_DUFF) % ERN_DUFF;
    frame[1] = (blocks + ERN_DUFF - 1) / ERN_DUFF;
}

/* The frame such an asm pushes (13 words) and the parameters of the first group: by offset
 * 0 the vector v, 4 blocks to skip (replaced by the entry address), 8 passes, 12 the table's
 * middle, 16..48 the loop's own constants; word 13 is par. */
ERN_INLINE void frame_groups(int32_t *frame, const ern_q_cell *cell, const int16_t *v,
                             const int32_t *par)
{
    frame[0] = (int32_t)(uintptr_t)v;
    duff_entry(frame + 1, (cell->in_pad + cell->units_pad) / 4); /* k: a multiple of 4 */
    frame[3] = (int32_t)(uintptr_t)(ern_sigmoid_q15 + 2048);
    frame[13] = (int32_t)(uintptr_t)par;
}

/* The four outputs r0-r3 of a group's fast sigmoid/tanh rows: SMMUL by the rows' mult (at LR),
 * TABLE (which loads the table's middle into r4), the table at the clamped floor index. */
#define ERN_ASM_TABLE(TABLE)                                                                 \
    "ldmia lr, {r8, r9, r10, r11}\n\t" /* mult */                                            \
    "smmul r0, r0, r8\n\t"                                                                   \
    "smmul r1, r1, r9\n\t"                                                                   \
    "smmul r2, r2, r10\n\t"                                                                  \
    "smmul r3, r3, r11\n\t" TABLE                                                            \
    "ssat r0, #12, r0\n\t"                                                                   \
    "ssat r1, #12, r1\n\t"                                                                   \
    "ssat r2, #12, r2\n\t"                                                                   \
    "ssat r3, #12, r3\n\t"                                                                   \
    "ldrsh r0, [r4, r0, lsl #1]\n\t"                                                         \
    "ldrsh r1, [r4, r1, lsl #1]\n\t"                                                         \
    "ldrsh r2, [r4, r2, lsl #1]\n\t"                                                         \
    "ldrsh r3, [r4, r3, lsl #1]\n\t"

/* Push the frame (r12 points at it; LR = par), then the groups (ERN_ASM_GROUPS_LOOP). */
#define ERN_ASM_GROUPS_BEGIN                                                                 \
    "ldrd r0, r1, [r12, #48]\n\t"                                                            \
    "mov lr, r1\n\t"                                                                         \
    "push {r0}\n\t"                                                                          \
    "ldmia r12, {r0, r1, r2, r3, r4, r5, r7, r8, r9, r10, r11, r12}\n\t"                     \
    "push {r0, r1, r2, r3, r4, r5, r7, r8, r9, r10, r11, r12}\n\t"                           \
    "adr r0, 2f\n\t"                                                                         \
    "mov r2, #(3f - 2f)\n\t" /* bytes per block */                                           \
    "mla r1, r1, r2, r0\n\t"                                                                 \
    "str r1, [sp, #4]\n" ERN_ASM_GROUPS_LOOP

/* Per group (label 1; LR = its parameters, the frame at SP): the bias, the matrix, the four
 * table indices (SMMUL by mult) and entries into r0-r3; the frame's words 12..40 are in r4
 * (the table), r5, r7-r12. */
#define ERN_ASM_GROUPS_LOOP                                                                  \
    "1:\n\t" ERN_ASM_ZONE(matrix) "ldmia lr!, {r0, r1, r2, r3}\n\t" /* bias */               \
    "ldmia sp, {r7, r8, r12}\n\t"                                   /* v, entry, passes */   \
    "mov pc, r8\n" ERN_ASM_DUFF("2", "3") ERN_ASM_ZONE(act)                                  \
    ERN_ASM_TABLE("add r4, sp, #12\n\tldmia r4, {r4, r5, r7, r8, r9, r10, r11, r12}\n\t")

/* The asm statement: ERN_ASM_GROUPS_BEGIN, the loop's own code (ending in "bne 1b" to the
 * next group), the frame dropped. W: the first group's rows, F: the frame. */
#define ERN_ASM_GROUPS(W, F, BODY)                                                           \
    do {                                                                                     \
        register int32_t a0 __asm__("r0") = 0, a1 __asm__("r1") = 0;                         \
        register int32_t a2 __asm__("r2") = 0, a3 __asm__("r3") = 0;                         \
        register uint32_t x __asm__("r4"), y __asm__("r5");                                  \
        register uint32_t w0 __asm__("r8"), w1 __asm__("r9"), w2 __asm__("r10"),             \
            w3 __asm__("r11");                                                               \
        register const ern_qw *wr __asm__("r6") = (W);                                       \
        register const int16_t *vr __asm__("r7") = 0;                                        \
        register const int32_t *fr __asm__("r12") = (F);                                     \
        __asm__ volatile(ERN_ASM_GROUPS_BEGIN BODY "add sp, sp, #52"                         \
                         : ERN_DOT4_OPERANDS(wr, vr), "+r"(fr)                               \
                         :                                                                   \
                         : "lr", "cc", "memory");                                            \
    } while (0)

/* The end of a group in groups_act_dsp: r0-r3 to out (r9, word-aligned; stored back) as two
 * words of two int16, the next group's parameters, the loop while out (r9) is short of its end
 * (r10). */
#define ERN_ASM_GROUP_STORE                                                                  \
    "pkhbt r0, r0, r1, lsl #16\n\t"                                                          \
    "pkhbt r2, r2, r3, lsl #16\n\t"                                                          \
    "strd r0, r2, [r9], #8\n\t"                                                              \
    "str r9, [sp, #28]\n\t"                                                                  \
    "add lr, lr, #36\n\t"                                                                    \
    "cmp r9, r10\n\t"                                                                        \
    "bne 1b\n\t"

/* The table entries t in r0-r3 to (factor t + offset) >> s: factor r7, offset r5, s r8. */
#define ERN_ASM_ACT_CONVERT                                                                  \
    "mla r0, r0, r7, r5\n\t"                                                                 \
    "mla r1, r1, r7, r5\n\t"                                                                 \
    "mla r2, r2, r7, r5\n\t"                                                                 \
    "mla r3, r3, r7, r5\n\t"                                                                 \
    "asr r0, r0, r8\n\t"                                                                     \
    "asr r1, r1, r8\n\t"                                                                     \
    "asr r2, r2, r8\n\t"                                                                     \
    "asr r3, r3, r8\n\t"

/* groups_act for fast sigmoid/tanh rows: the table entry t (sigmoid: the GRU's gates) or
 * 2 t - 32768 (tanh, by ERN_ASM_ACT_CONVERT with s = 0). Per group 3 + 11 per block + 2 per
 * pass + 22 or 30 instructions. */
static void groups_act_dsp(const ern_q_cell *cell, int g0, int g1, const int16_t *v, uint8_t act,
                           int16_t *out)
{
    int32_t frame[14];
    frame_groups(frame, cell, v, cell->par + 13 * g0);
    /* 16: act's offset, 20: t's factor, 24: s = 0, 28: out, 32: its end */
    frame[4] = act == ERN_TANH ? -32768 : 0;
    frame[5] = act == ERN_TANH ? 2 : 1;
    frame[6] = 0;
    frame[7] = (int32_t)(uintptr_t)(out + 4 * g0);
    frame[8] = (int32_t)(uintptr_t)(out + 4 * g1);
    if (act == ERN_SIGMOID) {
        ERN_ASM_GROUPS(group_rows(cell, g0), frame, ERN_ASM_GROUP_STORE);
        return;
    }
    ERN_ASM_GROUPS(group_rows(cell, g0), frame, ERN_ASM_ACT_CONVERT ERN_ASM_GROUP_STORE);
}

/* A SimpleRNN step with fast sigmoid/tanh rows (cell->dsp from the generator) as one asm
 * statement: the frame from the descriptor's words pushed (xh, Duff's entry and passes, the
 * table, act's offset, factor and shift, g and its end), groups_act_dsp's loop into g, then
 * the new h copied into xh by LDM/STM, units_pad values (a multiple of 4; the pads' values
 * meet only zero weights). About 25 instructions per step besides the groups. */
static void rnn_step_dsp(const ern_q_cell *cell, int16_t *xh, int16_t *g)
{
    register int32_t a0 __asm__("r0") = (int32_t)(uintptr_t)cell;
    register int32_t a1 __asm__("r1") = (int32_t)(uintptr_t)xh, a2 __asm__("r2"), a3 __asm__("r3");
    register uint32_t x __asm__("r4"), y __asm__("r5") = (uint32_t)(uintptr_t)(ern_sigmoid_q15 + 2048);
    register uint32_t w0 __asm__("r8"), w1 __asm__("r9"), w3 __asm__("r11");
    register uint32_t w2 __asm__("r10") = (uint32_t)(uintptr_t)g;
    register const ern_qw *wr __asm__("r6");
    register const int16_t *vr __asm__("r7");
    register int32_t p __asm__("r12");
    __asm__ volatile(
        "add r2, r0, %[o_dsp]\n\t" /* skip, passes, offset, factor, shift, g's and h's bytes, count */
        "ldmia r2, {r3, r4, r7, r8, r9, r11, r12, lr}\n\t"
        "add r11, r10, r11\n\t" /* g's end */
        "add r12, r1, r12\n\t"  /* h */
        "push {r10, r12, lr}\n\t" /* the copy's source, destination and count */
        "adr r2, 2f\n\t"
        "mov r6, #(3f - 2f)\n\t" /* bytes per block */
        "mla r3, r3, r6, r2\n\t"
        "push {r1, r3, r4, r5, r7, r8, r9, r10, r11}\n\t"
        "ldrd r6, lr, [r0, %[o_w]]\n" ERN_ASM_GROUPS_LOOP ERN_ASM_ACT_CONVERT ERN_ASM_GROUP_STORE
            ERN_ASM_ZONE(update)
        "add sp, sp, #36\n\t"
        "pop {r0, r1, r2}\n\t"
        "subs r2, r2, #8\n\t"
        "blt 5f\n"
        "4:\n\t"
        "ldmia r0!, {r4, r5, r6, r7}\n\t"
        "stmia r1!, {r4, r5, r6, r7}\n\t"
        "subs r2, r2, #8\n\t"
        "bge 4b\n"
        "5:\n\t"
        "tst r2, #4\n\t"
        "beq 6f\n\t"
        "ldmia r0!, {r4, r5}\n\t"
        "stmia r1!, {r4, r5}\n"
        "6:"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [v] "=&r"(vr),
          [w] "=&r"(wr), [x] "=&r"(x), [y] "+r"(y), [w0] "=&r"(w0), [w1] "=&r"(w1),
          [w2] "+r"(w2), [w3] "=&r"(w3), [p] "=&r"(p)
        : [o_w] "i"(offsetof(ern_q_cell, w)), [o_dsp] "i"(offsetof(ern_q_cell, dsp))
        : "lr", "cc", "memory");
}
#undef ERN_ASM_GROUP_STORE
#undef ERN_ASM_ACT_CONVERT
#endif

ERN_NOINLINE void gate_groups(const ern_q_cell *cell, int g0, int g1, const int16_t *v, uint8_t act,
                        int16_t *out)
{
#ifdef ERN_GROUPS_ASM
    if (cell->fast && (act == ERN_TANH || act == ERN_SIGMOID)) {
        groups_act_dsp(cell, g0, g1, v, act, out);
        return;
    }
#endif
    if (cell->fast && act == ERN_TANH) {
        groups_act(cell, g0, g1, v, ERN_TANH, 1, out);
    } else if (cell->fast && act == ERN_SIGMOID) {
        groups_act(cell, g0, g1, v, ERN_SIGMOID, 1, out);
    } else {
        groups_act(cell, g0, g1, v, act, 0, out);
    }
}

/* The new cell state (into *c) and the new h of one LSTM unit from its gate outputs (any
 * activations and shifts; sh_*: lstm_units'). */
ERN_INLINE int16_t lstm_unit(const ern_q_cell *cell, int sh_ig, int sh_h, int sh_c, int32_t gi,
                             int32_t gf, int32_t gg, int32_t go, int16_t *c)
{
    uint8_t act = cell->act;
    int32_t cj, a;
    ERN_ZONE(update);
    cj = ern_ssat16(((gf * *c + (1 << 14)) >> 15) + ern_q_shift(gi * gg, sh_ig));
    *c = (int16_t)cj;
    ERN_ZONE(act);
    if (act == ERN_SIGMOID || act == ERN_TANH) { /* |cj| < 2^15, the shift >= -9 */
        int s = cell->q_c - ERN_INDEX_Q(act);
        a = act_at(s >= 0 ? cj >> s : cj * (1 << -s), act);
    } else if (act != ERN_RELU && act != ERN_LINEAR) {
        a = act_q(ern_q_shift(cj, sh_c), act);
    } else {
        a = act == ERN_RELU && cj < 0 ? 0 : cj;
    }
    ERN_ZONE(update);
    return ern_q_shift(go * a, sh_h);
}

/* LSTM: group j holds the i, f, c, o rows of unit j, so each unit is updated right after its
 * dot products; the new h goes to hn until every unit has read the old one. */
ERN_INLINE void lstm_units(const ern_q_cell *cell, const int16_t *xh, int16_t *c, int16_t *hn)
{
    int u = cell->units, npairs = (cell->in_pad + cell->units_pad) / 2, j;
    int sh_ig = 15 + cell->q_g - cell->q_c, sh_h = 15 + cell->q_a - cell->q_v;
    int sh_c = cell->q_c - 11;
    uint8_t rec_act = cell->rec_act, act = cell->act;
    const ern_qw *w = cell->w;
    for (j = 0; j < u; j++) {
        const int32_t *par = cell->par + 13 * j;
        int32_t acc[4], gi, gf, gg, go;
        ERN_ZONE(matrix);
        w = group_acc(w, par, xh, npairs, acc);
        ERN_ZONE(act);
        gi = row_out(acc[0], par, 0, rec_act, 0);
        gf = row_out(acc[1], par, 1, rec_act, 0);
        gg = row_out(acc[2], par, 2, act, 0);
        go = row_out(acc[3], par, 3, rec_act, 0);
        hn[j] = lstm_unit(cell, sh_ig, sh_h, sh_c, gi, gf, gg, go, c + j);
    }
    ERN_ZONE(other);
}

/* lstm_units for sigmoid/tanh, fast rows and q_c >= 9, the same integers with less work:
 * tanh(g) and tanh(c) are used halved (t - 16384 for 2 t - 32768), their products shifted
 * one less; i g and o tanh(c) fit int16 without saturation (q_g = q_a = 15, shifts >= 15). */
ERN_INLINE void lstm_units_fast(const ern_q_cell *cell, const int16_t *xh, int16_t *c,
                                int16_t *hn)
{
    int npairs = (cell->in_pad + cell->units_pad) / 2;
    int sh_ig = 29 - cell->q_c, sh_h = 29 - cell->q_v, sh_c = cell->q_c - ERN_INDEX_Q(ERN_TANH);
    int32_t rnd_ig = 1 << (sh_ig - 1), rnd_h = 1 << (sh_h - 1);
    const int32_t *par = cell->par, *end = par + 13 * cell->units;
    const ern_qw *w = cell->w;
    for (; par != end; par += 13, c++, hn++) {
        int32_t acc[4], gi, gf, gh, go, cj, ah;
        ERN_ZONE(matrix);
        w = group_acc(w, par, xh, npairs, acc);
        ERN_ZONE(act);
        gi = sigmoid_at(ern_mulhi(acc[0], par[4]));
        gf = sigmoid_at(ern_mulhi(acc[1], par[5]));
        gh = sigmoid_at(ern_mulhi(acc[2], par[6])) - 16384; /* tanh(g) / 2 */
        go = sigmoid_at(ern_mulhi(acc[3], par[7]));
        ERN_ZONE(update);
        cj = ern_ssat16(((gf * *c + (1 << 14)) >> 15) + ((gi * gh + rnd_ig) >> sh_ig));
        *c = (int16_t)cj;
        ERN_ZONE(act);
        ah = sigmoid_at(cj >> sh_c) - 16384; /* tanh(c) / 2 */
        ERN_ZONE(update);
        *hn = (int16_t)((go * ah + rnd_h) >> sh_h);
    }
    ERN_ZONE(other);
}


#ifdef ERN_GROUPS_ASM
/* lstm_units_fast as one asm loop over the units (ERN_ASM_GROUPS), the same integers. Per unit
 * 3 + 11 per block + 2 per pass + 36 instructions. */
static void lstm_units_dsp(const ern_q_cell *cell, const int16_t *xh, int16_t *c, int16_t *hn)
{
    int sh_ig = 29 - cell->q_c, sh_h = 29 - cell->q_v;
    int32_t frame[14];
    frame_groups(frame, cell, xh, cell->par);
    /* 16 rnd_ig, 20 sh_ig, 24 2^14, 28 sh_c, 32 rnd_h, 36 sh_h, 40 c, 44 hn, 48 the
     * parameters' end */
    frame[4] = 1 << (sh_ig - 1);
    frame[5] = sh_ig;
    frame[6] = 1 << 14;
    frame[7] = cell->q_c - ERN_INDEX_Q(ERN_TANH);
    frame[8] = 1 << (sh_h - 1);
    frame[9] = sh_h;
    frame[10] = (int32_t)(uintptr_t)c;
    frame[11] = (int32_t)(uintptr_t)hn;
    frame[12] = (int32_t)(uintptr_t)(cell->par + 13 * cell->units);
    ERN_ASM_GROUPS(cell->w, frame,
                   "sub r2, r2, #16384\n\t" /* tanh(g) / 2; r0 i, r1 f, r3 o */
                   ERN_ASM_ZONE(update)
                   "mla r2, r0, r2, r5\n\t"
                   "ldrsh r0, [r12]\n\t"
                   "smlabb r1, r1, r0, r8\n\t"
                   "asr r2, r2, r7\n\t"
                   "add r2, r2, r1, asr #15\n\t"
                   "ssat r2, #16, r2\n\t"
                   "strh r2, [r12], #2\n\t" ERN_ASM_ZONE(act)
                   "asr r2, r2, r9\n\t"
                   "ssat r2, #12, r2\n\t"
                   "ldrsh r2, [r4, r2, lsl #1]\n\t"
                   "sub r2, r2, #16384\n\t" /* tanh(c) / 2 */
                   ERN_ASM_ZONE(update)
                   "mla r2, r3, r2, r10\n\t"
                   "ldrd r5, r0, [sp, #44]\n\t"
                   "asr r2, r2, r11\n\t"
                   "strh r2, [r5], #2\n\t"
                   "strd r12, r5, [sp, #40]\n\t"
                   "add lr, lr, #36\n\t" /* the next group's parameters */
                   "cmp lr, r0\n\t"
                   "bne 1b\n\t");
}
#endif

#if ERN_Q_ROWS
#ifdef ERN_MVE
/* lstm_units_fast's unit update for four units at once (lanes p of c and hn), the same
 * integers: VRSHR by s is (v + 2^(s-1)) >> s, VSHL by -s is >> s; no product overflows. */
ERN_INLINE void lstm_units_mve(const ern_q_cell *cell, int32x4_t gi, int32x4_t gf, int32x4_t gh,
                               int32x4_t go, int16_t *c, int16_t *hn, mve_pred16_t p)
{
    int32x4_t cj, ah;
    ERN_ZONE(update);
    cj = vaddq_s32(vrshrq_n_s32(vmulq_s32(gf, vldrhq_z_s32(c, p)), 15),
                   vrshlq_n_s32(vmulq_s32(gi, gh), cell->q_c - 29));
    cj = vshrq_n_s32(vqshlq_n_s32(cj, 16), 16); /* saturated to int16 */
    vstrhq_p_s32(c, cj, p);
    ERN_ZONE(act);
    ah = vsubq_n_s32(sigmoid_at_mve(vshlq_r_s32(cj, ERN_INDEX_Q(ERN_TANH) - cell->q_c)),
                     16384); /* tanh(c) / 2 */
    ERN_ZONE(update);
    vstrhq_p_s32(hn, vrshlq_n_s32(vmulq_s32(go, ah), cell->q_v - 29), p);
}
#endif

/* LSTM in the rows arrangement (ERN_Q_ROWS): block b's four groups are the i, f, c, o rows of
 * units 4b..4b+3, so each group's rows share one activation. Helium with lstm_units_fast's
 * conditions: each gate one vector, the four units' update one vector; else per unit
 * lstm_unit (the same integers). */
ERN_NOINLINE void lstm_blocks(const ern_q_cell *cell, const int16_t *xh, int16_t *c, int16_t *hn,
                        int fast)
{
    int u = cell->units, npairs = (cell->in_pad + cell->units_pad) / 2, j, l;
    int sh_ig = 15 + cell->q_g - cell->q_c, sh_h = 15 + cell->q_a - cell->q_v;
    const ern_qw *w = cell->w;
    for (j = 0; j < u; j += 4) {
        const int32_t *par = cell->par + 13 * j; /* the block's groups are j .. j + 3 */
        int32_t acc[16];
        ERN_ZONE(matrix);
        groups_bias(par, 13, 4, acc);
        w = span_groups(w, xh, 2 * npairs, 4, acc);
        ERN_ZONE(act);
#ifdef ERN_MVE
        if (fast) {
            lstm_units_mve(cell, group_sigmoid_mve(acc, par), group_sigmoid_mve(acc + 4, par + 13),
                           vsubq_n_s32(group_sigmoid_mve(acc + 8, par + 26), 16384),
                           group_sigmoid_mve(acc + 12, par + 39), c + j, hn + j,
                           vctp32q((uint32_t)(u - j)));
            continue;
        }
#endif
        for (l = 0; l < 4 && j + l < u; l++) {
            int32_t gi = row_out(acc[l], par, l, cell->rec_act, 0);
            int32_t gf = row_out(acc[4 + l], par + 13, l, cell->rec_act, 0);
            int32_t gg = row_out(acc[8 + l], par + 26, l, cell->act, 0);
            int32_t go = row_out(acc[12 + l], par + 39, l, cell->rec_act, 0);
            hn[j + l] = lstm_unit(cell, sh_ig, sh_h, cell->q_c - 11, gi, gf, gg, go, c + j + l);
        }
    }
    ERN_ZONE(other);
    (void)fast;
}
#endif

void ern_q_lstm_step(const ern_q_cell *cell, int16_t *xh, int16_t *c, int16_t *hn)
{
    /* fast: sigmoid/tanh (so q_g = q_a = 15), fast rows and q_c >= 9: no shift goes left */
    int fast = cell->fast && cell->rec_act == ERN_SIGMOID && cell->act == ERN_TANH;
    fast = fast && cell->q_c >= 9;
#if ERN_Q_ROWS
    lstm_blocks(cell, xh, c, hn, fast);
#else
    if (fast) {
#ifdef ERN_GROUPS_ASM
        lstm_units_dsp(cell, xh, c, hn);
#else
        lstm_units_fast(cell, xh, c, hn);
#endif
    } else {
        lstm_units(cell, xh, c, hn);
    }
#endif
    copy_q(xh + cell->in_pad, hn, cell->units);
}

/* acc + ((a * r + 2^14) >> 15) for r in the int16 range, exactly. */
ERN_INLINE int32_t add_mul_q15(int32_t acc, int32_t a, int32_t r)
{
#ifdef ERN_DSP
    /* SMMLAR by r << 17 rounds (a r 2^17 + 2^31) / 2^32 as wanted, but r << 17 wraps by
     * k 2^32, k = (r + 2^14) >> 15 in {-1, 0, 1}: the accumulator adds k a back (mod 2^32,
     * like the hardware; the result fits) */
    uint32_t k = (uint32_t)((r + (1 << 14)) >> 15);
    return ern_mulhi_round_add(a, (int32_t)((uint32_t)r << 17),
                               (int32_t)((uint32_t)acc + (uint32_t)a * k));
#else
    return acc + (int32_t)(((int64_t)a * r + (1 << 14)) >> 15);
#endif
}

#ifdef ERN_MVE
/* add_mul_q15 of four lanes (acc[i] += (a[i] r[i] + 2^14) >> 15), the same integers:
 * VRMULH by r << 17 is SMMLAR's rounding, k a adds its wrap-around back. */
ERN_INLINE void add_mul_q15_mve(int32_t *acc, const int32_t *a, const int16_t *r)
{
    int32x4_t av = vld1q_s32(a), rv = vldrhq_s32(r);
    int32x4_t k = vshrq_n_s32(vaddq_n_s32(rv, 1 << 14), 15);
    int32x4_t y = vaddq_s32(vld1q_s32(acc), vrmulhq_s32(av, vshlq_n_s32(rv, 17)));
    vst1q_s32(acc, vaddq_s32(y, vmulq_s32(k, av)));
}

/* The GRU's new h of units [0, u), 4 lanes at a time: gru_h's integers (VRSHL by -s is
 * (cand + rnd) >> s, VRSHR by 15 the rounded product). */
ERN_INLINE void gru_h_mve(const int16_t *z, int16_t *h, const int16_t *cand, int s, int u)
{
    int j;
    for (j = 0; j < u; j += 4) {
        mve_pred16_t p = vctp32q((uint32_t)(u - j));
        int32x4_t c = vrshlq_s32(vldrhq_z_s32(cand + j, p), vdupq_n_s32(-s));
        int32x4_t d = vsubq_s32(vldrhq_z_s32(h + j, p), c);
        d = vrshrq_n_s32(vmulq_s32(vldrhq_z_s32(z + j, p), d), 15);
        vstrhq_p_s32(h + j, vaddq_s32(c, d), p);
    }
}
#endif

/* add_mul_q15 of a group's four rows: acc[r] += (inner[r] rg[r] + 2^14) >> 15. */
ERN_INLINE void group_add_mul_q15(int32_t *acc, const int32_t *inner, const int16_t *rg)
{
#ifdef ERN_MVE
    add_mul_q15_mve(acc, inner, rg);
#else
    acc[0] = add_mul_q15(acc[0], inner[0], rg[0]);
    acc[1] = add_mul_q15(acc[1], inner[1], rg[1]);
    acc[2] = add_mul_q15(acc[2], inner[2], rg[2]);
    acc[3] = add_mul_q15(acc[3], inner[3], rg[3]);
#endif
}

#if ERN_Q_ROWS
/* gru_candidates in the rows arrangement: every candidate group's input columns, then every
 * group's recurrent columns (quantize.mve_chunks), so ERN_BATCH groups at a time run each
 * span in one span_groups call. */
ERN_INLINE void gru_candidates(const ern_q_cell *cell, const int16_t *xh, int16_t *g,
                               const int16_t *rh, uint8_t act, int fast)
{
    static const int32_t no_bias[4 * ERN_BATCH] = {0};
    int up = cell->units_pad, in = cell->in_pad, l;
    const int16_t *rg = g + up;
    const ern_qw *w = group_rows(cell, up / 2), *wr = w + (long)up * in;
    const int32_t *par = cell->par + 13 * (up / 2), *end = cell->par + 13 * (3 * up / 4);
    const int32_t *rb = cell->rbias ? cell->rbias : no_bias;
    int16_t *out = g + 2 * up;
    while (par != end) {
        int32_t acc[4 * ERN_BATCH], inner[4 * ERN_BATCH];
        int ng = end - par > ERN_BATCH * 13 ? ERN_BATCH : (int)(end - par) / 13;
        ERN_ZONE(matrix);
        groups_bias(par, 13, ng, acc);
        w = span_groups(w, xh, in, ng, acc);
        if (cell->reset_after) {
            groups_bias(rb, 4, ng, inner);
            wr = span_groups(wr, xh + in, up, ng, inner);
            ERN_ZONE(update);
            for (l = 0; l < ng; l++) {
                group_add_mul_q15(acc + 4 * l, inner + 4 * l, rg + 4 * l);
            }
        } else {
            wr = span_groups(wr, rh, up, ng, acc);
        }
        ERN_ZONE(act);
        for (l = 0; l < ng; l++, par += 13, out += 4, rg += 4) {
            group_out(acc + 4 * l, par, act, fast, out);
        }
        rb += cell->rbias ? 4 * ng : 0;
    }
}
#else
/* The column-pair arrangement keeps the z, r and candidate groups of units 4q..4q+3 together
 * (groups 3q, 3q + 1, 3q + 2; quantize.group_rows), a candidate group's recurrent columns
 * before its input ones. */
#define ERN_GRU_QUAD (3 * 13)

/* GRU candidate rows of quad q into g[12 q + 8 ..), its r at g[12 q + 4 ..) (the layout of
 * gate_groups over all groups); act is a constant where inlined. Each group's rows run over
 * the recurrent columns, then the input ones. */
ERN_INLINE void gru_candidates(const ern_q_cell *cell, const int16_t *xh, int16_t *g,
                               const int16_t *rh, uint8_t act, int fast)
{
    static const int32_t no_bias[4] = {0, 0, 0, 0};
    int up = cell->units_pad, in = cell->in_pad, k = in + up;
    const int16_t *h = xh + in;
    const ern_qw *w = group_rows(cell, 2); /* past each candidate group: z, r of the next */
    const int32_t *par = cell->par + 26, *end = par + ERN_GRU_QUAD * (up / 4);
    const int32_t *rb = cell->rbias ? cell->rbias : no_bias;
    for (; par != end; par += ERN_GRU_QUAD, w += 12 * k, g += 12) {
        int32_t acc[4];
        ERN_ZONE(matrix);
        acc[0] = par[0], acc[1] = par[1], acc[2] = par[2], acc[3] = par[3];
        ern_q_dot4(w + 4 * up, xh, in / 2, acc); /* the input columns, after the recurrent */
        if (cell->reset_after) {
            int32_t inner[4];
            inner[0] = rb[0], inner[1] = rb[1], inner[2] = rb[2], inner[3] = rb[3];
            ern_q_dot4(w, h, up / 2, inner);
            ERN_ZONE(update);
            group_add_mul_q15(acc, inner, g + 4);
            rb += cell->rbias ? 4 : 0;
        } else {
            ern_q_dot4(w, rh, up / 2, acc);
        }
        ERN_ZONE(act);
        group_out(acc, par, act, fast, g + 8);
    }
}

#endif

/* New h of a GRU unit: the candidate into Q q_v (as ern_q_convert with s >= 0), then
 * (z h + (32768 - z) c + 2^14) >> 15, computed as c + (z (h - c) + 2^14) >> 15 (the same). */
ERN_INLINE int16_t gru_h(int32_t z, int32_t h, int32_t cand, int32_t rnd, int s)
{
    int32_t c = (cand + rnd) >> s;
    return (int16_t)(c + ((z * (h - c) + (1 << 14)) >> 15));
}

#ifndef ERN_MVE
/* gru_h of units [0, u), two per pass (half the loop's instructions). */
ERN_INLINE void gru_h_units(const int16_t *z, int16_t *h, const int16_t *cand, int32_t rnd, int s,
                            int u)
{
    int j;
    for (j = 0; j + 1 < u; j += 2) {
        h[j] = gru_h(z[j], h[j], cand[j], rnd, s);
        h[j + 1] = gru_h(z[j + 1], h[j + 1], cand[j + 1], rnd, s);
    }
    if (j < u) {
        h[j] = gru_h(z[j], h[j], cand[j], rnd, s);
    }
}
#endif

#if !ERN_Q_ROWS && !defined(ERN_GROUPS_ASM)
/* gru_quads_dsp in C (fast == ERN_FAST_GRU): per quad of units z, r, the candidates and the
 * new h into hn, the same integers as gate_groups, gru_candidates and gru_h_units without their
 * stores and loads of z, r and the candidates. */
ERN_INLINE void gru_quads(const ern_q_cell *cell, const int16_t *xh, int16_t *hn)
{
    int up = cell->units_pad, in = cell->in_pad, k = in + up, s = cell->q_g - cell->q_v, j;
    int32_t rnd = (1 << s) >> 1;
    const int16_t *h = xh + in, *hq = h;
    const ern_qw *w = cell->w;
    const int32_t *par = cell->par, *end = par + ERN_GRU_QUAD * (up / 4), *rb = cell->rbias;
    for (; par != end; par += ERN_GRU_QUAD, rb += 4, hq += 4, hn += 4) {
        int32_t acc[4], inner[4];
        int16_t z[4], r[4], c[4];
        ERN_ZONE(matrix);
        w = group_acc(w, par, xh, k / 2, acc);
        ERN_ZONE(act);
        group_out(acc, par, ERN_SIGMOID, 1, z);
        ERN_ZONE(matrix);
        w = group_acc(w, par + 13, xh, k / 2, acc);
        ERN_ZONE(act);
        group_out(acc, par + 13, ERN_SIGMOID, 1, r);
        ERN_ZONE(matrix);
        group_acc(w + 4 * up, par + 26, xh, in / 2, acc); /* the input columns */
        inner[0] = rb[0], inner[1] = rb[1], inner[2] = rb[2], inner[3] = rb[3];
        w = ern_q_dot4(w, h, up / 2, inner) + 4 * in;
        ERN_ZONE(update);
        group_add_mul_q15(acc, inner, r);
        ERN_ZONE(act);
        group_out(acc, par + 26, ERN_TANH, 1, c);
        ERN_ZONE(update);
        for (j = 0; j < 4; j++) {
            hn[j] = gru_h(z[j], hq[j], c[j], rnd, s);
        }
    }
}
#endif

#ifdef ERN_GROUPS_ASM
/* ERN_ASM_DUFF followed by a copy of its pass (label L) as the last one: a span of one pass
 * (most at 16 units) is entered in the copy and runs no loop test; longer ones at A with
 * r12 = passes - 1 (ERN_GRU_ENTRY). */
#define ERN_GRU_DUFF(A, B, L)                                                                \
    ERN_ASM_DUFF(A, B) L ":\n\t" ERN_DOT4_BLOCK ERN_DOT4_BLOCKS_REST
/* Set-up: the entry of a span (blocks to skip in S, passes in P; r4 bytes per block) into S
 * and, with passes - 1, to sp + OFF (no IT block, no label arithmetic in an immediate: clang
 * takes neither). */
#define ERN_GRU_ENTRY(S, P, OFF, A, L)                                                       \
    "adr.w r5, " A "f\n\t"                                                                   \
    "subs " P ", " P ", #1\n\t"                                                              \
    "bne 14f\n\t"                                                                            \
    "adr.w r5, " L "f\n"                                                                     \
    "14:\n\t"                                                                                \
    "mla " S ", " S ", r4, r5\n\t"                                                           \
    "strd " S ", " P ", [sp, #" OFF "]\n\t"
/* A z or r group: its bias, the whole row (ERN_GRU_DUFF A/B/L entered at r8), the table,
 * then MORE; the four values stored at sp + SLOT. */
#define ERN_GRU_GATE(ENTRY, A, B, L, MORE, SLOT)                                             \
    ERN_ASM_ZONE(matrix)                                                                     \
    "ldmia lr!, {r0, r1, r2, r3}\n\t"                                                        \
    "ldmia sp, {r7, r8, r12}\n\t" ENTRY "mov pc, r8\n" ERN_GRU_DUFF(A, B, L)                 \
        ERN_ASM_ZONE(act)                                                                    \
        ERN_ASM_TABLE("ldr r4, [sp, #12]\n\t") MORE                                          \
    "add r5, sp, #" SLOT "\n\t"                                                              \
    "stmia r5, {r0, r1, r2, r3}\n\t"                                                         \
    "add lr, lr, #36\n\t"
/* add_mul_q15 of row R (inner in rR, r << 16 in Y, the bias in BIAS): the candidate's sum
 * so far into rR. SMMLAR of 2 inner and r << 16 rounds (inner r + 2^14) >> 15 exactly: r < 2^15
 * and |2 inner| < 2^31 (quantize.fast_flag). */
#define ERN_GRU_RESET(R, Y, BIAS)                                                            \
    "add r" R ", r" R ", r" R "\n\t"                                                         \
    "smmlar r" R ", r" R ", " Y ", " BIAS "\n\t"
/* gru_h of a unit, (z h + K - z c) >> 15 added to c (K = 2^14 in r10): the candidate in rC
 * (Q q_v), z in Z (< 2^15: SMLABB/SMLABT take its low half), its old h in half HALF (B or T)
 * of HPAIR; the new h into rC. */
#define ERN_GRU_H(C, Z, HALF, HPAIR)                                                         \
    "smla" HALF " r9, " Z ", " HPAIR ", r10\n\t"                                             \
    "mls " Z ", " Z ", r" C ", r9\n\t"                                                       \
    "add r" C ", r" C ", " Z ", asr #15\n\t"

/* One GRU step for reset_after, fast tanh candidates and sigmoid gates, as one asm loop over
 * quads of units (label 1), the same integers as gate_groups, gru_candidates and gru_h: per
 * quad the z gates (Duff's device 2/3) and r gates (4/5) to the stack, the candidate's
 * recurrent columns from the recurrent bias (6/7), add_mul_q15 with r onto the bias, its input
 * columns (8/9), the table, the conversion to Q q_v ((2 t - 32768 + rnd) >> s, s >= 0) and
 * the new h of the four units into hn (the old h is read until the last quad). */
static void gru_quads_dsp(const ern_q_cell *cell, const int16_t *xh, int16_t *hn)
{
    /* blocks of four columns: the whole row, the recurrent and the input columns */
    unsigned in = cell->in_pad, bk = (in + cell->units_pad) / 4, bh = cell->units_pad / 4;
    unsigned bx = in / 4, d = ERN_DUFF - 1;
    int s = cell->q_g - cell->q_v;
    /* The frame the asm pushes, by sp offset: 0 v, 4 the row's entry (blocks to skip
     * before), 8 its passes, 12 the table's middle, 16 the candidate's offset with rnd, 20 s,
     * 24..32 and 36..44 the same as 0..8 for the recurrent and the input columns, 48 the
     * recurrent bias, 52 the parameters' end, 56 old h, 60 new h, 64 z and 80 r of a quad, 96
     * the entry of the r gates' row.
     * The registers bring 0..44 (r10 hn) and the cell (r6). */
    register int32_t a0 __asm__("r0") = (int32_t)(uintptr_t)xh;
    register int32_t a1 __asm__("r1") = (int32_t)(-bk & d), a2 __asm__("r2") = (int32_t)((bk + d) / (d + 1));
    register int32_t a3 __asm__("r3") = (int32_t)(uintptr_t)(ern_sigmoid_q15 + 2048);
    register int32_t x __asm__("r4") = -32768 + ((1 << s) >> 1), y __asm__("r5") = s;
    register const void *wr __asm__("r6") = cell;
    register const int16_t *vr __asm__("r7") = xh + in;
    register int32_t w0 __asm__("r8") = (int32_t)(-bh & d), w1 __asm__("r9") = (int32_t)((bh + d) / (d + 1));
    register int32_t w2 __asm__("r10") = (int32_t)(uintptr_t)hn;
    register int32_t w3 __asm__("r11") = (int32_t)(-bx & d), p __asm__("r12") = (int32_t)((bx + d) / (d + 1));
    __asm__ volatile(
            "sub sp, sp, #56\n\t" /* 48..60, z, r, 96 the r gates' entry */
            "push {r0, r1, r2, r3, r4, r5, r7, r8, r9, r10, r11, r12}\n\t"
            "str r0, [sp, #36]\n\t"
            "strd r7, r10, [sp, #56]\n\t"
            "ldr lr, [r6, %[par]]\n\t"
            "ldr r0, [r6, %[rbias]]\n\t"
            "ldrh r3, [r6, %[up]]\n\t"
            "mov r4, #39\n\t"
            "mul r3, r3, r4\n\t" /* bytes of the quads' parameters */
            "add r3, lr, r3\n\t"
            "strd r0, r3, [sp, #48]\n\t"
            "ldr r6, [r6, %[wo]]\n\t"
            "mov r4, #(3f - 2f)\n\t" /* bytes per block */
            ERN_GRU_ENTRY("r1", "r2", "4", "2", "10")
            "adr.w r5, 4f\n\t" /* the r gates' copy of the row's Duff's device */
            "adr.w r0, 2f\n\t"
            "sub r5, r5, r0\n\t"
            "add r5, r1, r5\n\t"
            "str r5, [sp, #96]\n\t" ERN_GRU_ENTRY("r8", "r9", "28", "6", "12")
                ERN_GRU_ENTRY("r11", "r12", "40", "8", "13")
            "1:\n\t" ERN_GRU_GATE("", "2", "3", "10", "", "64")
                ERN_GRU_GATE("ldr r8, [sp, #96]\n\t", "4", "5", "11",
                             "lsl r0, r0, #16\n\tlsl r1, r1, #16\n\tlsl r2, r2, #16\n\t"
                             "lsl r3, r3, #16\n\t",
                             "80")
                    ERN_ASM_ZONE(matrix)
            "ldr r4, [sp, #48]\n\t"
            "ldmia r4!, {r0, r1, r2, r3}\n\t" /* the recurrent bias */
            "str r4, [sp, #48]\n\t"
            "add r8, sp, #24\n\t"
            "ldmia r8, {r7, r8, r12}\n\t"
            "mov pc, r8\n" ERN_GRU_DUFF("6", "7", "12") ERN_ASM_ZONE(update)
            "ldmia lr!, {r8, r9, r10, r11}\n\t" /* the candidate's bias */
            "add r4, sp, #80\n\t"
            "ldmia r4, {r4, r5, r7, r12}\n\t" /* r << 16 */
            ERN_GRU_RESET("0", "r4", "r8") ERN_GRU_RESET("1", "r5", "r9")
                ERN_GRU_RESET("2", "r7", "r10") ERN_GRU_RESET("3", "r12", "r11") ERN_ASM_ZONE(matrix)
            "add r8, sp, #36\n\t"
            "ldmia r8, {r7, r8, r12}\n\t"
            "mov pc, r8\n" ERN_GRU_DUFF("8", "9", "13") ERN_ASM_ZONE(act)
                ERN_ASM_TABLE("add r4, sp, #12\n\tldmia r4, {r4, r5, r7}\n\t") ERN_ASM_ZONE(update)
            "add r0, r5, r0, lsl #1\n\t"
            "add r1, r5, r1, lsl #1\n\t"
            "add r2, r5, r2, lsl #1\n\t"
            "add r3, r5, r3, lsl #1\n\t"
            "asr r0, r0, r7\n\t"
            "asr r1, r1, r7\n\t"
            "asr r2, r2, r7\n\t"
            "asr r3, r3, r7\n\t"
            "add r4, sp, #64\n\t"
            "ldmia r4, {r4, r5, r7, r8}\n\t" /* z */
            "ldr r9, [sp, #56]\n\t"
            "ldrd r11, r12, [r9], #8\n\t" /* the four old h */
            "mov r10, #16384\n\t"
            "str r9, [sp, #56]\n\t" ERN_GRU_H("0", "r4", "bb", "r11") ERN_GRU_H("1", "r5", "bt", "r11")
                ERN_GRU_H("2", "r7", "bb", "r12") ERN_GRU_H("3", "r8", "bt", "r12")
            "ldr r9, [sp, #60]\n\t"
            "pkhbt r0, r0, r1, lsl #16\n\t"
            "pkhbt r2, r2, r3, lsl #16\n\t"
            "strd r0, r2, [r9], #8\n\t" /* the four new h */
            "str r9, [sp, #60]\n\t"
            "ldr r12, [sp, #52]\n\t"
            "add lr, lr, #36\n\t" /* the next quad's parameters */
            "cmp lr, r12\n\t"
            "bne 1b\n\t"
            "add sp, sp, #104"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [v] "+r"(vr),
              [w] "+r"(wr), [x] "+r"(x), [y] "+r"(y), [w0] "+r"(w0), [w1] "+r"(w1),
              [w2] "+r"(w2), [w3] "+r"(w3), "+r"(p)
            : [par] "i"(offsetof(ern_q_cell, par)), [rbias] "i"(offsetof(ern_q_cell, rbias)),
              [up] "i"(offsetof(ern_q_cell, units_pad)), [wo] "i"(offsetof(ern_q_cell, w))
            : "lr", "cc", "memory");
}
#undef ERN_GRU_H
#undef ERN_GRU_RESET
#undef ERN_GRU_GATE
#undef ERN_GRU_ENTRY
#undef ERN_GRU_DUFF
#endif

/* The GRU's z and r gates into g[0, 2 up). */
/* The new h of n units from their z, the candidates (in act() output Q) and the old h. */
ERN_INLINE void gru_h_new(const ern_q_cell *cell, const int16_t *z, int16_t *h, int16_t *cand, int n)
{
    int s = cell->q_g - cell->q_v;
    if (s < 0) {
        ern_q_convert(cand, cand, n, cell->q_g, cell->q_v);
        s = 0;
    }
#ifdef ERN_MVE
    gru_h_mve(z, h, cand, s, n);
#else
    gru_h_units(z, h, cand, (1 << s) >> 1, s, n);
#endif
}

/* The GRU step in C, any activations and flags: z and r, the candidates, the new h in place.
 * Where gru_quads_dsp runs the usual GRU, out of line: ern_q_gru_step stays small. */
#ifdef ERN_GROUPS_ASM
ERN_NOINLINE void gru_step_c(const ern_q_cell *cell, int16_t *xh, int16_t *g, int16_t *rh)
#else
static void gru_step_c(const ern_q_cell *cell, int16_t *xh, int16_t *g, int16_t *rh)
#endif
{
    int u = cell->units, up = cell->units_pad, j;
    int16_t *h = xh + cell->in_pad;
#if ERN_Q_ROWS
    gate_groups(cell, 0, up / 2, xh, cell->rec_act, g);
    ERN_ZONE(update);
    if (!cell->reset_after) {
        for (j = 0; j < u; j++) { /* pads of rh stay zero */
            rh[j] = (int16_t)((g[up + j] * h[j] + (1 << 14)) >> 15);
        }
    }
    if (cell->fast && cell->act == ERN_TANH) {
        gru_candidates(cell, xh, g, rh, ERN_TANH, 1);
    } else {
        gru_candidates(cell, xh, g, rh, cell->act, 0);
    }
    ERN_ZONE(update);
    gru_h_new(cell, g, h, g + 2 * up, u);
#else
    /* per quad q: z, r and the candidates of its units at g[12 q ..), as the groups lie; the
     * z and r groups through a copy of the cell that starts at them (gate_groups keeps its
     * first group 0, which GCC specializes) */
    for (j = 0; j < up; j += 4) {
        ern_q_cell quad = *cell;
        quad.w = group_rows(cell, 3 * j / 4);
        quad.par = cell->par + 3 * 13 * j / 4;
        gate_groups(&quad, 0, 2, xh, cell->rec_act, g + 3 * j);
    }
    ERN_ZONE(update);
    if (!cell->reset_after) {
        for (j = 0; j < u; j++) { /* pads of rh stay zero */
            rh[j] = (int16_t)((g[3 * (j & ~3) + 4 + (j & 3)] * h[j] + (1 << 14)) >> 15);
        }
    }
    gru_candidates(cell, xh, g, rh, cell->act, cell->fast);
    ERN_ZONE(update);
    for (j = 0; j < u; j += 4) {
        gru_h_new(cell, g + 3 * j, h + j, g + 3 * j + 8, u - j < 4 ? u - j : 4);
    }
#endif
}

void ern_q_gru_step(const ern_q_cell *cell, int16_t *xh, int16_t *g, int16_t *rh)
{
#if !ERN_Q_ROWS
    if (cell->fast == ERN_FAST_GRU) {
#ifdef ERN_GROUPS_ASM
        gru_quads_dsp(cell, xh, g); /* the new h into g */
#else
        gru_quads(cell, xh, g);
#endif
        ERN_ZONE(update);
        copy_q(xh + cell->in_pad, g, cell->units);
        return;
    }
#endif
    gru_step_c(cell, xh, g, rh);
}

/* SimpleRNN in C: the groups into g, their conversion to Q q_v into h. */
ERN_NOINLINE void rnn_step_c(const ern_q_cell *cell, int16_t *xh, int16_t *g)
{
    gate_groups(cell, 0, cell->units_pad / 4, xh, cell->act, g);
    ERN_ZONE(update);
    ern_q_convert(g, xh + cell->in_pad, cell->units, cell->q_g, cell->q_v);
}

void ern_q_rnn_step(const ern_q_cell *cell, int16_t *xh, int16_t *g)
{
#ifdef ERN_GROUPS_ASM
    if (cell->dsp[1] != 0) { /* the generator's words for rnn_step_dsp */
        rnn_step_dsp(cell, xh, g);
        return;
    }
#endif
    rnn_step_c(cell, xh, g);
}

/* A dense row's output: the requantization inlined where act is linear (softmax logits). */
ERN_INLINE int16_t dense_out(int32_t acc, const ern_q_dense *d, int j, uint8_t act)
{
    return act == ERN_LINEAR ? ern_q_requant(acc, d->mult[j], d->shift[j])
                             : ern_q_activate(acc, d->mult[j], d->shift[j], act);
}

void ern_q_dense_run(const ern_q_dense *d, const int16_t *x, int16_t *y)
{
    int j, n = d->in_pad;
    uint8_t act = d->act == ERN_SOFTMAX ? ERN_LINEAR : d->act;
    const int8_t *w = d->wq;
    ERN_ZONE(dense);
    for (j = 0; j + 1 < d->units; j += 2, w += 2 * n) { /* two rows per pass share x's loads */
        int32_t a0 = d->bias ? d->bias[j] : 0, a1 = d->bias ? d->bias[j + 1] : 0;
        ern_q_dot2(w, w + n, x, n, &a0, &a1);
        y[j] = dense_out(a0, d, j, act);
        y[j + 1] = dense_out(a1, d, j + 1, act);
    }
    if (j < d->units) {
        y[j] = dense_out(ern_q_dot(w, x, n, d->bias ? d->bias[j] : 0), d, j, act);
    }
    if (d->act == ERN_SOFTMAX) {
        ern_q_softmax(y, d->units);
    }
    if (d->leaky) {
        ern_q_leaky_run(d->leaky, y, d->units);
    }
    ERN_ZONE(other);
}

void ern_q_depthwise_run(const ern_q_dense *d, int mult, const int16_t *x, int stride, int t0,
                         int taps, int dilation, int steps_in, int16_t *y)
{
    int o, j, j0, j1;
    ern_taps_inside(t0, taps, dilation, steps_in, &j0, &j1);
    ERN_ZONE(dense);
    for (o = 0; o < d->units; o++) {
        const int8_t *w = d->wq + (long)o * d->in_pad;
        long at = (long)(t0 + j0 * dilation) * stride + o / mult;
        int32_t acc = d->bias ? d->bias[o] : 0;
        for (j = j0; j < j1; j++, at += (long)dilation * stride) {
            acc += w[j] * x[at];
        }
        y[o] = ern_q_activate(acc, d->mult[o], d->shift[o], d->act);
    }
    if (d->leaky) {
        ern_q_leaky_run(d->leaky, y, d->units);
    }
    ERN_ZONE(other);
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

void ern_q_act_run(uint8_t act, int16_t *v, int n, int q_in)
{
    int i;
    if (act == ERN_LINEAR) {
        return;
    }
    if (act == ERN_RELU6) {
        ern_q_convert(v, v, n, q_in, ERN_RELU6_Q);
    } else if (act != ERN_RELU) { /* bounded functions and softmax take Q11 */
        ern_q_convert(v, v, n, q_in, 11);
    }
    if (act == ERN_SOFTMAX) {
        ern_q_softmax(v, n);
        return;
    }
    for (i = 0; i < n; i++) {
        v[i] = act_q(v[i], act);
    }
}

void ern_q_leaky_run(const ern_q_leaky *lk, int16_t *v, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        int32_t x = v[i];
        v[i] = x > lk->threshold ? (int16_t)(x < lk->max ? x : lk->max)
                                 : ern_q_requant((x - lk->threshold) * 32768, lk->mult, lk->shift);
    }
}

void ern_q_gather(const int16_t *x, int stride, int t0, int taps, int dilation, int steps_in, int n,
                  int16_t *col)
{
    int j, c;
    for (j = 0; j < taps; j++) {
        int t = t0 + j * dilation;
        for (c = 0; c < n; c++) {
            col[j * n + c] = t >= 0 && t < steps_in ? x[(long)t * stride + c] : 0;
        }
    }
}

/* total / count, rounded half away from zero (count > 0). */
static int32_t round_mean(int32_t total, int32_t count)
{
    return total >= 0 ? (total + count / 2) / count : -((count / 2 - total) / count);
}

void ern_q_pool(uint8_t is_max, const int16_t *x, int stride, int t0, int taps, int steps_in, int n,
                int16_t *y)
{
    int lo = t0 < 0 ? 0 : t0, hi = t0 + taps > steps_in ? steps_in : t0 + taps, t, c;
    int32_t count = hi - lo;
    for (c = 0; c < n; c++) {
        int32_t acc = x[(long)lo * stride + c];
        for (t = lo + 1; t < hi; t++) {
            int32_t v = x[(long)t * stride + c];
            acc = is_max ? (v > acc ? v : acc) : acc + v;
        }
        y[c] = (int16_t)(is_max ? acc : round_mean(acc, count));
    }
}

void ern_q_sum_push(int32_t *sum, int32_t *count, const int16_t *x, int n)
{
    int c;
    for (c = 0; c < n; c++) {
        sum[c] += x[c];
    }
    (*count)++;
}

void ern_q_mean(const int32_t *sum, int32_t count, int n, int16_t *y)
{
    int c;
    for (c = 0; c < n; c++) {
        y[c] = (int16_t)(count > 0 ? round_mean(sum[c], count) : 0);
    }
}

int ern_q_window_push(int16_t *hist, const int16_t *x, int n, int span, int32_t *count, int need,
                      int stride)
{
    memmove(hist, hist + n, sizeof *hist * (size_t)((span - 1) * n));
    memcpy(hist + (span - 1) * n, x, sizeof *hist * (size_t)n);
    return ern_window_due(count, need, stride);
}
