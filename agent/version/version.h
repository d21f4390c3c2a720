/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The version both binaries print (--version, man pages, GetStatus, the node's status key):
 * the project's version and the git commit of the build. It lives in one generated source
 * (version.c in the build tree, rewritten only when the commit changes), so a new commit
 * recompiles that file alone, not every file of the tree.
 */
#ifndef IOFENCE_VERSION_H
#define IOFENCE_VERSION_H

/* "0.1.0 (git 1a2b3c4)", or "0.1.0" when built outside a git checkout. */
const char *iofence_version(void);

#endif /* IOFENCE_VERSION_H */
