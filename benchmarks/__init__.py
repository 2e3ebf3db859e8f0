"""Speed benchmarks (`deal benchmark-speed`)."""
