#ifndef ONEREC_CLMDB_SHIM_H
#define ONEREC_CLMDB_SHIM_H
#include <lmdb.h>
#endif
