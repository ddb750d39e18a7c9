/* The test windows as a const array: raw little-endian float32 bytes written by edge-rnn
 * (EDGE_RNN_TEST_VECTORS names the file), so no float is ever re-printed as C text. */
    .section .rodata.edge_rnn_test_x, "a"
    .balign 16
    .global edge_rnn_test_x
edge_rnn_test_x:
    .incbin EDGE_RNN_TEST_VECTORS
    .size edge_rnn_test_x, . - edge_rnn_test_x

#if defined(__linux__)
    .section .note.GNU-stack, "", %progbits
#endif
