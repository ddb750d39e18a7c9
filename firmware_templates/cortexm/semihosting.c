/* Semihosting I/O of the validation firmware: stdio through newlib's rdimon (on RISC-V through
 * picolibc's semihost library), and the test windows read one at a time from a file on the
 * host (QEMU opens it relative to its working directory), so no test set ever has to fit the
 * target's flash or RAM. Shared by the Cortex-M and RISC-V firmware. */
#include <stdint.h>

#include "edge_rnn_firmware.h"

#define SYS_OPEN 0x01u
#define SYS_READ 0x06u
#define SYS_FLEN 0x0Cu
#define MODE_RB 1u /* fopen mode "rb" */

static uint32_t windows_handle;

#if !defined(__riscv) /* RISC-V (picolibc) has its own in firmware_templates/riscv/platform.c */
extern void initialise_monitor_handles(void);

void edge_rnn_platform_init(void) { initialise_monitor_handles(); }
#endif

long edge_rnn_windows_open(unsigned long window_bytes)
{
    static const char name[] = EDGE_RNN_TEST_FILE;
    uint32_t open_block[3] = {(uint32_t)(uintptr_t)name, MODE_RB, sizeof name - 1};
    uint32_t flen_block[1];
    int32_t length;
    int32_t handle = (int32_t)edge_rnn_semihosting(SYS_OPEN, open_block);
    if (handle < 0) {
        return -1;
    }
    windows_handle = (uint32_t)handle;
    flen_block[0] = windows_handle;
    length = (int32_t)edge_rnn_semihosting(SYS_FLEN, flen_block);
    if (length < 0 || (unsigned long)length % window_bytes != 0) {
        return -1;
    }
    return (long)((unsigned long)length / window_bytes);
}

int edge_rnn_windows_read(void *window, unsigned long bytes)
{
    uint32_t block[3] = {windows_handle, (uint32_t)(uintptr_t)window, (uint32_t)bytes};
    /* SYS_READ returns the number of bytes it could NOT read. */
    return edge_rnn_semihosting(SYS_READ, block) == 0 ? 0 : -1;
}
