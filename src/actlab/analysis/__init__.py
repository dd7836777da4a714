"""Analysis of the catalogue's functions: numerics audit against a high-precision reference."""
