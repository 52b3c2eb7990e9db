#ifndef REEL_CYAML_SHIM_H
#define REEL_CYAML_SHIM_H
// libyaml (Debian: libyaml-dev).
#include <yaml.h>
#endif
