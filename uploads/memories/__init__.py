"""The door to memories.ai: `client` (the only code that calls it) and `sandbox` (a strict
local imitation, standard library only, for tests and demos). The API facts both are
built on: docs/memories-api.md."""
