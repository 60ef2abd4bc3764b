/**
 * The kernels entry point the tensor ops import: the CPU references first, then the faster backends
 * (see ../index.ts), which make themselves the default where they pass their self-check.
 */
import '../index.js';
