/* edge-rnn native kernel library: recurrent cells, dense layers and activations in float32,
 * int8-weight float (int8w) and full-integer (int8 weights, int16 activations) arithmetic.
 * Hand-written, C99, no malloc, no recursion, no VLAs. Generated model code (<name>.c) holds
 * the weights and const layer descriptors and calls these kernels.
 *
 * Layouts (all row-major, one row per output unit / gate unit):
 *   cell weights: rows = gates * units (Keras gate order), row = [kernel col | recurrent col].
 *   float rows have k = in + units columns; integer rows have k = in_pad + units_pad columns
 *   (pads are multiples of 4, zero weights). Integer cells store int8 weight values four rows
 *   interleaved per column pair (ern_q_dot4), in one of two layouts (ERN_Q_SIZE): speed, as
 *   int16 so SMLAD takes them straight from memory; size, as int8 (half the flash) that SXTB16
 *   unpacks into the same pairs. Integer dense rows stay int8, bytes interleaved per group of four as w0 w2 w1 w3
 *   so that SXTB16 yields the pairs (w0,w1) and (w2,w3) for SMLAD.
 *   xh: a cell's working vector [x ; h]; the hidden state h lives in its second part.
 * Integer numbers are Q formats: value = int / 2^q. Gate pre-activations of bounded functions
 * are requantized to Q11 (range +-16); bounded outputs (tanh, sigmoid, ...) are Q15. */
#ifndef ERN_H
#define ERN_H

#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define ERN_ALIGNED(n) __attribute__((aligned(n)))
/* unused: each core's path leaves some helpers out, which clang (not GCC) warns about */
#define ERN_INLINE static inline __attribute__((always_inline, unused))
#define ERN_NOINLINE static __attribute__((noinline))
#else
#define ERN_NOINLINE static
#define ERN_ALIGNED(n)
#define ERN_INLINE static inline
#endif

enum {
    ERN_LINEAR = 0,
    ERN_RELU,
    ERN_TANH,
    ERN_SIGMOID,
    ERN_HARD_SIGMOID,
    ERN_SOFTMAX,
    ERN_RELU6,
    ERN_LEAKY_RELU, /* parameters in an ern_f_leaky / ern_q_leaky; the act functions pass it */
    ERN_ELU,        /* the smooth functions: float32/int8w only */
    ERN_SELU,
    ERN_SILU,
    ERN_GELU,
    ERN_SOFTPLUS,
    ERN_SOFTSIGN,
    ERN_HARD_SILU
};
enum { ERN_SIMPLE_RNN = 0, ERN_LSTM, ERN_GRU };
enum { ERN_FAST_GRU = 2 }; /* ern_q_cell.fast */
enum { ERN_MERGE_CONCAT = 0, ERN_MERGE_SUM, ERN_MERGE_AVE, ERN_MERGE_MUL };

/* ---- float32 and int8w (int8 weights, per-row float scale, float arithmetic) ---- */
typedef struct {
    uint8_t cell, act, rec_act, reset_after;
    uint16_t in, units;   /* row length k = in + units */
    const float *w;       /* float32 rows, or NULL for int8w */
    const int8_t *wq;     /* int8w rows (not interleaved), or NULL */
    const float *wscale;  /* int8w per-row scale */
    const float *bias;    /* gates*units, or NULL; GRU reset_after: input bias (+ recurrent for z, r) */
    const float *rbias;   /* GRU reset_after: recurrent bias of the candidate rows (units), or NULL */
} ern_f_cell;

/* Keras relu(x, negative_slope, max_value, threshold), "leaky_relu":
 * x > threshold ? min(x, max) : slope * (x - threshold) */
typedef struct {
    float slope, threshold, max; /* max: FLT_MAX when the layer has none */
} ern_f_leaky;

typedef struct {
    uint16_t in, units;
    uint8_t act;
    const float *w;       /* units rows of `in`, or NULL */
    const int8_t *wq;
    const float *wscale;
    const float *bias;    /* or NULL */
    const ern_f_leaky *leaky; /* act ERN_LEAKY_RELU, else NULL */
} ern_f_dense;

float ern_f_activate(float x, uint8_t act);
void ern_f_softmax(float *v, int n);
/* One time step: reads xh = [x ; h], writes the new h into xh + in. c: LSTM cell state.
 * g: scratch of gates*units floats. */
void ern_f_cell_step(const ern_f_cell *cell, float *xh, float *c, float *g);
void ern_f_dense_run(const ern_f_dense *d, const float *x, float *y);
/* DepthwiseConv1D at one output step: output o reads input channel o / mult at the steps
 * t0 + j * dilation (j < taps) of x (step t at x + t * stride, steps_in steps; outside them the
 * zero padding, skipped) times row o of d (taps weights, plain order; int8: d->in_pad = taps),
 * then bias and activation as the Dense kernels (not softmax): taps multiplies per output. */
void ern_f_depthwise_run(const ern_f_dense *d, int mult, const float *x, int stride, int t0,
                         int taps, int dilation, int steps_in, float *y);
/* Bidirectional merge of the backward output b into a (a holds the forward output). */
void ern_f_merge(uint8_t mode, float *a, const float *b, int n);
/* act over v[n] in place (softmax over the n values). */
void ern_f_act_run(uint8_t act, float *v, int n);
void ern_f_leaky_run(const ern_f_leaky *lk, float *v, int n);

/* ---- windows over a sequence x of steps_in steps (step t at x + t * stride, n values) ----
 * gather: col[j * n + c] = x[t0 + j * dilation][c], 0 for steps outside the sequence (Conv1D
 * padding); the Dense kernels then apply the Conv1D rows to col.
 * pool: y[c] = max or average of x[t][c] over the `taps` steps from t0 that lie inside the
 * sequence (padding is left out, as TensorFlow does). */
void ern_f_gather(const float *x, int stride, int t0, int taps, int dilation, int steps_in, int n,
                  float *col);
void ern_f_pool(uint8_t is_max, const float *x, int stride, int t0, int taps, int steps_in, int n,
                float *y);
void ern_q_gather(const int16_t *x, int stride, int t0, int taps, int dilation, int steps_in, int n,
                  int16_t *col);
/* The average rounds half away from zero; Q formats stay. */
void ern_q_pool(uint8_t is_max, const int16_t *x, int stride, int t0, int taps, int steps_in, int n,
                int16_t *y);

/* Streamed GlobalAveragePooling1D: sum_push adds one step's n values to the running sums (and
 * counts it), mean writes sum / count (0 before the first step; int8 rounds as ern_q_pool). A
 * masked step is never pushed, so the mean covers the valid steps only, as Keras'. */
void ern_f_sum_push(float *sum, int32_t *count, const float *x, int n);
void ern_f_mean(const float *sum, int32_t count, int n, float *y);
void ern_q_sum_push(int32_t *sum, int32_t *count, const int16_t *x, int n);
void ern_q_mean(const int32_t *sum, int32_t count, int n, int16_t *y);

/* Streaming windows (Conv1D 'valid'/'causal', pooling 'valid'): hist keeps the last `span` input
 * steps, oldest first (zeros after reset: the causal padding). push appends x[n] and returns 1
 * when an output is due: once `need` steps were seen, then every `stride` steps. *count stays
 * below need + stride, so it never overflows. */
/* The taps j0 <= j < j1 of a window from t0 that lie inside [0, steps_in). */
static inline void ern_taps_inside(int t0, int taps, int dilation, int steps_in, int *j0, int *j1)
{
    *j0 = t0 < 0 ? (dilation - 1 - t0) / dilation : 0;
    *j1 = t0 + (taps - 1) * dilation < steps_in ? taps : (steps_in - t0 + dilation - 1) / dilation;
}
static inline int ern_window_due(int32_t *count, int need, int stride)
{
    *count = *count < need ? *count + 1 : need + (*count - need + 1) % stride;
    return *count >= need && (*count - need) % stride == 0;
}
int ern_f_window_push(float *hist, const float *x, int n, int span, int32_t *count, int need,
                      int stride);
int ern_q_window_push(int16_t *hist, const int16_t *x, int n, int span, int32_t *count, int need,
                      int stride);

/* ---- full integer ---- */

/* Layout of integer cell weights (ern_q_dot4): 0 = speed (int16), 1 = size (int8). The
 * generator writes the model's layout here. */
#ifndef ERN_Q_SIZE
#define ERN_Q_SIZE 0
#endif
/* Arrangement of integer cell weights: 0 = column pairs (as above), 1 = rows for Helium
 * vector loads (ern_q_dot4); the generator writes 1 for MVE targets. */
#ifndef ERN_Q_ROWS
#define ERN_Q_ROWS 0
#endif
#if ERN_Q_SIZE
typedef int8_t ern_qw;
#else
typedef int16_t ern_qw;
#endif

/* Profile builds only (-DERN_PROFILE, benchmarks/ontarget_cost.py): entering ern_zone_<z>
 * tells the QEMU instruction-count plugin that the kernel zone z starts (edge_rnn.ontarget.run
 * ZONES); the calls cost a few instructions each, so profile counts exceed plain builds. */
#ifdef ERN_PROFILE
void ern_zone_matrix(void);
void ern_zone_act(void);
void ern_zone_update(void);
void ern_zone_dense(void);
void ern_zone_other(void);
#define ERN_ZONE(z) ern_zone_##z()
#else
#define ERN_ZONE(z) ((void)0)
#endif
typedef struct {
    uint8_t cell, act, rec_act, reset_after;
    uint16_t in_pad, units, units_pad;  /* row length k = in_pad + units_pad */
    int8_t q_v;   /* Q of xh (layer input and hidden state) */
    int8_t q_c;   /* LSTM cell state Q */
    int8_t q_g;   /* Q of act() outputs of the candidate rows (15 when act is bounded) */
    int8_t q_a;   /* LSTM: Q of act(c) (15 when act is bounded) */
    const ern_qw *w;       /* groups of 4 rows (see ern_q_dot4); LSTM: group j = rows i,f,c,o of
                            * unit j; GRU: per units 4q..4q+3 their z, r, candidate groups,
                            * the candidate's recurrent columns first; SimpleRNN: gate-major;
                            * each gate padded to units_pad rows (Helium rows: GRU gate-major) */
    const int32_t *par;    /* per group: bias[4] (accumulator units), mult[4], per row
                            * rnd = 2^(shift-1) (0 when shift <= 0) [4], then the four int8
                            * right shifts packed in one word (row r: byte r); sigmoid/tanh
                            * rows: mult < 2^31 and shift of the table index (ern_q_index),
                            * others: mult in [2^30, 2^31), shift of the requantization */
    const int32_t *rbias;  /* GRU reset_after candidate recurrent bias, or NULL */
    uint8_t fast;          /* 1 when every sigmoid/tanh row's shift is 0 (its table index is
                            * one SMMUL) and every other row's shift >= 1 (no branches); 2
                            * (ERN_FAST_GRU) when moreover a GRU with tanh candidates, sigmoid
                            * gates, reset_after, rbias and q_g >= q_v (quantize.fast_flag) */
    int32_t dsp[8];        /* the DSP cores' asm step (ern_int.c), from the generator
                            * (quantize.dsp_constants): the blocks Duff's device skips, its
                            * passes, then SimpleRNN: act's offset plus the rounding, its factor,
                            * the shift to Q q_v, 2 units_pad, 2 in_pad and units_pad; all 0
                            * where the asm does not run the cell */
} ern_q_cell;

/* leaky_relu in the Q of its values: x > threshold ? min(x, max) : the slope times
 * (x - threshold), as ern_q_requant((x - threshold) << 15, mult, shift) */
typedef struct {
    int32_t mult;
    int8_t shift;
    int16_t threshold, max; /* max 32767 when the layer has none */
} ern_q_leaky;

typedef struct {
    uint16_t in_pad, units;
    uint8_t act;
    const int8_t *wq;
    const int32_t *bias;   /* or NULL */
    const int32_t *mult;
    const int8_t *shift;
    const ern_q_leaky *leaky; /* act ERN_LEAKY_RELU (rows requantized to the output Q), else NULL */
} ern_q_dense;

/* sigmoid((i - 2048 + 0.5) / 256) in Q15, i = 0..4095: sigmoid(x) is the entry at the floor
 * index floor(x * 2^8) and tanh(x) = 2 sigmoid(2x) - 1 the one at floor(x * 2^9) (ern_tables.c).
 * The size layout on cores without DSP instructions (M0+, M3, RISC-V: the small-flash parts)
 * keeps only the upper half (i = 2048..4095) and reads the lower one by symmetry: 4 KB less
 * flash for a branch per activation (M4F would lose 13 %, so DSP cores keep the whole table). */
#if ERN_Q_SIZE && !(defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32))
#define ERN_SIGMOID_HALF 1
#define ERN_SIGMOID_ENTRIES 2048
#else
#define ERN_SIGMOID_HALF 0
#define ERN_SIGMOID_ENTRIES 4096
#endif
extern const int16_t ern_sigmoid_q15[ERN_SIGMOID_ENTRIES];
extern const int16_t ern_exp_table[513];   /* exp(-i/32) in Q15, i = 0..512 */
/* Q of the table index of sigmoid (8) and tanh (9) */
#define ERN_INDEX_Q(act) ((act) == ERN_TANH ? 9 : 8)

int16_t ern_q_tanh(int32_t x_q11);          /* Q11 in, Q15 out */
int16_t ern_q_sigmoid(int32_t x_q11);
int16_t ern_q_hard_sigmoid(int32_t x_q11);
int16_t ern_q_exp_neg(int32_t x_q11);       /* exp(x) for x <= 0 */
/* relu6 takes and gives Q12: its output range [0, 6] fits, and larger inputs saturate above 6 */
#define ERN_RELU6_Q 12
/* Activation of an int16 value: bounded acts take Q11 and give Q15; relu/linear keep the Q. */
int16_t ern_q_act(int16_t p, uint8_t act);
/* Requantize, then apply act. */
int16_t ern_q_activate(int32_t acc, int32_t mult, int shift, uint8_t act);
void ern_q_convert(const int16_t *src, int16_t *dst, int n, int q_src, int q_dst);
void ern_q_softmax(int16_t *v_q11, int n);  /* in place, Q11 logits -> Q15 probabilities */
/* One time step of a cell of that kind: reads xh = [x ; h], writes the new h into xh + in_pad.
 * c: the LSTM cell state; scratch: hn (LSTM) units values, g units_pad (SimpleRNN) or
 * 3 units_pad (GRU), rh (GRU) units. */
void ern_q_lstm_step(const ern_q_cell *cell, int16_t *xh, int16_t *c, int16_t *hn);
void ern_q_gru_step(const ern_q_cell *cell, int16_t *xh, int16_t *g, int16_t *rh);
void ern_q_rnn_step(const ern_q_cell *cell, int16_t *xh, int16_t *g);
/* x: in_pad values (zero pads); y: units values; softmax outputs Q15. */
void ern_q_dense_run(const ern_q_dense *d, const int16_t *x, int16_t *y);
void ern_q_depthwise_run(const ern_q_dense *d, int mult, const int16_t *x, int stride, int t0,
                         int taps, int dilation, int steps_in, int16_t *y);
void ern_q_merge(uint8_t mode, int16_t *a, int qa, const int16_t *b, int qb, int qm, int n);
/* act over v[n] (Q q_in) in place: bounded acts and softmax give Q15, relu/linear keep q_in. */
void ern_q_act_run(uint8_t act, int16_t *v, int n, int q_in);
/* leaky_relu over v[n] in place, in their Q */
void ern_q_leaky_run(const ern_q_leaky *lk, int16_t *v, int n);

/* ---- LayerNormalization over n values, in place (ern_norm.c) ---- */
typedef struct {
    uint16_t n;
    float epsilon;
    const float *gamma, *beta;
} ern_f_lnorm;

typedef struct {
    uint16_t n;
    int8_t q_g, q_out; /* gamma's Q; output Q (beta is in it) */
    uint64_t eps;      /* n^2 * epsilon in Q 2*q_in (the variance's Q), >= 1 */
    const int16_t *gamma;
    const int32_t *beta;
} ern_q_lnorm;

/* float32/int8w: y = (x - mean) / sqrtf(var + epsilon) * gamma + beta. */
void ern_f_layer_norm(const ern_f_lnorm *ln, float *v);
/* int8: exact integer deviations n * (x - mean), their int64 sum of squares, fixed-point
 * 1/sqrt (integer square root of the normalized variance, one division), normalized values in
 * Q16, then gamma and beta into Q q_out. Input in Q q_in, n <= 1024. */
void ern_q_layer_norm(const ern_q_lnorm *ln, int16_t *v);

/* The DSP and Helium paths bind nearly every core register in their asm, which a frame
 * pointer (r7 in Thumb) forbids. GCC keeps one only unoptimized (-O0, as IDE debug
 * configurations default to), clang (armclang) by default: those builds take the portable
 * path, with the same results and more instructions. Define ERN_PORTABLE for GCC with
 * -fno-omit-frame-pointer; with clang, -fomit-frame-pointer -DERN_ASM turns the asm on. */
#if defined(__clang__) && !defined(ERN_ASM) && !defined(ERN_PORTABLE)
#define ERN_PORTABLE 1
#endif
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && defined(__OPTIMIZE__) && \
    !defined(ERN_PORTABLE)
#define ERN_DSP 1
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define ERN_MVE 1 /* Helium (Cortex-M55): integer vector instructions */
#endif
static inline uint32_t ern_ld32(const void *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

/* SXTB16 of the word rotated right by 8: bytes 1 and 3 sign-extended (one instruction). */
static inline uint32_t ern_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
#endif

/* Sum over n (a multiple of 4) of interleaved int8 weights times int16 values. The DSP path
 * (SXTB16 + SMLAD) and the portable path give identical results: the generator bounds n and
 * the weights so the int32 sum cannot overflow. */
static inline int32_t ern_q_dot(const int8_t *w, const int16_t *v, int n, int32_t acc)
{
    int i;
#ifdef ERN_DSP
    for (i = 0; i < n; i += 4) {
        uint32_t wd = ern_ld32(w + i);
        acc = __builtin_arm_smlad(__builtin_arm_sxtb16(wd), ern_ld32(v + i), acc);
        acc = __builtin_arm_smlad(ern_sxtb16_ror8(wd), ern_ld32(v + i + 2), acc);
    }
#else
    for (i = 0; i < n; i += 4) {
        acc += w[i] * v[i] + w[i + 2] * v[i + 1] + w[i + 1] * v[i + 2] + w[i + 3] * v[i + 3];
    }
#endif
    return acc;
}

/* Two rows at once (w0, w1 as in ern_q_dot), each value of v loaded once for both. */
static inline void ern_q_dot2(const int8_t *w0, const int8_t *w1, const int16_t *v, int n,
                              int32_t *acc0, int32_t *acc1)
{
    int32_t a0 = *acc0, a1 = *acc1;
    int i;
#ifdef ERN_DSP
    for (i = 0; i < n; i += 4) {
        uint32_t x01 = ern_ld32(v + i), x23 = ern_ld32(v + i + 2);
        uint32_t wa = ern_ld32(w0 + i), wb = ern_ld32(w1 + i);
        a0 = __builtin_arm_smlad(__builtin_arm_sxtb16(wa), x01, a0);
        a1 = __builtin_arm_smlad(__builtin_arm_sxtb16(wb), x01, a1);
        a0 = __builtin_arm_smlad(ern_sxtb16_ror8(wa), x23, a0);
        a1 = __builtin_arm_smlad(ern_sxtb16_ror8(wb), x23, a1);
    }
#else
    for (i = 0; i < n; i += 4) {
        a0 += w0[i] * v[i] + w0[i + 2] * v[i + 1] + w0[i + 1] * v[i + 2] + w0[i + 3] * v[i + 3];
        a1 += w1[i] * v[i] + w1[i + 2] * v[i + 1] + w1[i + 1] * v[i + 2] + w1[i + 3] * v[i + 3];
    }
#endif
    *acc0 = a0;
    *acc1 = a1;
}

#ifdef ERN_MVE
/* acc + the eight products of row r of four column pairs at w (ern_q_dot4's layouts) with x.
 * Speed: the row's words are w32[4p + r], one word gather. Size: its bytes are 8p + o and
 * 8p + o + 2 (o = 0, 1, 4, 5 for r = 0..3), one byte gather sign-extending to int16. */
#if ERN_Q_SIZE
typedef uint16x8_t ern_mve_idx;
static inline ern_mve_idx ern_mve_index(void) /* 0, 2, 8, 10, 16, 18, 24, 26 */
{
    uint16x8_t d = vidupq_n_u16(0, 2);
    return vaddq_u16(d, vandq_u16(d, vdupq_n_u16(0xfffc)));
}
static inline int32_t ern_mve_row(int32_t acc, const ern_qw *w, int r, ern_mve_idx idx,
                                  int16x8_t x)
{
    return vmladavaq_s16(acc, vldrbq_gather_offset_s16(w + (r & 1) + 2 * (r & 2), idx), x);
}
#else
typedef uint32x4_t ern_mve_idx;
static inline ern_mve_idx ern_mve_index(void) /* words 0, 4, 8, 12 */
{
    return vidupq_n_u32(0, 4);
}
static inline int32_t ern_mve_row(int32_t acc, const ern_qw *w, int r, ern_mve_idx idx,
                                  int16x8_t x)
{
    const int32_t *wr = (const int32_t *)(const void *)w + r;
    return vmladavaq_s16(acc, vreinterpretq_s16_s32(vldrwq_gather_shifted_offset_s32(wr, idx)), x);
}
#endif
#endif

/* Four rows at once over npairs (even) column pairs of v (word-aligned, as is w). Speed layout:
 * w holds, per pair, the pair of each row (w[8p + 2r], w[8p + 2r + 1]), int8 values widened
 * to int16 so one word feeds SMLAD. Size layout: int8, per pair the bytes row 0 col 0, row 1
 * col 0, row 0 col 1, row 1 col 1, then the same for rows 2 and 3, so SXTB16 of a word gives
 * the even row's pair and SXTB16 ROR 8 the odd row's. Returns w past the pairs read (the
 * next group's rows follow). */
#ifdef ERN_DSP
/* One column pair of the four rows (speed: one LDM of the four row words; size: two words,
 * four SXTB16) times the pair of v in register X: 5 or 9 instructions. */
#if ERN_Q_SIZE
#define ERN_DOT4_PAIR(X)                                                                     \
    "ldmia %[w]!, {%[w0], %[w1]}\n\t"                                                        \
    "sxtb16 %[w2], %[w0]\n\t"                                                                \
    "sxtb16 %[w0], %[w0], ror #8\n\t"                                                        \
    "sxtb16 %[w3], %[w1]\n\t"                                                                \
    "sxtb16 %[w1], %[w1], ror #8\n\t"                                                        \
    "smlad %[a0], %[w2], %[" X "], %[a0]\n\t"                                                \
    "smlad %[a1], %[w0], %[" X "], %[a1]\n\t"                                                \
    "smlad %[a2], %[w3], %[" X "], %[a2]\n\t"                                                \
    "smlad %[a3], %[w1], %[" X "], %[a3]\n\t"
#else
#define ERN_DOT4_PAIR(X)                                                                     \
    "ldmia %[w]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"                                          \
    "smlad %[a0], %[w0], %[" X "], %[a0]\n\t"                                                \
    "smlad %[a1], %[w1], %[" X "], %[a1]\n\t"                                                \
    "smlad %[a2], %[w2], %[" X "], %[a2]\n\t"                                                \
    "smlad %[a3], %[w3], %[" X "], %[a3]\n\t"
#endif
/* Two pairs: one LDM of two words of v, then a pair from each (speed: 11 instructions per
 * 16 MACs, size: 19). */
#define ERN_DOT4_BLOCK "ldmia %[v]!, {%[x], %[y]}\n\t" ERN_DOT4_PAIR("x") ERN_DOT4_PAIR("y")
#define ERN_DOT4_OPERANDS(W, V)                                                              \
    [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [v] "+r"(V), [w] "+r"(W),     \
        [x] "=&r"(x), [y] "=&r"(y), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2),            \
        [w3] "=&r"(w3)
#endif

#if ERN_Q_ROWS && defined(ERN_MVE) && ERN_Q_SIZE
/* The size layout's Helium arrangement (int8 lanes, ern_int.c): the sums of ng groups whose
 * rows (n columns each) follow one another at w, over v, each group's four from and into
 * acc[4 l..4 l + 3]; returns w past them. */
const ern_qw *ern_q_groups_mve(const ern_qw *w, const int16_t *v, int n, int ng, int32_t *acc);
#elif ERN_Q_ROWS && defined(ERN_MVE)
/* v - 4 without C pointer arithmetic before an array's start (the lanes read from there are
 * predicated off). */
ERN_INLINE const int16_t *ern_mve_back4(const int16_t *v)
{
    return (const int16_t *)((uintptr_t)v - 4 * sizeof *v);
}
#endif

ERN_INLINE const ern_qw *ern_q_dot4(const ern_qw *w, const int16_t *v, int npairs,
                                   int32_t *acc)
{
#if ERN_Q_ROWS && defined(ERN_MVE) && ERN_Q_SIZE
    int32_t a0, a1, a2, a3;
    w = ern_q_groups_mve(w, v, 2 * npairs, 1, acc);
    a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
#elif ERN_Q_ROWS && defined(ERN_MVE)
    /* Rows arrangement: per chunk of 8 columns the four rows' 8 weights one after the other;
     * a chunk is a load of v, then per row one contiguous load and one VMLADAVA. A span's last
     * 4 columns hold rows 0-1 and rows 2-3 in one vector each: v in the low lanes (zero above)
     * and in the high lanes pick a row of each. */
    /* One asm loop (speed layout): VMLADAVA's accumulators must be even registers, and every
     * load steps its pointer (10 instructions per chunk, WLS/LE count them). */
    register int32_t a0 __asm__("r0") = acc[0], a1 __asm__("r2") = acc[1];
    register int32_t a2 __asm__("r4") = acc[2], a3 __asm__("r6") = acc[3];
    int n = 2 * npairs;
    __asm__("wls lr, %[k], 2f\n"
            "1:\n\t"
            "vldrh.u16 q0, [%[v]], #16\n\t"
            "vldrh.u16 q1, [%[w]], #16\n\t"
            "vmlava.s16 %[a0], q1, q0\n\t"
            "vldrh.u16 q2, [%[w]], #16\n\t"
            "vmlava.s16 %[a1], q2, q0\n\t"
            "vldrh.u16 q1, [%[w]], #16\n\t"
            "vmlava.s16 %[a2], q1, q0\n\t"
            "vldrh.u16 q2, [%[w]], #16\n\t"
            "vmlava.s16 %[a3], q2, q0\n\t"
            "le lr, 1b\n"
            "2:"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+l"(w),
              [v] "+l"(v)
            : [k] "r"(n >> 3)
            : "lr", "q0", "q1", "q2", "memory");
    n &= 7;
    if (n > 0) {
        mve_pred16_t low = vctp16q(4);
        int16x8_t lo = vldrhq_z_s16(v, low), hi = vldrhq_z_s16(ern_mve_back4(v), vpnot(low));
        int16x8_t w01 = vld1q_s16(w), w23 = vld1q_s16(w + 8);
        a0 = vmladavaq_s16(a0, w01, lo);
        a1 = vmladavaq_s16(a1, w01, hi);
        a2 = vmladavaq_s16(a2, w23, lo);
        a3 = vmladavaq_s16(a3, w23, hi);
        w += 16;
    }
#elif ERN_Q_ROWS
    /* The rows arrangement on the portable path: chunks of 16 (size layout), 8 and a span's
     * last 4 columns, the four rows of a chunk one after the other. The Helium path reads
     * v - 128 in 16-column chunks (their 128 sum(row) is in the bias), so this one does too;
     * the sums wrap mod 2^32 like the vector ones (the true sum fits int32). */
    uint32_t a0 = (uint32_t)acc[0], a1 = (uint32_t)acc[1], a2 = (uint32_t)acc[2];
    uint32_t a3 = (uint32_t)acc[3];
    int n = 2 * npairs;
    while (n > 0) {
        int width = ERN_Q_SIZE && n >= 16 ? 16 : (n >= 8 ? 8 : 4), c;
        int32_t off = width == 16 ? 128 : 0;
        for (c = 0; c < width; c++) {
            int32_t x = v[c] - off;
            a0 += (uint32_t)(w[c] * x);
            a1 += (uint32_t)(w[width + c] * x);
            a2 += (uint32_t)(w[2 * width + c] * x);
            a3 += (uint32_t)(w[3 * width + c] * x);
        }
        w += 4 * width, v += width, n -= width;
    }
#elif defined(ERN_MVE)
    /* Helium, four pairs per pass: one gather is row r's eight weights (either layout),
     * VMLADAVA adds their products with eight values of v; a remaining two pairs take one
     * DSP block. The accumulators stay free: VMLADAVA needs even registers. */
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const ern_mve_idx idx = ern_mve_index();
    for (; npairs >= 4; npairs -= 4, w += 32, v += 8) {
        int16x8_t vx = vld1q_s16(v);
        a0 = ern_mve_row(a0, w, 0, idx, vx);
        a1 = ern_mve_row(a1, w, 1, idx, vx);
        a2 = ern_mve_row(a2, w, 2, idx, vx);
        a3 = ern_mve_row(a3, w, 3, idx, vx);
    }
    if (npairs > 0) {
        register uint32_t x __asm__("r4"), y __asm__("r5");
        register uint32_t w0 __asm__("r8"), w1 __asm__("r9"), w2 __asm__("r10"),
            w3 __asm__("r11");
        __asm__(ERN_DOT4_BLOCK
                : ERN_DOT4_OPERANDS(w, v)
                : "m"(*(const struct { ern_qw w[16]; } *)(const void *)w),
                  "m"(*(const struct { uint32_t w[2]; } *)(const void *)v));
    }
#elif defined(ERN_DSP)
    /* The whole loop is one asm statement: four blocks (8 pairs) per pass, counted by
     * SUBS/BGE on the pairs left, then the remaining 0-3 blocks by the bits of that count
     * (npairs is even): 2 instructions per pass and 6 per call besides the blocks. Every
     * register is fixed: LDM needs ascending ones, and GCC finds no allocation for 13 free
     * operands. */
    register int32_t a0 __asm__("r0") = acc[0], a1 __asm__("r1") = acc[1];
    register int32_t a2 __asm__("r2") = acc[2], a3 __asm__("r3") = acc[3];
    register uint32_t x __asm__("r4"), y __asm__("r5");
    register uint32_t w0 __asm__("r8"), w1 __asm__("r9"), w2 __asm__("r10"), w3 __asm__("r11");
    register int p __asm__("r12") = npairs;
    register const ern_qw *wr __asm__("r6") = w;
    register const int16_t *vr __asm__("r7") = v;
    __asm__("subs %[p], %[p], #8\n\t"
            "blt 2f\n"
            "1:\n\t" ERN_DOT4_BLOCK ERN_DOT4_BLOCK ERN_DOT4_BLOCK ERN_DOT4_BLOCK
            "subs %[p], %[p], #8\n\t"
            "bge 1b\n"
            "2:\n\t"
            "tst %[p], #4\n\t"
            "beq 3f\n\t" ERN_DOT4_BLOCK ERN_DOT4_BLOCK
            "3:\n\t"
            "tst %[p], #2\n\t"
            "beq 4f\n\t" ERN_DOT4_BLOCK
            "4:"
            : ERN_DOT4_OPERANDS(wr, vr), [p] "+r"(p)
            : /* memory operands for w and v make GCC 12 fail (internal error) */
            : "cc", "memory");
    w = wr;
#else
    /* The size layout swaps the middle two of each four weights (k ^ 3 maps 1 <-> 2). */
    enum { M = ERN_Q_SIZE ? 3 : 0 };
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int p;
    for (p = 0; p < npairs; p++, w += 8, v += 2) {
        a0 += w[0] * v[0] + w[1 ^ M] * v[1];
        a1 += w[2 ^ M] * v[0] + w[3] * v[1];
        a2 += w[4] * v[0] + w[5 ^ M] * v[1];
        a3 += w[6 ^ M] * v[0] + w[7] * v[1];
    }
#endif
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
    return w;
}

/* Saturate to the int16 range, kept as int32 (no sign extension after SSAT). */
static inline int32_t ern_ssat16(int32_t v)
{
#ifdef ERN_DSP
    int32_t r;
    __asm__("ssat %0, #16, %1" : "=r"(r) : "r"(v));
    return r;
#else
    return v > 32767 ? 32767 : (v < -32768 ? -32768 : v);
#endif
}

/* A float input value v (already times 2^q) to int16: rounded half away from zero, exactly,
 * and saturated. t = trunc(2 v) (2 v is exact in float), then v rounded is (t + (t >= 0)) >> 1:
 * floor((floor(2v) + 1) / 2) for v >= 0, ceil((t - 1) / 2) = t >> 1 below. With an FPU and
 * DSP: VCVT to fixed point with one fraction bit (toward zero, saturating to int32), QADD of
 * 1 (no wrap at the int32 end), SSAT #16 of the shift: no branches. */
static inline int16_t ern_q_round(float v)
{
#if defined(ERN_DSP) && defined(__ARM_FP) && (__ARM_FP & 4)
    int32_t t, r;
    __asm__("vcvt.s32.f32 %0, %0, #1" : "+t"(v));
    __builtin_memcpy(&t, &v, 4);
    t = __builtin_arm_qadd(t, 1) + (t >> 31);
    __asm__("ssat %0, #16, %1, asr #1" : "=r"(r) : "r"(t));
    return (int16_t)r;
#else
    int32_t t;
    v = v > 32767.0f ? 32767.0f : (v < -32768.0f ? -32768.0f : v);
    t = (int32_t)(v + v);
    return (int16_t)((t + (t >= 0)) >> 1);
#endif
}

/* Saturate to [-2048, 2047], the activation table's index range (one SSAT). */
static inline int32_t ern_ssat12(int32_t v)
{
#ifdef ERN_DSP
    int32_t r;
    __asm__("ssat %0, #12, %1" : "=r"(r) : "r"(v));
    return r;
#else
    return v > 2047 ? 2047 : (v < -2048 ? -2048 : v);
#endif
}

static inline int16_t ern_sat16(int32_t v)
{
    return (int16_t)ern_ssat16(v);
}

/* Round-half-up arithmetic shift right (left when s < 0), saturated to int16; |v| < 2^30.
 * The left shift checks the range before shifting, so it needs no 64-bit arithmetic. */
static inline int16_t ern_q_shift(int32_t v, int s)
{
    if (__builtin_expect(s > 0, 1)) { /* = (v + 2^(s-1)) >> s, without building 2^(s-1) */
        return ern_sat16(((v >> (s - 1)) + 1) >> 1);
    }
    s = -s;
    if (v > (32767 >> s)) {
        return 32767;
    }
    if (v < -(32768 >> s)) {
        return -32768;
    }
    return (int16_t)(v * (1 << s));
}

/* round(a * b / 2^32): the high word of the product, rounded (SMMULR). */
static inline int32_t ern_mulhi_round(int32_t a, int32_t b)
{
#ifdef ERN_DSP
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * b + 0x80000000LL) >> 32);
#endif
}

/* floor(a * b / 2^32): the high word of the product (SMMUL). */
static inline int32_t ern_mulhi(int32_t a, int32_t b)
{
#ifdef ERN_DSP
    int32_t r;
    __asm__("smmul %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * b) >> 32);
#endif
}

/* The table index of an accumulator: floor(acc * mult / 2^(32 + shift)), shift in [-31, 31],
 * saturated to the table's [-2048, 2047]. */
static inline int32_t ern_q_index(int32_t acc, int32_t mult, int shift)
{
    int64_t k = ((int64_t)acc * mult) >> (32 + shift);
    return k > 2047 ? 2047 : (k < -2048 ? -2048 : (int32_t)k);
}

/* c + round(a * b / 2^32) (SMMLAR). */
static inline int32_t ern_mulhi_round_add(int32_t a, int32_t b, int32_t c)
{
#ifdef ERN_DSP
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
#else
    return c + ern_mulhi_round(a, b);
#endif
}

/* Requantize an accumulator: round(round(acc * mult / 2^32) / 2^shift), saturated to int16. */
static inline int16_t ern_q_requant(int32_t acc, int32_t mult, int shift)
{
    return ern_q_shift(ern_mulhi_round(acc, mult), shift);
}

#endif /* ERN_H */
