/* version.h -- the release this tree builds. */
#ifndef THEKE_VERSION_H
#define THEKE_VERSION_H
#define THEKE_VERSION "0.1.0"
#endif
