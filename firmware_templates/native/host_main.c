/* Host driver for a generated model (used by edge_rnn/native/host.py and the benchmarks).
 * usage: host_main IN.f32 N OUT.bin MODE [LENGTHS.i32]
 *   IN.f32: N windows of T*F raw float32 values; OUT.bin: N * EDGE_RNN_OUTPUTS raw outputs.
 *   MODE run: <name>_run per window; step: reset, then T calls of <name>_step;
 *   runq: quantize the input, then <name>_run_q (int8 models);
 *   runlen: <name>_run_len with the window's valid length from LENGTHS.i32 (Masking models).
 * Prints one line: "dtype=<f32|i16> scale=<float> outputs=<K> state_bytes=<sizeof state>". */
#include "edge_rnn_model.h"

#include <stdio.h>
#include <string.h>

static edge_rnn_state_t state;
static edge_rnn_input_t x[EDGE_RNN_TIMESTEPS * EDGE_RNN_FEATURES];
static edge_rnn_output_t y[EDGE_RNN_OUTPUTS];

static int run_step(void)
{
#if EDGE_RNN_STREAMING
    int t;
    edge_rnn_reset(&state);
    for (t = 0; t < EDGE_RNN_TIMESTEPS; t++) {
        int offset = EDGE_RNN_OUTPUTS == EDGE_RNN_OUTPUT_SIZE ? 0 : t * EDGE_RNN_OUTPUT_SIZE;
        edge_rnn_step(&state, x + t * EDGE_RNN_FEATURES, y + offset);
    }
    return 0;
#else
    return 1;
#endif
}

static int run_q(void)
{
#ifdef EDGE_RNN_INPUT_Q
    static int16_t xq[EDGE_RNN_TIMESTEPS * EDGE_RNN_FEATURES];
    edge_rnn_quantize_input(x, xq, EDGE_RNN_TIMESTEPS * EDGE_RNN_FEATURES);
    edge_rnn_run_q(&state, xq, y);
    return 0;
#else
    return 1;
#endif
}

static int run_len(FILE *lengths)
{
#ifdef EDGE_RNN_RUN_LEN
    int32_t n_valid;
    if (!lengths || fread(&n_valid, sizeof n_valid, 1, lengths) != 1) {
        return 1;
    }
    edge_rnn_run_len(&state, x, (int)n_valid, y);
    return 0;
#else
    (void)lengths;
    return 1;
#endif
}

int main(int argc, char **argv)
{
    FILE *in, *out, *lengths = 0;
    long n, i;
    if ((argc != 5 && argc != 6) || sscanf(argv[2], "%ld", &n) != 1) {
        fprintf(stderr, "usage: %s IN.f32 N OUT.bin run|step|runq|runlen [LENGTHS.i32]\n", argv[0]);
        return 2;
    }
    in = fopen(argv[1], "rb");
    out = fopen(argv[3], "wb");
    if (argc == 6) {
        lengths = fopen(argv[5], "rb");
    }
    if (!in || !out || (argc == 6 && !lengths)) {
        fprintf(stderr, "cannot open input or output file\n");
        return 2;
    }
    printf("dtype=%s scale=%.9g outputs=%d state_bytes=%lu\n", EDGE_RNN_OUTPUT_DTYPE,
           (double)EDGE_RNN_OUTPUT_SCALE, EDGE_RNN_OUTPUTS, (unsigned long)sizeof state);
    for (i = 0; i < n; i++) {
        int failed = 0;
        if (fread(x, sizeof x, 1, in) != 1) {
            fprintf(stderr, "short input at window %ld\n", i);
            return 2;
        }
        if (strcmp(argv[4], "step") == 0) {
            failed = run_step();
        } else if (strcmp(argv[4], "runq") == 0) {
            failed = run_q();
        } else if (strcmp(argv[4], "runlen") == 0) {
            failed = run_len(lengths);
        } else {
            edge_rnn_run(&state, x, y);
        }
        if (failed) {
            fprintf(stderr, "mode %s is not available for this model\n", argv[4]);
            return 3;
        }
        fwrite(y, sizeof y, 1, out);
    }
    fclose(in);
    return fclose(out) == 0 ? 0 : 2;
}
