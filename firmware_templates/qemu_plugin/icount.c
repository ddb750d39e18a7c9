/* edge-rnn QEMU TCG plugin: counts guest instructions between two marker addresses.
 *
 *   -plugin icount.so,start=0x<addr>,end=0x<addr>,out=<file>[,zones=0x<a1>:0x<a2>:...]
 *
 * Every executed instruction adds one to a counter (inline, exact per instruction); entering
 * the start marker takes a snapshot, entering the end marker adds the difference to the
 * totals. At exit the plugin writes "pairs= first= min= max= total=" to <file>.
 * zones (profile builds): entering the function at a_k switches the current zone to k, so the
 * instructions between start and end are split by kernel (zone 0 until the first switch);
 * written as a second line "zones=<n0>,<n1>,...".
 *
 * Debian ships QEMU's -plugin option but not qemu-plugin.h, so the few declarations of the
 * version-1 plugin API used here are written out below (QEMU 7.x ABI). */
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
    zone_flush();
    inside = false;
    if (pairs == 0) {
        first = lowest = highest = count;
    }
    lowest = count < lowest ? count : lowest;
    highest = count > highest ? count : highest;
    total += count;
    pairs++;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    size_t i;
    (void)id;
    for (i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &executed, 1);
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
