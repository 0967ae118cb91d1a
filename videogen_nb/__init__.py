"""videogen-nb (public names are exported once the layers land)."""
