/*
 * The self-checking value format of the stress tests (test_stress.c).
 *
 * Writers and readers race on the same keys while eviction reuses the
 * memory under them, so a reader must be able to tell, from the bytes
 * alone, a good value from a torn, mixed or reused one, whatever mix of
 * set, append and prepend produced it. Every value is therefore a sequence
 * of records that each carry their own length, key, origin and checksum:
 *
 *   0        4        6        8         12                 len-4   len
 *   +--------+--------+--------+---------+--------------------+------+
 *   | len    | key    | writer | seq     | payload(key,w,seq) | fnv  |
 *   +--------+--------+--------+---------+--------------------+------+
 *   u32 LE    u16 LE   u16 LE   u32 LE                          u32 LE
 *
 * fnv is FNV-1a over bytes [0, len-4). A value is valid when it splits
 * exactly into such records, each for the key it was read under, and the
 * view's flags equal the key index (every writer stores them so; append
 * and prepend keep them).
 *
 * The format knows nothing of threads or of the cache beyond struct
 * cc_view, which is why it lives apart from the workers and the tests.
 * Every function here is pure and may be called from any thread.
 */
#ifndef STRESS_VALUES_H
#define STRESS_VALUES_H

#include <stdint.h>

#include "corecache.h"

/* Bounds of one record's len field, header and checksum included. */
#define REC_MIN 16u
#define REC_MAX 2000u

/* Writes one record of len bytes (REC_MIN..REC_MAX) for key, written by
 * writer as its seq-th operation, into buf. */
void make_record(unsigned char *buf, uint32_t len, unsigned key,
		 unsigned writer, uint32_t seq);

/* NULL when the view is a valid value of key, else what is wrong (a
 * static string). */
const char *check_value(const struct cc_view *v, unsigned key);

/* The writer and seq fields of the record that starts at r. */
unsigned record_writer(const unsigned char *r);
uint32_t record_seq(const unsigned char *r);

#endif /* STRESS_VALUES_H */
