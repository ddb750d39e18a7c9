/* edge-rnn fit probe: the smallest application of a model (one window buffer, state, outputs,
 * one reset and run), no stdio and no test harness. Linked, never run: its flash and RAM are
 * what the model and its runtime (kernels, libm, libgcc) cost on the target. */
#include "edge_rnn_firmware.h"
#include "edge_rnn_model.h"

static edge_rnn_state_t state;
static edge_rnn_input_t window[EDGE_RNN_TIMESTEPS * EDGE_RNN_FEATURES];
static edge_rnn_output_t outputs[EDGE_RNN_OUTPUTS];
volatile edge_rnn_output_t edge_rnn_fit_sink; /* keeps the outputs (and the model) alive */

int main(void)
{
    edge_rnn_reset(&state);
    edge_rnn_run(&state, window, outputs);
    edge_rnn_fit_sink = outputs[0];
    return EDGE_RNN_EXIT_OK;
}
