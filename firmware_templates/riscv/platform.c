/* RISC-V bare-metal platform of the validation firmware. startup.S sets gp, sp and the trap
 * handler (any exception prints a FAULT line and exits with EDGE_RNN_EXIT_HARDFAULT), then
 * calls edge_rnn_cstart below, which sets up C's memory and ends with exit(main()) through
 * picolibc's semihosting library (QEMU then exits with main's return value); stdio goes
 * through it too. This file adds what edge_rnn_firmware.h asks of a bare-metal platform:
 * the semihosting call and the stack paint/peak (the stack is [__heap_end, __stack) in
 * picolibc.ld, whose symbols are used here). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_rnn_firmware.h"

extern uint32_t __heap_end[], __stack[];
extern char __data_start[], __data_source[], __data_size[], __bss_start[], __bss_size[];
extern char __tls_base[];
void __libc_init_array(void);
int main(void);

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

/* Entered from _start (startup.S): copy .data, clear .bss, point tp at the TLS block (picolibc
 * keeps errno there), run the constructors and main. */
__attribute__((noreturn, used)) void edge_rnn_cstart(void)
{
    memcpy(__data_start, __data_source, (size_t)(uintptr_t)__data_size);
    memset(__bss_start, 0, (size_t)(uintptr_t)__bss_size);
    __asm__ volatile("mv tp, %0" ::"r"(__tls_base));
    __libc_init_array();
    exit(main());
}

/* Nothing left to do: startup.S installed the trap handler before any other code ran. */
void edge_rnn_platform_init(void)
{
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
