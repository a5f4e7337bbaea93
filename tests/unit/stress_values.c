/*
 * The stress tests' self-checking value format: building a record and
 * checking a value record by record (layout and rules in stress_values.h).
 *
 * Fields are stored little-endian byte by byte, so a value means the same
 * on any host, and the payload is a function of (key, writer, seq, offset),
 * so a checker needs nothing but the bytes and the key it read them under
 * to recompute every byte it expects.
 */
#include <stddef.h>
#include <stdint.h>

#include "stress_values.h"

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void put_u16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint16_t get_u16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static unsigned char payload_byte(unsigned key, unsigned writer,
				  uint32_t seq, size_t i)
{
	return (unsigned char)(seq * 31u + key * 7u + writer * 131u +
			       (unsigned)i * 13u + (unsigned)(i >> 8));
}

void make_record(unsigned char *buf, uint32_t len, unsigned key,
		 unsigned writer, uint32_t seq)
{
	put_u32(buf, len);
	put_u16(buf + 4, (uint16_t)key);
	put_u16(buf + 6, (uint16_t)writer);
	put_u32(buf + 8, seq);
	for (uint32_t i = 12; i < len - 4; i++)
		buf[i] = payload_byte(key, writer, seq, i);
	put_u32(buf + len - 4, fnv1a(buf, len - 4));
}

const char *check_value(const struct cc_view *v, unsigned key)
{
	const unsigned char *p = v->value;
	size_t off = 0;

	if (v->flags != key)
		return "flags differ from the key index";
	if (v->value_len < REC_MIN)
		return "value shorter than one record";
	while (off < v->value_len) {
		const unsigned char *r = p + off;
		uint32_t len, seq;
		unsigned writer;

		if (v->value_len - off < REC_MIN)
			return "trailing bytes after the last record";
		len = get_u32(r);
		if (len < REC_MIN || len > REC_MAX || len > v->value_len - off)
			return "record length out of range";
		if (get_u16(r + 4) != key)
			return "record of another key";
		if (get_u32(r + len - 4) != fnv1a(r, len - 4))
			return "checksum mismatch";
		writer = get_u16(r + 6);
		seq = get_u32(r + 8);
		for (uint32_t i = 12; i < len - 4; i++)
			if (r[i] != payload_byte(key, writer, seq, i))
				return "payload differs";
		off += len;
	}
	return NULL;
}

unsigned record_writer(const unsigned char *r)
{
	return get_u16(r + 6);
}

uint32_t record_seq(const unsigned char *r)
{
	return get_u32(r + 8);
}
