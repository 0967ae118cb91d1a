"""Shared vocabulary; imports nothing else of the package: errors, task states, requests, geometry, media, wire."""
