/* version.h - the version of plumb, shown by `plumb version` and in reports.
 * Bumped by hand with each release; the Debian package takes it from here. */
#ifndef PLUMB_VERSION_H
#define PLUMB_VERSION_H

#define PLUMB_VERSION "0.1.0"

#endif
