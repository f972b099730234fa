/* plumb-fetch.c - the git fetcher (libexec helper of plumb and plumbd): the
 * only program that links libgit2. It confines itself, fetches into its own
 * cache and streams raw objects to its parent, which trusts none of them
 * (src/fetcher.c; docs/PRIVSEP.md). */
#include "plumb/fetcher.h"

#if defined(__SANITIZE_ADDRESS__)
#define PLUMB_FETCH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PLUMB_FETCH_ASAN 1
#endif
#endif

#ifdef PLUMB_FETCH_ASAN
/* Sanitizer builds only (make SANITIZE=address): the fetcher gets a clean
 * environment from its parent, so no LSAN_OPTIONS reaches it. libgit2 1.5
 * and libssh2 leak a few bytes per ssh transport (not plumb's allocations);
 * those two libraries' leaks are not reported, every other leak is. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libgit2.so\nleak:libssh2.so\n";
}
#endif

int main(int argc, char **argv)
{
	return plumb_fetcher_main(argc, argv);
}
