/* edge-rnn validation firmware: what the validation main needs from the platform.
 * Exit codes are read by edge_rnn.ontarget.run (keep them in sync with EXIT_CODES there). */
#ifndef EDGE_RNN_FIRMWARE_H
#define EDGE_RNN_FIRMWARE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EDGE_RNN_EXIT_OK 0
#define EDGE_RNN_EXIT_HARDFAULT 120
#define EDGE_RNN_EXIT_MEMMANAGE 121
#define EDGE_RNN_EXIT_BUSFAULT 122
#define EDGE_RNN_EXIT_USAGEFAULT 123
#define EDGE_RNN_EXIT_UNEXPECTED_IRQ 124
#define EDGE_RNN_EXIT_NO_WINDOWS 125

/* The test windows: raw little-endian float32, window after window, in this file of the
 * working directory. The firmware holds one window at a time and counts them from the size. */
#ifndef EDGE_RNN_TEST_FILE
#define EDGE_RNN_TEST_FILE "test_x.bin"
#endif
long edge_rnn_windows_open(unsigned long window_bytes);      /* windows in the file, -1: error */
int edge_rnn_windows_read(void *window, unsigned long bytes); /* the next window; 0: done */

/* The instruction-count plugin counts guest instructions between the entries of these two
 * functions. noipa keeps GCC from cloning or inlining them (a .constprop clone would move
 * the address the plugin watches). */
#if defined(__clang__)
#define EDGE_RNN_MARKER __attribute__((noinline, optnone, used))
#else
#define EDGE_RNN_MARKER __attribute__((noipa, used))
#endif
void edge_rnn_marker_start(void);
void edge_rnn_marker_end(void);

#ifdef EDGE_RNN_BARE_METAL
uint32_t edge_rnn_semihosting(uint32_t operation, void *block); /* bkpt 0xab */
void edge_rnn_platform_init(void);       /* semihosting stdio */
void edge_rnn_stack_paint(void);         /* fill the free stack with a pattern */
unsigned long edge_rnn_stack_peak(void); /* bytes of stack touched since the paint */
#else
#define edge_rnn_platform_init() ((void)0)
#endif

#ifdef __cplusplus
}
#endif

#endif /* EDGE_RNN_FIRMWARE_H */
