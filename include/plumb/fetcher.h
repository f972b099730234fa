/* fetcher.h - the plumb-fetch helper (the only program that links libgit2):
 * fetches the signed ref into its own cache.git, confined, and streams the
 * objects the parent needs as frames (plumb/objstore.h) on fd 3. The parent
 * (src/gitsrc.c) trusts none of it: it recomputes every id and judges the
 * tip itself. Not part of libplumb.a. */
#ifndef PLUMB_FETCHER_H
#define PLUMB_FETCHER_H

/* The fd the frames go to (the parent's pipe). */
#define PLUMB_FETCHER_FD 3

/* main() of plumb-fetch. argv (all from the parent, never from a shell):
 *   --cache DIR --url URL --ref REF --max-bytes N --timeout S
 *   [--ca-file F] [--ssh-key F] [--ssh-host-key SHA256:...]
 *   [--uid U --gid G --user NAME]   drop to this user (else stay root)
 *   [--anchor HEX] [--have HEX] [--history-max N]
 * --have names a commit whose whole tree the parent has: none of it is sent.
 * Exit status 0 (DONE sent), or PLUMB_FETCH_* after a FAIL frame. */
int plumb_fetcher_main(int argc, char **argv);

#endif
