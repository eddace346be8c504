"""Figures. One submodule per part of the science; each function takes datasets and returns a
matplotlib ``Figure`` (saving is the caller's business), so plots are testable without files."""
