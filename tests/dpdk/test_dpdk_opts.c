/*
 * Unit tests of the DPDK options' parsers (control/dpdk_opts.c):
 * --udp-allow networks and --dpdk-port specs, good and bad, with the
 * messages an operator sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctl.h"

struct port_spec {
	char devargs[256];
	char iface[32];
	uint32_t addr;
	uint8_t prefix;
	char err[256];
};

static int parse_port(const char *spec, unsigned index, struct port_spec *p)
{
	memset(p, 0, sizeof(*p));
	return ctl_parse_dpdk_port(spec, index, p->devargs,
				   sizeof(p->devargs), &p->addr, &p->prefix,
				   p->iface, sizeof(p->iface), p->err,
				   sizeof(p->err));
}

static void test_cidr_good(void **state)
{
	uint32_t addr, mask;
	char err[128];

	(void)state;
	assert_int_equal(ctl_parse_cidr("10.1.2.3/8", &addr, &mask, err,
					sizeof(err)), 0);
	assert_int_equal(addr, 0x0a000000);
	assert_int_equal(mask, 0xff000000);
	assert_int_equal(ctl_parse_cidr("192.0.2.7", &addr, &mask, err,
					sizeof(err)), 0);
	assert_int_equal(addr, 0xc0000207);
	assert_int_equal(mask, 0xffffffff);
	assert_int_equal(ctl_parse_cidr("0.0.0.0/0", &addr, &mask, err,
					sizeof(err)), 0);
	assert_int_equal(addr, 0);
	assert_int_equal(mask, 0);
}

static void test_cidr_bad(void **state)
{
	static const char *const bad[] = {
		"", "/24", "10.0.0.1/", "10.0.0.1/33", "10.0.0.1/-1",
		"10.0.0.1/8x", "10.0.0/8", "300.0.0.1/8", "host/8",
		"10.0.0.1 /8",
	};
	uint32_t addr, mask;
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(ctl_parse_cidr(bad[i], &addr, &mask, err,
						sizeof(err)), -22);
		assert_non_null(strstr(err, "not an IPv4 network"));
	}
}

static void test_port_good(void **state)
{
	struct port_spec p;

	(void)state;
	assert_int_equal(parse_port("net_pcap0,rx_pcap=a.pcap,tx_pcap=b.pcap,"
				    "10.0.0.1/24", 0, &p), 0);
	assert_string_equal(p.devargs,
			    "net_pcap0,rx_pcap=a.pcap,tx_pcap=b.pcap");
	assert_int_equal(p.addr, 0x0a000001);  /* the address, not its net */
	assert_int_equal(p.prefix, 24);
	assert_string_equal(p.iface, "cc-exc0");

	assert_int_equal(parse_port("0000:03:00.0,192.0.2.10/25,"
				    "exception=wire1", 3, &p), 0);
	assert_string_equal(p.devargs, "0000:03:00.0");
	assert_int_equal(p.addr, 0xc000020a);
	assert_int_equal(p.prefix, 25);
	assert_string_equal(p.iface, "wire1");

	assert_int_equal(parse_port("net_null0,10.0.0.1/32,exception=none",
				    1, &p), 0);
	assert_string_equal(p.iface, "none");
}

static void test_port_bad(void **state)
{
	static const char *const bad[] = {
		"net_null0", "10.0.0.1/24", ",10.0.0.1/24", "net_null0,10.0.0.1",
		"net_null0,10.0.0.1/40", "net_null0,exception=x",
		"net_null0,10.0.0.1/24,exception=",
		"net_null0,10.0.0.1/24,exception=a-name-far-too-long",
	};
	struct port_spec p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_port(bad[i], 0, &p), -22);
		assert_non_null(strstr(p.err, "--dpdk-port"));
	}
}

static void test_options_table(void **state)
{
	bool given[CTL_OPTIONS_MAX] = { false };
	struct ctl_config cfg;
	char err[256];
	char *argv[] = {
		"corecached", "--dpdk", "--no-huge -l 0,1", "--dpdk-port",
		"net_null0,10.0.0.1/24", "--dpdk-port", "net_null1,10.0.1.1/24",
		"--udp-allow", "10.0.0.0/8", "--udp-amplification", "4",
		"--dpdk-workers", "2", NULL,
	};

	(void)state;
	ctl_config_init(&cfg);
	assert_int_equal(cfg.udp_amplification, 10);
	assert_int_equal(ctl_parse_args(&cfg, given, 13, argv, err,
					sizeof(err)), 0);
	assert_string_equal(cfg.dpdk_eal, "--no-huge -l 0,1");
	assert_int_equal(cfg.dpdk_ports.n, 2);
	assert_string_equal(cfg.dpdk_ports.v[1], "net_null1,10.0.1.1/24");
	assert_int_equal(cfg.udp_allow.n, 1);
	assert_int_equal(cfg.udp_amplification, 4);
	assert_int_equal(cfg.dpdk_workers, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_good),
		cmocka_unit_test(test_cidr_bad),
		cmocka_unit_test(test_port_good),
		cmocka_unit_test(test_port_bad),
		cmocka_unit_test(test_options_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
