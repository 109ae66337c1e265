"""Compiler options for the project's own code (never for generated code)."""

COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
]
