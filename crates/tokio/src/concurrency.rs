//! Concurrency primitives for async code that must hand work to blocking I/O.
