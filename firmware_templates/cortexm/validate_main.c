/* edge-rnn validation main: runs every test window through the model from reset state and
 * prints the line protocol (docs/architecture.md). The same file builds for Cortex-M
 * (EDGE_RNN_BARE_METAL, semihosting or UART), ARM Linux and the host.
 *
 * Needs: edge_rnn_model.h (the model adapter written by the native backend) and
 * edge_rnn_test_x[] (EDGE_RNN_TEST_SAMPLES windows of T*F raw floats, from test_vectors.S). */
#include <stdio.h>

#include "edge_rnn_firmware.h"
#include "edge_rnn_model.h"
#include "edge_rnn_protocol.h"

#ifndef EDGE_RNN_TEST_SAMPLES
#error "define EDGE_RNN_TEST_SAMPLES (number of test windows in edge_rnn_test_x)"
#endif

#define WINDOW_VALUES (EDGE_RNN_TIMESTEPS * EDGE_RNN_FEATURES)

extern const float edge_rnn_test_x[EDGE_RNN_TEST_SAMPLES * WINDOW_VALUES];

static edge_rnn_state_t state;
static edge_rnn_output_t outputs[EDGE_RNN_OUTPUTS];

EDGE_RNN_MARKER void edge_rnn_marker_start(void) { __asm__ volatile("" ::: "memory"); }
EDGE_RNN_MARKER void edge_rnn_marker_end(void) { __asm__ volatile("" ::: "memory"); }

static void print_outputs(edge_rnn_protocol_t *protocol)
{
    unsigned k;
    edge_rnn_protocol_sample_begin(protocol);
    for (k = 0; k < EDGE_RNN_OUTPUTS; ++k) {
        if (EDGE_RNN_OUTPUT_DTYPE[0] == 'f') {
            edge_rnn_protocol_f32(protocol, (float)outputs[k]);
        } else {
            edge_rnn_protocol_int(protocol, (long)outputs[k]);
        }
    }
    edge_rnn_protocol_sample_end(protocol);
}

int main(void)
{
    edge_rnn_protocol_t protocol;
    unsigned i;
    edge_rnn_platform_init();
    edge_rnn_protocol_begin(&protocol, EDGE_RNN_MODEL_NAME, EDGE_RNN_TEST_SAMPLES,
                            EDGE_RNN_OUTPUTS, EDGE_RNN_OUTPUT_DTYPE);
    for (i = 0; i < EDGE_RNN_TEST_SAMPLES; ++i) {
#ifdef EDGE_RNN_BARE_METAL
        if (i == 0) {
            edge_rnn_stack_paint();
        }
#endif
        edge_rnn_reset(&state);
        edge_rnn_marker_start();
        edge_rnn_run(&state, edge_rnn_test_x + (unsigned long)i * WINDOW_VALUES, outputs);
        edge_rnn_marker_end();
#ifdef EDGE_RNN_BARE_METAL
        if (i == 0) {
            /* Stack of one inference (reset + run) including this frame's caller overhead. */
            edge_rnn_protocol_cost("stack_bytes", edge_rnn_stack_peak());
        }
#endif
        print_outputs(&protocol);
    }
    edge_rnn_protocol_end(&protocol);
    return EDGE_RNN_EXIT_OK;
}
