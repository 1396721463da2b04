#ifndef BGCTL_CBUILDINFO_H
#define BGCTL_CBUILDINFO_H

/// The git commit this binary was built from, or "unknown" when the build did not say.
const char *bgctl_build_commit(void);

/// The day this binary was built (YYYY-MM-DD), or "" when the build did not say.
const char *bgctl_build_date(void);

#endif
