// The values come from Package.swift, which reads BGCTL_COMMIT and BGCTL_BUILD_DATE from the
// environment of the build (the Makefile sets them). A plain `swift build` leaves them unset.
#include "CBuildInfo.h"

#ifndef BGCTL_COMMIT
#define BGCTL_COMMIT "unknown"
#endif

#ifndef BGCTL_BUILD_DATE
#define BGCTL_BUILD_DATE ""
#endif

const char *bgctl_build_commit(void) { return BGCTL_COMMIT; }

const char *bgctl_build_date(void) { return BGCTL_BUILD_DATE; }
