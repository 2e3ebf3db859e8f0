"""Dataset tooling (`deal data ...`): prepare, doctor, synth, pairs."""
