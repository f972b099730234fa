/* test_module.c - reading /proc/modules: whole names only. */
#include "testlib.h"

#include "plumb/module.h"

static void listed(void **state)
{
	static const char text[] = "usb_storage 81920 1 uas, Live 0x0\ncramfs 16384 0 - Live 0x0\nnf_tables 1 0 - Live 0x0";

	(void)state;
	assert_true(plumb_modules_listed(text, sizeof(text) - 1, "cramfs"));
	assert_true(plumb_modules_listed(text, sizeof(text) - 1, "usb_storage"));
	assert_true(plumb_modules_listed(text, sizeof(text) - 1, "nf_tables"));   /* last line, no newline */
	assert_false(plumb_modules_listed(text, sizeof(text) - 1, "cram"));        /* a prefix is not the module */
	assert_false(plumb_modules_listed(text, sizeof(text) - 1, "uas"));         /* a user of a module is not listed */
	assert_false(plumb_modules_listed("", 0, "cramfs"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(listed),
	};

	return cmocka_run_group_tests_name("module", tests, NULL, NULL);
}
