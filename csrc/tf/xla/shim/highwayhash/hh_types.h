#pragma once
// Shim (see ../README.md): nothing of it is used.
