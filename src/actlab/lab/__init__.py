"""The laboratory: offline data, models, a fast multi-seed trainer, sweeps and statistics."""
