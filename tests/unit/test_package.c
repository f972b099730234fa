/* test_package.c - reading a dpkg status file: installed and not, the
 * states that leave files on disk, Multi-Arch duplicates, continuation
 * lines, a name that is a prefix of another, a file without a final newline. */
#include "testlib.h"

#include "plumb/package.h"

static void scan(void **state)
{
	static const char text[] =
		"Package: telnetd\nStatus: install ok installed\nVersion: 0.17-42\n"
		"Description: telnet server\n Package: fake-in-continuation\n\n"
		"Package: tel\nStatus: deinstall ok config-files\nVersion: 1\n\n"
		"Package: libc6\nStatus: install ok installed\nArchitecture: i386\nVersion: 2.36\n\n"
		"Package: libc6\nStatus: deinstall ok not-installed\nArchitecture: amd64\n\n"
		"Package: half\nStatus: install reinstreq half-installed\n\n"
		"Package: unpacked\nStatus: install ok unpacked\nVersion: 3";
	struct plumb_package_res pkgs[] = {
		{.name = "fake-in-continuation"}, {.name = "half"}, {.name = "libc6"}, {.name = "nothere"},
		{.name = "tel"}, {.name = "telnetd"}, {.name = "unpacked"},
	};
	struct plumb_package_state out[7];

	(void)state;
	plumb_dpkg_status_scan(out, pkgs, 7, text, sizeof(text) - 1);
	assert_false(out[0].present);          /* only named in a continuation line */
	assert_string_equal(out[0].status, "");
	assert_true(out[1].present);           /* half-installed: files on disk */
	assert_true(out[2].present);           /* one architecture installed is enough */
	assert_string_equal(out[2].version, "2.36");
	assert_false(out[3].present);
	assert_false(out[4].present);          /* config-files only: removed */
	assert_string_equal(out[4].status, "deinstall ok config-files");
	assert_true(out[5].present);
	assert_string_equal(out[5].status, "install ok installed");
	assert_string_equal(out[5].version, "0.17-42");
	assert_true(out[6].present);           /* the last stanza, no final newline */
	assert_string_equal(out[6].version, "3");
	plumb_dpkg_status_scan(out, pkgs, 7, "", 0);
	assert_false(out[5].present);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scan),
	};

	return cmocka_run_group_tests_name("package", tests, NULL, NULL);
}
