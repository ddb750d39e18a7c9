/* edge-rnn device line protocol v1 (docs/architecture.md), printed by validation firmware.
 *
 *   EDGE-RNN v1 model=<name> samples=<N> outputs=<K> dtype=<f32|i8|i16>
 *   S <index> <v_0> ... <v_{K-1}>
 *   END samples=<N> fnv1a=<8 hex digits>
 *
 * The FNV-1a 32-bit hash runs over every byte of every S line (with its '\n'), so the host
 * can tell a line corrupted on the wire. Output goes through EDGE_RNN_PUTS (default: stdout,
 * which is semihosting under QEMU or the UART once the board retargets newlib's _write).
 */
#ifndef EDGE_RNN_PROTOCOL_H
#define EDGE_RNN_PROTOCOL_H

#include <stdint.h>
#include <stdio.h>

#ifndef EDGE_RNN_PUTS
#define EDGE_RNN_PUTS(text) fputs((text), stdout)
#endif

typedef struct {
    uint32_t fnv1a;    /* running hash over the S lines */
    unsigned samples;  /* S lines written so far */
} edge_rnn_protocol_t;

static inline void edge_rnn_protocol_hash(edge_rnn_protocol_t *p, const char *text)
{
    for (; *text != '\0'; ++text) {
        p->fnv1a = (p->fnv1a ^ (uint8_t)*text) * 0x01000193u;
    }
}

/* Print one piece of an S line and add it to the hash. */
static inline void edge_rnn_protocol_emit(edge_rnn_protocol_t *p, const char *text)
{
    edge_rnn_protocol_hash(p, text);
    EDGE_RNN_PUTS(text);
}

static inline void edge_rnn_protocol_begin(edge_rnn_protocol_t *p, const char *model,
                                           unsigned samples, unsigned outputs, const char *dtype)
{
    char line[160];
    p->fnv1a = 0x811c9dc5u;
    p->samples = 0;
    snprintf(line, sizeof line, "EDGE-RNN v1 model=%s samples=%u outputs=%u dtype=%s\n", model,
             samples, outputs, dtype);
    EDGE_RNN_PUTS(line);
}

static inline void edge_rnn_protocol_sample_begin(edge_rnn_protocol_t *p)
{
    char text[16];
    snprintf(text, sizeof text, "S %u", p->samples);
    edge_rnn_protocol_emit(p, text);
}

static inline void edge_rnn_protocol_f32(edge_rnn_protocol_t *p, float value)
{
    char text[24];
    snprintf(text, sizeof text, " %.9g", (double)value);
    edge_rnn_protocol_emit(p, text);
}

static inline void edge_rnn_protocol_int(edge_rnn_protocol_t *p, long value)
{
    char text[24];
    snprintf(text, sizeof text, " %ld", value);
    edge_rnn_protocol_emit(p, text);
}

static inline void edge_rnn_protocol_sample_end(edge_rnn_protocol_t *p)
{
    edge_rnn_protocol_emit(p, "\n");
    p->samples++;
}

/* A measurement line, e.g. edge_rnn_protocol_cost("cycles", 1234). */
static inline void edge_rnn_protocol_cost(const char *key, unsigned long value)
{
    char line[64];
    snprintf(line, sizeof line, "COST %s=%lu\n", key, value);
    EDGE_RNN_PUTS(line);
}

static inline void edge_rnn_protocol_end(const edge_rnn_protocol_t *p)
{
    char line[48];
    snprintf(line, sizeof line, "END samples=%u fnv1a=%08lx\n", p->samples,
             (unsigned long)p->fnv1a);
    EDGE_RNN_PUTS(line);
    fflush(stdout);
}

#endif /* EDGE_RNN_PROTOCOL_H */
