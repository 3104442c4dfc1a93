#pragma once
// Shim (see ../README.md): the names xla/printer.h uses, declared only.
#define HH_TARGET_PREFERRED 0
