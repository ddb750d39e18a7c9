/* RISC-V reset entry and trap handler of the validation firmware.
 *
 * Written for the smallest ISA any profile has (RV32E registers x0-x15, no compressed, M, A
 * or F instructions) so that it runs on every emulated core, whatever -march the rest of the
 * firmware was built for. It installs the trap handler before anything else runs: a firmware
 * built for an extension the core lacks (its first F or C instruction traps) then reports and
 * exits instead of looping on a trap with no handler (mtvec 0 at reset).
 *
 * The trap handler prints one protocol line and exits with EDGE_RNN_EXIT_HARDFAULT (120,
 * edge_rnn_firmware.h) through semihosting (SYS_EXIT_EXTENDED):
 *     FAULT mcause=0x<8 hex> mepc=0x<8 hex> mtval=0x<8 hex>
 * A trap inside the handler (semihosting disabled) exits through the virt machine's test
 * finisher instead; a third one parks the core. */
#define EXIT_CODE 120
#define SYS_WRITEC 0x03
#define SYS_WRITE0 0x04
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define VIRT_TEST_FINISHER 0x100000
#define FINISHER_FAIL 0x3333

    .option norvc
    .option norelax /* no linker relaxation either: to compressed or gp-relative forms */
    .option arch, +zicsr

    .section .text.init.enter, "ax"
    .globl _start
    .type _start, @function
_start:
    csrw mscratch, zero /* handler re-entry count */
    la t0, edge_rnn_trap
    csrw mtvec, t0
    la gp, __global_pointer$
    la sp, __stack
#ifdef __riscv_flen
    li t0, 0x2000 /* mstatus.FS = initial: the FPU is on (traps here on a core without F) */
    csrs mstatus, t0
    csrwi fcsr, 0
#endif
    tail edge_rnn_cstart
    .size _start, . - _start

    .section .text.edge_rnn_trap, "ax"
    .balign 4
    .globl edge_rnn_trap
    .type edge_rnn_trap, @function
edge_rnn_trap:
    csrr t0, mscratch
    addi t1, t0, 1
    csrw mscratch, t1
    bnez t0, 1f
    la a1, fault_mcause
    jal ra, print_string
    csrr s0, mcause
    jal ra, print_hex
    la a1, fault_mepc
    jal ra, print_string
    csrr s0, mepc
    jal ra, print_hex
    la a1, fault_mtval
    jal ra, print_string
    csrr s0, mtval
    jal ra, print_hex
    la a1, fault_end
    jal ra, print_string
    la a1, exit_block
    li t0, ADP_STOPPED_APPLICATION_EXIT
    sw t0, 0(a1)
    li t0, EXIT_CODE
    sw t0, 4(a1)
    li a0, SYS_EXIT_EXTENDED
    jal t2, semihosting
    li t0, 1 /* still here: semihosting did not exit */
1:  addi t0, t0, -1
    bnez t0, 2f
    li t0, VIRT_TEST_FINISHER
    li t1, (EXIT_CODE << 16) | FINISHER_FAIL
    sw t1, 0(t0)
2:  j 2b
    .size edge_rnn_trap, . - edge_rnn_trap

/* SYS_WRITE0 of the string at a1; returns to ra. */
print_string:
    li a0, SYS_WRITE0
    mv s1, ra
    jal t2, semihosting
    jr s1

/* SYS_WRITEC of s0's eight hex digits, most significant first; returns to ra. */
print_hex:
    mv s1, ra
    li a2, 8
3:  srli t0, s0, 28
    slli s0, s0, 4
    addi t0, t0, '0'
    li t1, '9'
    ble t0, t1, 4f
    addi t0, t0, 'a' - '9' - 1
4:  la a1, hex_digit
    sb t0, 0(a1)
    li a0, SYS_WRITEC
    jal t2, semihosting
    addi a2, a2, -1
    bnez a2, 3b
    jr s1

/* The semihosting call (operation a0, block a1): the three instructions in one page. */
    .balign 16
semihosting:
    slli x0, x0, 0x1f
    ebreak
    srai x0, x0, 7
    jr t2

    .section .rodata.edge_rnn_trap, "a"
fault_mcause:
    .asciz "FAULT mcause=0x"
fault_mepc:
    .asciz " mepc=0x"
fault_mtval:
    .asciz " mtval=0x"
fault_end:
    .asciz "\n"

    /* RAM: written before use, so valid before .data/.bss are set up. */
    .section .bss.edge_rnn_trap, "aw", @nobits
    .balign 4
exit_block:
    .space 8
hex_digit:
    .space 4
