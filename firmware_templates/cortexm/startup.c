/* Minimal Cortex-M startup for edge-rnn firmware under QEMU (or a board): vector table,
 * .data/.bss set-up, FPU enable, C/C++ constructors (__libc_init_array), faults ending in a
 * semihosting exit code. Enough for C++ code such as TFLite Micro: __dso_handle for
 * destructors registered with atexit, and the linker script's __exidx_start/__exidx_end. */
#include <stdint.h>
#include <stdlib.h>

#include "edge_rnn_firmware.h"

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__;
extern uint32_t __stack_limit__, __stack_top__;
extern void __libc_init_array(void);
extern int main(void);

/* Identifies this executable to __cxa_atexit (crtbegin.o defines it; -nostartfiles drops it). */
void *__dso_handle = 0;

#define STACK_PAINT 0xC5A5C5A5u

uint32_t edge_rnn_semihosting(uint32_t operation, void *block)
{
    register uint32_t op __asm__("r0") = operation;
    register void *arg __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : "+r"(op) : "r"(arg) : "memory");
    return op;
}

/* SYS_EXIT_EXTENDED: QEMU exits with `code` as its own exit status. */
static void semihosting_exit(uint32_t code)
{
    uint32_t block[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, code};
    edge_rnn_semihosting(0x20u, block);
    for (;;) {
    }
}

void HardFault_Handler(void) { semihosting_exit(EDGE_RNN_EXIT_HARDFAULT); }
void MemManage_Handler(void) { semihosting_exit(EDGE_RNN_EXIT_MEMMANAGE); }
void BusFault_Handler(void) { semihosting_exit(EDGE_RNN_EXIT_BUSFAULT); }
void UsageFault_Handler(void) { semihosting_exit(EDGE_RNN_EXIT_USAGEFAULT); }
void Default_Handler(void) { semihosting_exit(EDGE_RNN_EXIT_UNEXPECTED_IRQ); }

void Reset_Handler(void)
{
    uint32_t *src = &__data_load__;
    uint32_t *dst;
    for (dst = &__data_start__; dst < &__data_end__;) {
        *dst++ = *src++;
    }
    for (dst = &__bss_start__; dst < &__bss_end__;) {
        *dst++ = 0;
    }
#if defined(__ARM_FP)
    /* CPACR: full access to CP10/CP11 (the FPU) before any float instruction runs. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    __libc_init_array(); /* constructors of file-scope C++ objects (.init_array) */
    exit(main());
}

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used)) const vector_t edge_rnn_vectors[16] = {
    (vector_t)&__stack_top__, Reset_Handler, Default_Handler, HardFault_Handler,
    MemManage_Handler, BusFault_Handler, UsageFault_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler,
};

/* -nostartfiles: __libc_init_array and newlib's exit() still call these. */
void _init(void) {}
void _fini(void) {}

void edge_rnn_stack_paint(void)
{
    volatile uint32_t *word = &__stack_limit__;
    /* Stop just below this function's frame: the loop itself keeps everything in registers. */
    volatile uint32_t *limit = (volatile uint32_t *)__builtin_frame_address(0) - 4;
    while (word < limit) {
        *word++ = STACK_PAINT;
    }
}

unsigned long edge_rnn_stack_peak(void)
{
    const volatile uint32_t *word = &__stack_limit__;
    while (word < &__stack_top__ && *word == STACK_PAINT) {
        ++word;
    }
    return (unsigned long)((uintptr_t)&__stack_top__ - (uintptr_t)word);
}
