/* edge-rnn QEMU TCG plugin: counts guest instructions between two marker addresses.
 *
 *   -plugin icount.so,start=0x<addr>,end=0x<addr>,out=<file>[,zones=0x<a1>:0x<a2>:...]
 *                    [,isa=arm|riscv]
 *
 * Every executed instruction adds one to a counter (inline, exact per instruction); entering
 * the start marker takes a snapshot, entering the end marker adds the difference to the
 * totals. At exit the plugin writes "pairs= first= min= max= total=" to <file>.
 * zones (profile builds): entering the function at a_k switches the current zone to k, so the
 * instructions between start and end are split by kernel (zone 0 until the first switch);
 * written as a second line "zones=<n0>,<n1>,...".
 * isa (Arm Thumb/A32 as disassembled by capstone, or RISC-V): each instruction is also counted
 * in its class, decided once at translation from its mnemonic: ALU, multiply/MAC (and divide),
 * load/store (incl. LDM/STM, PUSH/POP), branch, FPU/vector; written as a line
 * "classes=<alu>,<mul>,<load_store>,<branch_taken>,<branch_not_taken>,<fpu>" of the totals
 * between the markers (they add up to total). A branch ends its translation block: the next
 * block that starts is at the branch's fall-through address exactly when it was not taken.
 *
 * Debian ships QEMU's -plugin option but not qemu-plugin.h, so the few declarations of the
 * version-1 plugin API used here are written out below (QEMU 7.x ABI). */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* only passed through */
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

typedef void (*tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*udata_cb_t)(qemu_plugin_id_t id, void *userdata);

char *qemu_plugin_insn_disas(const struct qemu_plugin_insn *insn); /* malloc'd by QEMU */
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn,
                                                enum qemu_plugin_op op, void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb_t cb, void *userdata);

EXPORT int qemu_plugin_version = 1;

static uint64_t start_addr, end_addr;
static char out_path[4096];
static uint64_t executed; /* every guest instruction so far */
static uint64_t snapshot, pairs, first, lowest, highest, total;
static bool inside;

/* Instruction classes; NOT_TAKEN counts the branches among BRANCH that fell through. */
enum insn_class { ALU, MUL, LOAD_STORE, BRANCH, FPU, NOT_TAKEN, CLASSES };
enum isa { ISA_NONE, ISA_ARM, ISA_RISCV };
static enum isa isa;
static uint64_t class_executed[CLASSES], class_snapshot[CLASSES], class_total[CLASSES];
static uint64_t fall_through; /* of the branch just executed; 0: none pending */

#define MAX_ZONES 16
static uint64_t zone_addr[MAX_ZONES], zone_count[MAX_ZONES], zone_snapshot;
static size_t zones, zone_now;

/* Add the instructions since the last switch to the current zone. */
static void zone_flush(void)
{
    zone_count[zone_now] += executed - zone_snapshot;
    zone_snapshot = executed;
}

static void on_zone(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    if (inside) {
        zone_flush();
        zone_now = (size_t)(uintptr_t)userdata;
    }
}

static void on_start(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    (void)userdata;
    snapshot = zone_snapshot = executed;
    memcpy(class_snapshot, class_executed, sizeof class_snapshot);
    zone_now = 0;
    inside = true;
}

static void on_end(unsigned int vcpu_index, void *userdata)
{
    uint64_t count = executed - snapshot;
    (void)vcpu_index;
    (void)userdata;
    if (!inside) {
        return;
    }
    size_t c;
    zone_flush();
    inside = false;
    for (c = 0; c < CLASSES; ++c) {
        class_total[c] += class_executed[c] - class_snapshot[c];
    }
    if (pairs == 0) {
        first = lowest = highest = count;
    }
    lowest = count < lowest ? count : lowest;
    highest = count > highest ? count : highest;
    total += count;
    pairs++;
}

static bool starts_with_any(const char *word, const char *const *prefixes)
{
    for (; *prefixes != NULL; ++prefixes) {
        if (strncmp(word, *prefixes, strlen(*prefixes)) == 0) {
            return true;
        }
    }
    return false;
}

static bool is_one_of(const char *word, const char *const *words)
{
    for (; *words != NULL; ++words) {
        if (strcmp(word, *words) == 0) {
            return true;
        }
    }
    return false;
}

/* B, BL, BLX, BX, CBZ, CBNZ, TBB, TBH, each possibly with a condition code (BEQ, BXNE...);
 * BIC, BFI, BFC and BKPT also start with "b" and are not branches. */
static bool is_arm_branch(const char *mnemonic)
{
    static const char *const bases[] = {"b", "bl", "blx", "bx", "cbz", "cbnz", "tbb", "tbh", NULL};
    static const char *const conditions[] = {"eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs",
                                             "vc", "hi", "ls", "ge", "lt", "gt", "le", "al", NULL};
    char base[16];
    size_t n = strlen(mnemonic);
    if (is_one_of(mnemonic, bases)) {
        return true;
    }
    if (n < 3 || n >= sizeof base || !is_one_of(mnemonic + n - 2, conditions)) {
        return false;
    }
    memcpy(base, mnemonic, n - 2);
    base[n - 2] = '\0';
    return is_one_of(base, bases);
}

static enum insn_class arm_class(const char *mnemonic, const char *operands)
{
    static const char *const multiplies[] = {"mul", "mla", "mls", "smul", "smla", "smls",
                                             "smmul", "smmla", "smmls", "smuad", "smusd",
                                             "umul", "umla", "umaal", "sdiv", "udiv", NULL};
    static const char *const memory[] = {"ldr", "str", "ldm", "stm", "push", "pop", "lda",
                                         "stl", "ldc", "stc", "pld", "pli", "vldr", "vstr",
                                         "vldm", "vstm", "vld", "vst", "vpush", "vpop", NULL};
    bool writes_pc = strstr(operands, "pc}") != NULL; /* POP/LDM {..., pc}: a return */
    if (is_arm_branch(mnemonic) || (writes_pc && starts_with_any(mnemonic, memory))) {
        return BRANCH;
    }
    if (starts_with_any(mnemonic, multiplies)) {
        return MUL;
    }
    if (starts_with_any(mnemonic, memory)) {
        return LOAD_STORE;
    }
    return mnemonic[0] == 'v' ? FPU : ALU; /* VFP and MVE data processing */
}

static enum insn_class riscv_class(const char *mnemonic)
{
    static const char *const memory[] = {"lb", "lh", "lw", "lbu", "lhu", "sb", "sh", "sw",
                                         "flw", "fsw", "fld", "fsd", NULL};
    static const char *const atomics[] = {"lr.", "sc.", "amo", NULL};
    static const char *const multiplies[] = {"mul", "div", "rem", NULL};
    if (mnemonic[0] == 'b' || mnemonic[0] == 'j' || strcmp(mnemonic, "ret") == 0) {
        return BRANCH; /* beq.., beqz.., j, jal, jr, jalr, ret */
    }
    if (is_one_of(mnemonic, memory) || starts_with_any(mnemonic, atomics)) {
        return LOAD_STORE;
    }
    if (starts_with_any(mnemonic, multiplies)) {
        return MUL;
    }
    return mnemonic[0] == 'f' && strncmp(mnemonic, "fence", 5) != 0 ? FPU : ALU;
}

/* The class of one instruction from QEMU's disassembly: "mnemonic operands" (capstone, Arm)
 * or "<encoding hex> mnemonic operands" (RISC-V). The mnemonic is compared lowercased and
 * without its width qualifier (".w", ".n") or element type (".f32", ".s8"). */
static enum insn_class classify(const char *text)
{
    char mnemonic[32];
    size_t n = 0;
    if (isa == ISA_RISCV) {
        text += strspn(text, " \t");
        text += strcspn(text, " \t"); /* the encoding */
    }
    text += strspn(text, " \t");
    while (text[n] != '\0' && !isspace((unsigned char)text[n]) && n + 1 < sizeof mnemonic) {
        mnemonic[n] = (char)tolower((unsigned char)text[n]);
        ++n;
    }
    mnemonic[n] = '\0';
    if (isa == ISA_ARM) {
        mnemonic[strcspn(mnemonic, ".")] = '\0';
        return arm_class(mnemonic, text + n);
    }
    /* RISC-V keeps the dot: lr.w, fadd.s, fcvt.w.s classify by their prefix. */
    return riscv_class(mnemonic);
}

static void on_branch(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    fall_through = (uint64_t)(uintptr_t)userdata;
}

static void on_block(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    if (fall_through != 0) {
        class_executed[NOT_TAKEN] += (uint64_t)(uintptr_t)userdata == fall_through;
        fall_through = 0;
    }
}

/* Count the instruction in its class; a branch notes where it falls through. */
static void count_class(struct qemu_plugin_insn *insn, uint64_t vaddr)
{
    char *text = qemu_plugin_insn_disas(insn);
    enum insn_class class = text != NULL ? classify(text) : ALU;
    free(text);
    qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                               &class_executed[class], 1);
    if (class == BRANCH) {
        uint64_t next = vaddr + qemu_plugin_insn_size(insn);
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_branch, QEMU_PLUGIN_CB_NO_REGS,
                                               (void *)(uintptr_t)next);
    }
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    size_t i;
    (void)id;
    if (isa != ISA_NONE) {
        qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, QEMU_PLUGIN_CB_NO_REGS,
                                             (void *)(uintptr_t)qemu_plugin_tb_vaddr(tb));
    }
    for (i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &executed, 1);
        if (isa != ISA_NONE) {
            count_class(insn, vaddr);
        }
        size_t z;
        for (z = 1; z < zones; ++z) {
            if (vaddr == zone_addr[z]) {
                qemu_plugin_register_vcpu_insn_exec_cb(insn, on_zone, QEMU_PLUGIN_CB_NO_REGS,
                                                       (void *)(uintptr_t)z);
            }
        }
        if (vaddr == start_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_start, QEMU_PLUGIN_CB_NO_REGS, NULL);
        } else if (vaddr == end_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
    }
}

static void on_exit_write(qemu_plugin_id_t id, void *userdata)
{
    FILE *out = fopen(out_path, "w");
    (void)id;
    (void)userdata;
    if (out == NULL) {
        return;
    }
    fprintf(out, "pairs=%" PRIu64 " first=%" PRIu64 " min=%" PRIu64 " max=%" PRIu64
                 " total=%" PRIu64 " executed=%" PRIu64 "\n",
            pairs, first, lowest, highest, total, executed);
    if (zones > 1) {
        size_t z;
        fprintf(out, "zones=");
        for (z = 0; z < zones; ++z) {
            fprintf(out, "%s%" PRIu64, z ? "," : "", zone_count[z]);
        }
        fprintf(out, "\n");
    }
    if (isa != ISA_NONE) {
        uint64_t *t = class_total;
        fprintf(out, "classes=%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
                t[ALU], t[MUL], t[LOAD_STORE], t[BRANCH] - t[NOT_TAKEN], t[NOT_TAKEN], t[FPU]);
    }
    fclose(out);
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                               char **argv)
{
    int i;
    (void)info;
    for (i = 0; i < argc; ++i) {
        if (strncmp(argv[i], "start=", 6) == 0) {
            start_addr = strtoull(argv[i] + 6, NULL, 0);
        } else if (strncmp(argv[i], "end=", 4) == 0) {
            end_addr = strtoull(argv[i] + 4, NULL, 0);
        } else if (strncmp(argv[i], "zones=", 6) == 0) {
            char *next = argv[i] + 6;
            zones = 1; /* zone 0: from start to the first switch */
            while (*next != '\0' && zones < MAX_ZONES) {
                zone_addr[zones++] = strtoull(next, &next, 0);
                next += *next == ':';
            }
        } else if (strcmp(argv[i], "isa=arm") == 0 || strcmp(argv[i], "isa=riscv") == 0) {
            isa = argv[i][4] == 'a' ? ISA_ARM : ISA_RISCV;
        } else if (strncmp(argv[i], "out=", 4) == 0) {
            snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
        } else {
            fprintf(stderr, "edge-rnn icount plugin: unknown argument '%s'\n", argv[i]);
            return -1;
        }
    }
    if (start_addr == 0 || end_addr == 0 || out_path[0] == '\0') {
        fprintf(stderr, "edge-rnn icount plugin: needs start=, end= and out=\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit_write, NULL);
    return 0;
}
