/*
 * libFuzzer target: the UDP frame layer. Each input is one datagram
 * (8-byte frame header, then requests) given to proto_udp_serve; the
 * reply datagrams are checked for size and framing and read out.
 */
#include "fuzz_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_feed_udp(fuzz_fixture_get(), data, size);
	return 0;
}
