/* plumb-fetch.c - the git fetcher (libexec helper of plumb and plumbd): the
 * only program that links libgit2. It confines itself, fetches into its own
 * cache and streams raw objects to its parent, which trusts none of them
 * (src/fetcher.c; docs/PRIVSEP.md). */
#include "plumb/fetcher.h"

int main(int argc, char **argv)
{
	return plumb_fetcher_main(argc, argv);
}
