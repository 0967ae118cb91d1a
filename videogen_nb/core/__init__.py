"""Shared vocabulary; imports nothing else of the package: errors, task states, requests
(and their frozen mappings), geometry (sizes and ratios), media, urls, wire, text, loops."""
