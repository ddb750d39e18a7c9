/* RISC-V bare-metal platform of the validation firmware. picolibc's crt0 (--crt0=semihost)
 * sets gp and sp, copies .data, clears .bss, points tp at the TLS block and ends with
 * exit(main()) through semihosting (QEMU then exits with main's return value); stdio goes
 * through picolibc's semihosting library. This file adds what edge_rnn_firmware.h asks of a
 * bare-metal platform: the semihosting call, a trap handler that exits with a known code,
 * and the stack paint/peak (the stack is [__heap_end, __stack) in picolibc.ld). */
#include <stdint.h>

#include "edge_rnn_firmware.h"

extern uint32_t __heap_end[], __stack[];

#define STACK_PAINT 0xC5A5C5A5u
#define SYS_EXIT_EXTENDED 0x20u

uint32_t edge_rnn_semihosting(uint32_t operation, void *block)
{
    register uint32_t a0 __asm__("a0") = operation;
    register void *a1 __asm__("a1") = block;
    /* The semihosting trap: uncompressed slli/ebreak/srai, aligned so they share one page. */
    __asm__ volatile(".option push\n\t.option norvc\n\t.balign 16\n\t"
                     "slli x0, x0, 0x1f\n\tebreak\n\tsrai x0, x0, 7\n\t.option pop"
                     : "+r"(a0)
                     : "r"(a1)
                     : "memory");
    return a0;
}

/* Any exception (illegal instruction, access fault, misaligned access): exit code 120. */
__attribute__((interrupt("machine"), aligned(4))) static void trap_handler(void)
{
    uint32_t block[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, EDGE_RNN_EXIT_HARDFAULT};
    edge_rnn_semihosting(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}

void edge_rnn_platform_init(void)
{
    /* -march without _zicsr (GCC 12 splits the CSR instructions out of the base ISA). */
    __asm__ volatile(".option push\n\t.option arch, +zicsr\n\tcsrw mtvec, %0\n\t.option pop" ::"r"(
        (uintptr_t)trap_handler));
}

void edge_rnn_stack_paint(void)
{
    volatile uint32_t *word = __heap_end;
    /* Stop just below this function's frame: the loop itself keeps everything in registers. */
    volatile uint32_t *limit = (volatile uint32_t *)__builtin_frame_address(0) - 16;
    while (word < limit) {
        *word++ = STACK_PAINT;
    }
}

unsigned long edge_rnn_stack_peak(void)
{
    const volatile uint32_t *word = __heap_end;
    while (word < __stack && *word == STACK_PAINT) {
        ++word;
    }
    return (unsigned long)((uintptr_t)__stack - (uintptr_t)word);
}
