"""Analysis of the catalogue's functions: numerics audit against a high-precision reference
(:mod:`.numerics`), properties computed from the functions (:mod:`.properties`), and plots
of f and f' (:mod:`.plot`, which needs matplotlib)."""
