/* edge-rnn validation main: runs every test window through the model from reset state and
 * prints the line protocol (docs/architecture.md). The same file builds for Cortex-M
 * (EDGE_RNN_BARE_METAL, semihosting), ARM Linux and the host.
 *
 * Needs: edge_rnn_model.h (the model adapter written by the native backend). The windows are
 * streamed from EDGE_RNN_TEST_FILE (edge_rnn_firmware.h), so the firmware is the same for any
 * test set and only ever holds one window. With EDGE_RNN_STEP_WINDOWS (a window too long for
 * the RAM, a model with _step) it holds one time step: each is read and run through _step,
 * which gives _run's numbers bit for bit (the host_c_stream stage checks that). */
#include <stdio.h>

#include "edge_rnn_firmware.h"
#include "edge_rnn_model.h"
#include "edge_rnn_protocol.h"

#define WINDOW_VALUES (EDGE_RNN_TIMESTEPS * EDGE_RNN_FEATURES)

static edge_rnn_state_t state;
static edge_rnn_output_t outputs[EDGE_RNN_OUTPUTS];
#ifdef EDGE_RNN_STEP_WINDOWS
static edge_rnn_input_t window[EDGE_RNN_FEATURES];
#if EDGE_RNN_OUTPUTS == EDGE_RNN_OUTPUT_SIZE
#define STEP_OUTPUT(t) (outputs) /* one output per window: the last step's */
#elif EDGE_RNN_OUTPUTS == EDGE_RNN_TIMESTEPS * EDGE_RNN_OUTPUT_SIZE
#define STEP_OUTPUT(t) (outputs + (t) * EDGE_RNN_OUTPUT_SIZE) /* one per step */
#else
#error "EDGE_RNN_STEP_WINDOWS needs one output per window or one per input step"
#endif
#else
static edge_rnn_input_t window[WINDOW_VALUES];
#endif

EDGE_RNN_MARKER void edge_rnn_marker_start(void) { __asm__ volatile("" ::: "memory"); }
EDGE_RNN_MARKER void edge_rnn_marker_end(void) { __asm__ volatile("" ::: "memory"); }

#ifndef EDGE_RNN_BARE_METAL
static FILE *windows_file;

long edge_rnn_windows_open(unsigned long window_bytes)
{
    long length;
    windows_file = fopen(EDGE_RNN_TEST_FILE, "rb");
    if (windows_file == NULL || fseek(windows_file, 0, SEEK_END) != 0) {
        return -1;
    }
    length = ftell(windows_file);
    if (length < 0 || (unsigned long)length % window_bytes != 0 ||
        fseek(windows_file, 0, SEEK_SET) != 0) {
        return -1;
    }
    return (long)((unsigned long)length / window_bytes);
}

int edge_rnn_windows_read(void *buffer, unsigned long bytes)
{
    return fread(buffer, 1, bytes, windows_file) == bytes ? 0 : -1;
}
#endif

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
    long samples, i;
    edge_rnn_platform_init();
    samples = edge_rnn_windows_open(WINDOW_VALUES * sizeof(edge_rnn_input_t));
    if (samples <= 0) {
        fputs("# cannot read whole test windows from " EDGE_RNN_TEST_FILE "\n", stdout);
        return EDGE_RNN_EXIT_NO_WINDOWS;
    }
    edge_rnn_protocol_begin(&protocol, EDGE_RNN_MODEL_NAME, (unsigned)samples,
                            EDGE_RNN_OUTPUTS, EDGE_RNN_OUTPUT_DTYPE);
    for (i = 0; i < samples; ++i) {
#ifndef EDGE_RNN_STEP_WINDOWS
        if (edge_rnn_windows_read(window, sizeof window) != 0) {
            return EDGE_RNN_EXIT_NO_WINDOWS;
        }
#endif
#ifdef EDGE_RNN_BARE_METAL
        if (i == 0) {
            edge_rnn_stack_paint();
        }
#endif
        edge_rnn_reset(&state);
#ifdef EDGE_RNN_STEP_WINDOWS
        {
            unsigned t;
            for (t = 0; t < EDGE_RNN_TIMESTEPS; ++t) {
                if (edge_rnn_windows_read(window, sizeof window) != 0) {
                    return EDGE_RNN_EXIT_NO_WINDOWS;
                }
                /* One marker pair per step: the reads stay out of the instruction count. */
                edge_rnn_marker_start();
                edge_rnn_step(&state, window, STEP_OUTPUT(t));
                edge_rnn_marker_end();
            }
        }
#else
        edge_rnn_marker_start();
        edge_rnn_run(&state, window, outputs);
        edge_rnn_marker_end();
#endif
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
